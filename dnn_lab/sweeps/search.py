"""What the runner asks a search: more trials, and what to make of their results.

The runner knows how to run trials and is the one writer of the sweep's records; a
search decides which trials there are. ``FixedPlan`` adds nothing to the trials a grid
or random search planned ahead; ``OptunaSearch`` (:mod:`dnn_lab.sweeps.optuna_search`)
proposes settings from the results so far; ``HalvingSearch``
(:mod:`dnn_lab.sweeps.hyperband`) judges each rung of epochs and proposes the next. A
search answers with a :class:`SearchUpdate` and never writes a trial or the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dnn_lab.store.status import Status
from dnn_lab.sweeps.state import SweepState, Trial


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A search's decision on a trial that has ended (hyperband: promoted or pruned)."""

    index: int  # the trial's index in the sweep
    status: Status
    message: str


@dataclass(frozen=True, kw_only=True)
class SearchUpdate:
    """What a search adds to a sweep: verdicts on ended trials, and new trials to run."""

    verdicts: tuple[Verdict, ...] = ()
    trials: tuple[Trial, ...] = ()  # numbered on from the sweep's last trial, pending

    def __bool__(self) -> bool:
        return bool(self.verdicts or self.trials)


class Search(Protocol):
    """The runner's questions to a search, asked from one thread."""

    def more(self, state: SweepState) -> SearchUpdate:
        """Asked when a worker is free and no trial is pending: what to add now.

        An empty update when there is nothing (yet: a rung still running), or nothing
        left; the sweep ends once nothing runs, nothing is pending and this is empty.
        """

    def report(self, trial: Trial, value: float, epoch: int) -> bool:
        """A running trial's monitored value at an epoch; True when it should stop (pruned)."""

    def tell(self, trial: Trial, state: SweepState) -> None:
        """A trial has ended: its status and value are set in ``state``."""


class FixedPlan:
    """Grid and random search: the trials planned when the sweep was made, nothing more."""

    def more(self, state: SweepState) -> SearchUpdate:
        return SearchUpdate()

    def report(self, trial: Trial, value: float, epoch: int) -> bool:
        return False

    def tell(self, trial: Trial, state: SweepState) -> None:
        pass
