"""The sweep tests' runs with known scores, for the Study tests here."""

from tests.sweeps.conftest import seeded_runs  # noqa: F401  (a fixture, used by name)
