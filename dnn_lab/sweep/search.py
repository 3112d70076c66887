"""What the runner asks a search: the next trial, and what to make of its results.

The runner knows how to run trials; a search decides which ones. ``FixedPlan`` hands out
the trials a grid or random search planned ahead; ``OptunaSearch``
(:mod:`dnn_lab.sweep.optuna_search`) proposes settings from the results so far;
``HalvingSearch`` (:mod:`dnn_lab.sweep.hyperband`) runs planned trials and prunes all
but the best settings at each rung of epochs.
"""

from __future__ import annotations

from typing import Protocol

from dnn_lab.sweep.state import Preference, SweepState, Trial


class Search(Protocol):
    """The runner's questions to a search, asked from one thread, in this order per trial."""

    def ask(self, state: SweepState, prefer: Preference | None = None) -> Trial | None:
        """The next trial to start (already in ``state.trials``), or None for now.

        ``prefer`` ranks pending trials for the free worker (lowest first: the setting it
        has compiled); a search that hands out planned trials passes it to ``pending``.
        """

    def report(self, trial: Trial, value: float, epoch: int) -> bool:
        """A running trial's monitored value at an epoch; True when it should stop (pruned)."""

    def tell(self, trial: Trial, state: SweepState) -> None:
        """A trial has ended: its status and value are set in ``state``."""

    def wants_more(self, state: SweepState) -> bool:
        """Whether ``ask`` may still give a trial (now or once running trials end)."""


class FixedPlan:
    """Grid and random search: the trials planned when the sweep was made, in order, but
    for ``prefer`` (the runner keeps a setting's seeds on one worker)."""

    def ask(self, state: SweepState, prefer: Preference | None = None) -> Trial | None:
        return state.pending(prefer)

    def report(self, trial: Trial, value: float, epoch: int) -> bool:
        return False

    def tell(self, trial: Trial, state: SweepState) -> None:
        pass

    def wants_more(self, state: SweepState) -> bool:
        return state.pending() is not None
