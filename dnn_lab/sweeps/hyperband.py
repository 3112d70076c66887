"""Budget-aware search: successive halving over epochs, decided on the mean over seeds.

Every setting first trains a few epochs (the first rung); the best ``1/eta`` of them,
by the mean over their seeds, train again with ``eta`` times the epochs, and so on up
to the base config's ``train.epochs``. With ``train.epochs: 9``, ``min_epochs: 1`` and
``eta: 3`` nine settings train 1 epoch, three of them 3 epochs and one 9 epochs: 27
epochs per seed where the grid spends 81.

A rung's trials are ordinary trials with ``train.epochs`` set to the rung's budget
(``Trial.budget``), each a full run directory. Promoted settings train again from the
start with the larger budget rather than continuing: a run has no resumable state, and
it keeps every rung's result a plain run that ``compare`` reads. Pruning a running trial
instead would depend on when the runner looks (several times a second): on a small
dataset an epoch is shorter than that, and nothing would be saved.

After each rung the trials of settings that go on are judged ``promoted``, the others
``pruned``; the last rung's stay ``completed``. The rungs are synchronous: the next one
starts when every trial of this one has ended. The search only proposes (verdicts and
the next rung's trials, see :class:`~dnn_lab.sweeps.search.SearchUpdate`); the runner
records them. No Optuna needed.
"""

from __future__ import annotations

import math

from dnn_lab.direction import Direction
from dnn_lab.store.status import Status
from dnn_lab.sweeps.search import SearchUpdate, Verdict
from dnn_lab.sweeps.state import BASE_FILE, FINISHED, SweepState, Trial


def halving_rungs(epochs: int, min_epochs: int = 1, eta: int = 3) -> list[int]:
    """The budgets in epochs: ``epochs / eta**s``, ..., ``epochs / eta``, ``epochs``.

    ``s`` is the most rungs that keep the first at ``min_epochs`` or more; each budget is
    rounded, and never below ``min_epochs``.
    """
    if epochs <= min_epochs:
        return [epochs]
    steps = int(math.floor(math.log(epochs / min_epochs, eta) + 1e-9))
    rungs = [max(min_epochs, round(epochs / eta ** (steps - i))) for i in range(steps + 1)]
    return sorted(set(rungs))


def settings_per_rung(settings: int, rungs: int, eta: int) -> list[int]:
    """How many settings train at each rung: n, n // eta, ... (never fewer than one)."""
    counts = [settings]
    for _ in range(rungs - 1):
        counts.append(max(1, counts[-1] // eta))
    return counts


class HalvingSearch:
    """A :class:`~dnn_lab.sweeps.search.Search` that promotes the best 1/eta at each rung."""

    def __init__(self, state: SweepState, epochs: int):
        self.direction = state.direction or Direction.MIN
        self.eta = max(2, state.eta)
        self.rungs = halving_rungs(epochs, max(1, state.min_epochs), self.eta)

    # ----------------------------------------------------------------- the runner's calls

    def more(self, state: SweepState) -> SearchUpdate:
        """Once the current rung is over: its verdicts and the next rung's trials."""
        if not self._rung_over(state):
            return SearchUpdate()  # its trials are still running; the next rung may follow
        return self._next_rung(state)

    def report(self, trial: Trial, value: float, epoch: int) -> bool:
        return False  # budgets are set up front: nothing to stop mid-run

    def tell(self, trial: Trial, state: SweepState) -> None:
        pass  # decisions wait for the whole rung (``ask``)

    # ----------------------------------------------------------------- the rule

    def _current(self, state: SweepState) -> list[Trial]:
        budget = max((t.budget or 0 for t in state.trials), default=0)
        return [t for t in state.trials if (t.budget or 0) == budget]

    def _rung_over(self, state: SweepState) -> bool:
        return all(t.status in FINISHED for t in self._current(state))

    def means(self, trials: list[Trial]) -> dict[int, float]:
        """Each setting's mean over its seeds' scores at this rung (worst when it has none)."""
        worst = -math.inf if self.direction.higher_is_better else math.inf
        scores: dict[int, list[float]] = {}
        for trial in trials:
            values = scores.setdefault(trial.group if trial.group is not None else -1, [])
            if trial.value is not None and math.isfinite(trial.value):
                values.append(trial.value)
        return {g: sum(v) / len(v) if v else worst for g, v in scores.items()}

    def _next_rung(self, state: SweepState) -> SearchUpdate:
        """Judge the finished rung and propose the next; empty when none follows."""
        current = self._current(state)
        if not current:
            return SearchUpdate()
        budget = current[0].budget or self.rungs[-1]
        later = [r for r in self.rungs if r > budget]
        if not later or any(t.status == Status.PROMOTED for t in current):
            return SearchUpdate()  # the last rung, or decided already (a resumed sweep)
        means = self.means(current)
        order = sorted(means, key=lambda g: (self.direction.sort_key(means[g]), g))
        # a setting whose every seed failed or diverged has nothing to go on with
        keep = [g for g in order[: max(1, len(order) // self.eta)] if math.isfinite(means[g])]
        verdicts = [
            Verdict(index=t.index, status=Status.PROMOTED, message=f"promoted to {later[0]} epochs")
            if t.group in keep
            else Verdict(
                index=t.index,
                status=Status.PRUNED,
                message=f"pruned after {budget} epochs: its setting's mean {state.monitor} "
                f"{means[t.group]:.4f} was not among the best {len(keep)} of {len(order)}",
            )
            for t in current
            if t.status == Status.COMPLETED
        ]
        going_on = [t for group in keep for t in current if t.group == group]
        trials = [
            Trial(
                index=len(state.trials) + number,
                overrides=dict(trial.overrides),
                seed=trial.seed,
                group=trial.group,
                budget=later[0],
            )
            for number, trial in enumerate(going_on)
        ]
        return SearchUpdate(verdicts=tuple(verdicts), trials=tuple(trials))


def epochs_of(state: SweepState) -> int:
    """The base config's ``train.epochs``: the last rung's budget."""
    from dnn_lab.config.loading import load_config

    return load_config(state.folder / BASE_FILE).train.epochs
