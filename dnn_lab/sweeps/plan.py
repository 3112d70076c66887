"""Trial plans: the axes from the command line and the config, grid and random plans.

Everything here is decided before the first trial runs: axes are parsed, merged with
the config's ``sweep:`` section, expanded into trials, and every trial's config is
validated, so that a bad axis value fails at once and nothing is left behind.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnn_lab.config.loading import apply_overrides, parse_yaml, validate_config
from dnn_lab.config.schema import Config, SweepConfig
from dnn_lab.errors import ConfigError
from dnn_lab.store import runs
from dnn_lab.sweeps.state import BASE_FILE, SweepState, Trial, inline

SEED = "seed"  # the one axis that sets the trials' seeds, not their settings
NAME = "name"  # not a setting: trials of two names would be one model trained twice
MAX_GRID_SETTINGS = 10_000  # a larger grid is a mistake more often than a plan

# --------------------------------------------------------------------------- parsing axes


def split_values(text: str) -> list[str]:
    """Split ``a,b,[1,2]`` on the commas outside brackets and quotes."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def parse_grid_axis(text: str) -> tuple[str, list[Any]]:
    """``train.optimizer=sgd,adam`` -> ("train.optimizer", ["sgd", "adam"])."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise ConfigError(f"--grid {text!r}: expected KEY=VALUE,VALUE,...")
    return key.strip(), [parse_yaml(part, f"--grid {key}") for part in split_values(values)]


def parse_distribution(text: str) -> tuple[str, dict[str, list[Any]]]:
    """``train.optimizer.learning_rate=loguniform(1e-4,1e-1)`` -> key, {loguniform: [..]}."""
    key, sep, spec = text.partition("=")
    spec = spec.strip()
    kind, paren, rest = spec.partition("(")
    if not sep or not paren or not rest.endswith(")"):
        raise ConfigError(
            f"--random {text!r}: expected KEY=KIND(ARGS), e.g. model.units=int(16,256) or "
            "train.optimizer.learning_rate=loguniform(1e-4,1e-1)"
        )
    args = [parse_yaml(part, f"--random {key}") for part in split_values(rest[:-1])]
    return key.strip(), {kind.strip(): args}


def merged_sweep(
    config: Config,
    grid: Iterable[str] = (),
    random: Iterable[str] = (),
    search: str | None = None,
    trials: int | None = None,
    repeats: int | None = None,
    workers: int | None = None,
    objectives: list[str] | None = None,
) -> SweepConfig:
    """The config's ``sweep:`` section with the command line's axes added on top."""
    data = config.sweep.model_dump() if config.sweep is not None else {}
    data.setdefault("grid", {})
    data.setdefault("space", {})
    data["grid"].update(dict(parse_grid_axis(text) for text in grid))
    data["space"].update(dict(parse_distribution(text) for text in random))
    if data["space"] and search is None and data.get("search", "grid") == "grid":
        search = "random"
    for key, value in (
        ("search", search),
        ("trials", trials),
        ("repeats", repeats),
        ("workers", workers),
        ("objectives", objectives),
    ):
        if value is not None:
            data[key] = value
    try:
        return SweepConfig.model_validate(data)
    except Exception as exc:  # pydantic ValidationError, reported like any config error
        from pydantic import ValidationError

        from dnn_lab.config.messages import format_validation_error

        if isinstance(exc, ValidationError):
            raise ConfigError(format_validation_error(exc, "sweep")) from None
        raise


def sweep_config_of(state: SweepState) -> SweepConfig:
    """The sweep settings a sweep folder was made with, read back from its state."""
    settings = state.planned // max(1, state.repeats)
    return SweepConfig.model_validate(
        {
            "grid": state.grid,
            "space": state.space,
            "search": state.search,
            "trials": settings if state.search in ("random", "optuna") or state.space else None,
            "repeats": state.repeats,
            "prune": state.prune,
            "min_epochs": state.min_epochs,
            "eta": state.eta,
            "objectives": state.objectives,
        }
    )


# --------------------------------------------------------------------------- planning


def grid_trials(sweep: SweepConfig, base_seed: int) -> list[Trial]:
    """Every combination of the axes, each repeated with seeds base, base+1, ...

    A ``seed`` axis gives the seeds instead of ``base``: each of its values starts a
    run of ``repeats`` seeds (value, value+1, ...). It is the trials' seed, not an
    override, so it never adds settings.
    """
    check_seed_axis(sweep)
    keys = [k for k in sweep.grid if k != SEED]
    combos = list(itertools.product(*(sweep.grid[k] for k in keys))) or [()]
    starts = sweep.grid.get(SEED) or [base_seed]
    trials = []
    for combo in combos:
        for start in starts:
            for repeat in range(sweep.repeats):
                trials.append(
                    Trial(
                        index=len(trials),
                        overrides=dict(zip(keys, combo, strict=True)),
                        seed=start + repeat,
                    )
                )
    return trials


def check_grid_size(sweep: SweepConfig) -> None:
    """Refuse a grid too large to plan, before a single trial is made."""
    sizes = [len(values) for key, values in sweep.grid.items() if key != SEED]
    settings = math.prod(sizes)
    if settings > MAX_GRID_SETTINGS:
        raise ConfigError(
            f"the grid has {settings:,} settings ({' x '.join(map(str, sizes))} values), "
            f"more than {MAX_GRID_SETTINGS:,}: narrow the axes, or sample it with "
            "--search random --trials N"
        )


def check_axes(sweep: SweepConfig) -> None:
    """No axis may make two trials the same run: no ``name`` axis, no value listed twice."""
    if NAME in sweep.grid or NAME in sweep.space:
        raise ConfigError(
            "sweep axis name: a run's name does not change what trains, so each name would "
            "train the same setting with the same seed and count as another seed; name the "
            "sweep with --name, and repeat seeds with --repeats N"
        )
    lists = {k: v for k, v in sweep.grid.items()}
    lists.update({k: s["choice"] for k, s in sweep.space.items() if "choice" in s})
    for key, values in lists.items():
        seen: set[str] = set()
        for value in values:
            text = json.dumps(value, sort_keys=True, default=str)
            if text in seen:
                raise ConfigError(
                    f"sweep axis {key}: the value {inline(value)} is listed twice; each "
                    "value is one setting (repeat a setting over seeds with --repeats N)"
                )
            seen.add(text)


def check_seed_axis(sweep: SweepConfig) -> None:
    """A seed axis is a list of whole numbers, in a grid search only."""
    if SEED in sweep.space or (SEED in sweep.grid and sweep.search != "grid"):
        raise ConfigError(
            f"sweep axis seed: a {sweep.search} search draws settings, not seeds; "
            "repeat each setting over seeds with --repeats N (seeds seed, seed+1, ...)"
        )
    for value in sweep.grid.get(SEED, []):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"sweep axis seed: seeds are whole numbers; received {value!r}")
    seen: dict[int, int] = {}
    for start in sweep.grid.get(SEED, []):
        for seed in range(start, start + sweep.repeats):
            if seed in seen:  # the same run twice would count as two seeds in the statistics
                raise ConfigError(
                    f"sweep axis seed: seed {seed} would run twice (from {seen[seed]} and "
                    f"{start} with {sweep.repeats} repeats); space the seeds at least "
                    f"{sweep.repeats} apart"
                )
            seen[seed] = start


def random_trials(sweep: SweepConfig, base_seed: int) -> list[Trial]:
    """``trials`` settings drawn from the space (grid axes count as choices), seeded.

    A setting drawn again trains the next seeds it has not trained: two trials of one
    setting never share a seed, so each counts as a seed of its own (``draw_notes``).
    """
    import numpy as np

    rng = np.random.default_rng(base_seed)
    trials: list[Trial] = []
    for _ in range(sweep.trials or 1):
        setting = {key: draw(rng, spec) for key, spec in search_space(sweep).items()}
        for seed in next_seeds(trials, setting, base_seed, sweep.repeats):
            trials.append(Trial(index=len(trials), overrides=dict(setting), seed=seed))
    return trials


def next_seeds(trials: list[Trial], setting: dict[str, Any], start: int, count: int) -> list[int]:
    """``count`` seeds from ``start`` on that no trial of ``setting`` has taken yet."""
    label = Trial(index=-1, overrides=setting, seed=0).setting()
    taken = {t.seed for t in trials if t.setting() == label and t.budget is None}
    seeds: list[int] = []
    seed = start
    while len(seeds) < count:
        if seed not in taken:
            seeds.append(seed)
        seed += 1
    return seeds


def draw_notes(trials: list[Trial], repeats: int, search: str) -> list[str]:
    """One line per setting a random or guided search drew more than once, and its seeds."""
    if search == "grid":
        return []
    seeds: dict[str, list[int]] = {}
    first = min((t.budget for t in trials if t.budget is not None), default=None)
    for trial in trials:
        if trial.budget == first:  # hyperband: later rungs train the same seeds again
            seeds.setdefault(trial.setting(), []).append(trial.seed)
    return [
        f"{setting} was drawn {len(found) // max(1, repeats)} times: each draw trains new "
        f"seeds ({', '.join(map(str, found))}), so no seed counts twice"
        for setting, found in seeds.items()
        if len(found) > repeats
    ]


def search_space(sweep: SweepConfig) -> dict[str, dict[str, list[Any]]]:
    """Every axis as a distribution: grid axes become choices."""
    return {**{k: {"choice": v} for k, v in sweep.grid.items()}, **sweep.space}


def draw(rng, spec: dict[str, list[Any]]) -> Any:
    ((kind, args),) = spec.items()
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    if kind == "int":
        return int(rng.integers(args[0], args[1] + 1))
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    return float(rng.uniform(args[0], args[1]))


def planned_trials(sweep: SweepConfig, base_seed: int, epochs: int | None = None) -> list[Trial]:
    """The trials a grid, random or hyperband search starts with; a guided search plans none.

    ``epochs`` (the base config's ``train.epochs``) sets a hyperband search's rungs.
    """
    check_axes(sweep)
    check_seed_axis(sweep)
    if sweep.search == "grid":
        check_grid_size(sweep)
        return grid_trials(sweep, base_seed)
    if sweep.search == "random":
        return random_trials(sweep, base_seed)
    if sweep.search == "hyperband":
        return halving_trials(sweep, base_seed, epochs or 1)
    return []


def halving_trials(sweep: SweepConfig, base_seed: int, epochs: int) -> list[Trial]:
    """A hyperband search's first rung: the grid's settings, or ``trials`` draws.

    Each trains the first rung's epochs (``budget``); ``group`` ties a setting's seeds
    together, since promotion goes by their mean (:mod:`dnn_lab.sweeps.hyperband`).
    """
    from dnn_lab.sweeps.hyperband import halving_rungs

    if "train.epochs" in search_space(sweep):
        raise ConfigError(
            "sweep axis train.epochs: a hyperband search sets the epochs itself, rung by rung "
            "up to the config's train.epochs; remove the axis"
        )
    if sweep.space or sweep.trials is not None:
        trials = random_trials(sweep, base_seed)
        for trial in trials:  # each draw's seeds are neighbours; two equal draws stay two
            trial.group = trial.index // sweep.repeats
    else:
        check_grid_size(sweep)
        trials = grid_trials(sweep, base_seed)
        groups: dict[str, int] = {}
        for trial in trials:
            trial.group = groups.setdefault(trial.setting(), len(groups))
    first = halving_rungs(epochs, sweep.min_epochs, sweep.eta)[0]
    for trial in trials:
        trial.budget = first
    return trials


def planned_runs(sweep: SweepConfig, trials: list[Trial], epochs: int) -> int:
    """How many runs a sweep will make: its trials, or a guided search's settings x seeds."""
    if sweep.search == "hyperband":
        from dnn_lab.sweeps.hyperband import halving_rungs, settings_per_rung

        settings = len({t.group for t in trials})
        rungs = len(halving_rungs(epochs, sweep.min_epochs, sweep.eta))
        return sum(settings_per_rung(settings, rungs, sweep.eta)) * sweep.repeats
    return len(trials) if trials else (sweep.trials or 0) * sweep.repeats


def check_trials(base: dict[str, Any], trials: list[Trial], sweep: SweepConfig) -> None:
    """Validate every trial's config before any of them runs: a bad axis fails at once."""
    samples = list(trials)
    if sweep.search == "optuna":  # settings come later; check the ends of every range
        for bound in (0, -1):
            setting = {
                k: (spec.get("choice") or next(iter(spec.values())))[bound]
                for k, spec in search_space(sweep).items()
            }
            samples.append(Trial(index=-1, overrides=setting, seed=0))
    seen: set[str] = set()
    resolved: dict[str, str] = {}  # the config a setting trains -> the setting
    for trial in samples:
        if trial.setting() in seen:
            continue
        seen.add(trial.setting())
        try:
            config = validate_config(
                apply_overrides(json.loads(json.dumps(base)), trial.set_args())
            ).to_dict()
        except ConfigError as exc:
            raise ConfigError(f"sweep setting {trial.setting()}: {exc}") from None
        config.pop(SEED, None)
        same = resolved.setdefault(json.dumps(config, sort_keys=True), trial.setting())
        if same != trial.setting() and trial.index >= 0:
            raise ConfigError(
                f"sweep settings {same} and {trial.setting()} train the same config; "
                "give each value once"
            )


def trial_plan(config: Config, sweep: SweepConfig) -> list[Trial]:
    """The trials a sweep would run, for ``--dry-run``; validates them all."""
    base = config.model_copy(update={"sweep": None})
    trials = planned_trials(sweep, config.seed, config.train.epochs)
    check_trials(base.to_dict(), trials, sweep)
    return trials


def create_sweep(config: Config, sweep: SweepConfig, runs_dir: Path) -> SweepState:
    """Make the sweep folder, its base config and its trial plan."""
    from dnn_lab.config.head import resolve_head
    from dnn_lab.data.prepare import task_of

    base = config.model_copy(update={"sweep": None})
    trials = trial_plan(config, sweep)
    task, n_classes = task_of(base.data, base.seed)
    head = resolve_head(base, task, n_classes)
    if sweep.objectives and sweep.objectives[0] != head.monitor:
        raise ConfigError(
            f"sweep.objectives: the first objective is the metric the trials are scored by, "
            f"{head.monitor}; received {sweep.objectives[0]}"
        )
    folder = runs.create_run_dir(runs_dir, f"{config.name}-sweep")
    runs.atomic_write_text(folder / BASE_FILE, base.to_yaml())
    planned = planned_runs(sweep, trials, config.train.epochs)
    state = SweepState(
        folder=folder,
        name=config.name,
        search=sweep.search,
        grid=sweep.grid,
        space=sweep.space,
        repeats=sweep.repeats,
        planned=planned,
        seed=config.seed,
        monitor=head.monitor,
        direction=head.direction,
        prune=sweep.prune,
        min_epochs=sweep.min_epochs,
        eta=sweep.eta,
        objectives=sweep.objectives,
        trials=trials,
    )
    state.save()
    return state
