"""Guided search with Optuna: TPE proposes settings, the median pruner stops hopeless ones.

Optuna is an optional extra (``dnn-lab[optuna]``); it is imported only here.
Each proposed setting runs ``repeats`` times (seeds seed, seed+1...) and Optuna
is told the mean; pruning watches single-seed settings epoch by epoch.

With ``objectives`` (``--objectives val_accuracy,params``) the study is
multi-objective: Optuna is told the metric and each cost (the parameter count, the
seconds per epoch, means over seeds, both minimized) and TPE looks for the front of
settings no other beats on all of them. Optuna cannot prune a multi-objective trial,
so none is pruned.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dnn_lab.config.schema import SweepConfig
from dnn_lab.errors import DnnLabError
from dnn_lab.store.status import Status
from dnn_lab.sweeps.plan import next_seeds, search_space
from dnn_lab.sweeps.search import SearchUpdate
from dnn_lab.sweeps.state import FINISHED, SweepState, Trial, inline


class OptunaSearch:
    """A :class:`~dnn_lab.sweeps.search.Search` whose settings come from Optuna's TPE."""

    def __init__(self, state: SweepState, sweep: SweepConfig):
        try:
            import optuna
        except ImportError:
            raise DnnLabError(
                "--search optuna needs Optuna: pip install 'dnn-lab[optuna]'"
            ) from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.sweep = sweep
        self.space = search_space(sweep)
        self.costs = list(sweep.objectives[1:]) if sweep.objectives else []
        if sweep.objectives and sweep.objectives[0] != state.monitor:
            raise DnnLabError(
                f"--objectives {','.join(sweep.objectives)}: the first objective is the metric "
                f"the trials are scored by, {state.monitor}; e.g. --objectives "
                f"{state.monitor},{','.join(self.costs)}"
            )
        pruner = (
            optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
            if sweep.prune and sweep.repeats == 1 and not self.costs
            else optuna.pruners.NopPruner()
        )
        self.study = optuna.create_study(
            directions=[state.direction.optuna] + ["minimize"] * len(self.costs),
            sampler=optuna.samplers.TPESampler(seed=state.seed),
            pruner=pruner,
        )
        self.handles: dict[int, Any] = {}  # group -> optuna trial
        self._replay(state)

    # ----------------------------------------------------------------- the space

    def _distribution(self, spec: dict[str, list[Any]]):
        d = self.optuna.distributions
        ((kind, args),) = spec.items()
        if kind == "choice":
            return d.CategoricalDistribution([inline(v) for v in args])
        if kind == "int":
            return d.IntDistribution(args[0], args[1])
        return d.FloatDistribution(args[0], args[1], log=kind == "loguniform")

    def _decode(self, key: str, raw: Any) -> Any:
        ((kind, args),) = self.space[key].items()
        if kind == "choice":
            return next(v for v in args if inline(v) == raw)
        return raw

    def _encode(self, key: str, value: Any) -> Any:
        return inline(value) if "choice" in self.space[key] else value

    # ----------------------------------------------------------------- resume

    def _replay(self, state: SweepState) -> None:
        """Teach a fresh study the settings an interrupted sweep already finished."""
        groups: dict[int, list[Trial]] = {}
        for trial in state.trials:
            if trial.group is not None:
                groups.setdefault(trial.group, []).append(trial)
        distributions = {k: self._distribution(s) for k, s in self.space.items()}
        for group, members in sorted(groups.items()):
            params = {k: self._encode(k, v) for k, v in members[0].overrides.items()}
            if all(t.status in FINISHED for t in members):
                values = self._values(members, state)
                done = self.optuna.trial.create_trial(
                    params=params,
                    distributions=distributions,
                    values=values,
                    state=self.optuna.trial.TrialState.COMPLETE
                    if values is not None
                    else self.optuna.trial.TrialState.PRUNED,
                )
                self.study.add_trial(done)
            else:  # run again with the same setting
                self.study.enqueue_trial(params)
                self.handles[group] = self.study.ask(distributions)

    # ----------------------------------------------------------------- the runner's calls

    def settings_asked(self, state: SweepState) -> int:
        return len({t.group for t in state.trials if t.group is not None})

    def more(self, state: SweepState) -> SearchUpdate:
        """A new setting from the study, one trial per seed; empty once all are asked."""
        if self.settings_asked(state) >= (self.sweep.trials or 0):
            return SearchUpdate()
        handle = self.study.ask()
        setting = {}
        for key, spec in self.space.items():
            ((kind, args),) = spec.items()
            if kind == "choice":
                raw = handle.suggest_categorical(key, [inline(v) for v in args])
            elif kind == "int":
                raw = handle.suggest_int(key, args[0], args[1])
            else:
                raw = handle.suggest_float(key, args[0], args[1], log=kind == "loguniform")
            setting[key] = self._decode(key, raw)
        group = self.settings_asked(state)
        self.handles[group] = handle
        # TPE may propose a setting again: it then trains seeds that setting has not
        seeds = next_seeds(state.trials, setting, state.seed, self.sweep.repeats)
        new = [
            Trial(index=len(state.trials) + r, overrides=dict(setting), seed=seed, group=group)
            for r, seed in enumerate(seeds)
        ]
        return SearchUpdate(trials=tuple(new))

    def report(self, trial: Trial, value: float, epoch: int) -> bool:
        """Record an epoch's value; True when the pruner says stop."""
        handle = self.handles.get(trial.group)
        if handle is None or self.sweep.repeats != 1 or self.costs or not math.isfinite(value):
            return False
        handle.report(value, epoch)
        return handle.should_prune()

    def tell(self, trial: Trial, state: SweepState) -> None:
        handle = self.handles.get(trial.group)
        if handle is None:
            return
        members = [t for t in state.trials if t.group == trial.group]
        if not all(t.status in FINISHED for t in members):
            return
        if handle.number in {
            t.number for t in self.study.get_trials(deepcopy=False) if t.state.is_finished()
        }:
            return
        states = self.optuna.trial.TrialState
        if all(t.status == Status.PRUNED for t in members):
            self.study.tell(handle, state=states.PRUNED)
            return
        values = self._values(members, state)
        if values is None:
            self.study.tell(handle, state=states.FAIL)
        else:
            self.study.tell(handle, values if self.costs else values[0])

    def _values(self, members: list[Trial], state: SweepState) -> list[float] | None:
        """The objectives of a finished setting: the metric's mean, then each cost's mean."""
        kept = [t for t in members if t.status != Status.PRUNED]
        values = [_mean([t.value for t in kept])]
        for cost in self.costs:
            values.append(_mean([_cost(t, cost, state) for t in kept if t.value is not None]))
        return None if any(v is None for v in values) else values


def _cost(trial: Trial, cost: str, state: SweepState) -> float | None:
    """A trial's parameter count or seconds per epoch, read from its run directory."""
    from dnn_lab.store import runs

    if not trial.run_dir:
        return None
    run = runs.try_read_run(state.folder / Path(trial.run_dir).name)
    if run is None:
        return None
    if cost == "params":
        return run.totals.get("total")
    return run.scores.seconds_per_epoch


def _mean(values: list[float | None]) -> float | None:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None
