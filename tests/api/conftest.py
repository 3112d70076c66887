"""The sweep tests' runs with known scores, for the Study tests here."""

from tests.sweep.conftest import seeded_runs  # noqa: F401  (a fixture, used by name)
