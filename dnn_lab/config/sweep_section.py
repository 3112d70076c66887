"""The ``sweep:`` section of a config: axes, search, trials, seeds, workers. No Keras."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from dnn_lab.config.section import Section
from dnn_lab.direction import is_finite_number
from dnn_lab.errors import short

Distribution = Literal["uniform", "loguniform", "int", "choice"]

COSTS = ("params", "seconds_per_epoch")


class SweepConfig(Section):
    """Many runs of one config: a grid, a random or a guided search, repeated over seeds."""

    grid: dict[str, list[Any]] = Field(default_factory=dict)  # key: [value, value...]
    space: dict[str, dict[Distribution, list[Any]]] = Field(default_factory=dict)
    search: Literal["grid", "random", "optuna", "hyperband"] = "grid"
    # random/optuna: how many settings; hyperband: settings drawn (default: the grid's)
    trials: int | None = Field(None, ge=1, le=100_000)
    repeats: int = Field(1, ge=1, le=1000)  # seeds seed, seed+1, ... per setting
    workers: int | None = Field(None, ge=1, le=256)  # None: one per CPU core, or per GPU
    prune: bool = True  # optuna: stop hopeless trials early
    # hyperband: the first rung's epochs, and 1/eta of the settings go on at each rung
    min_epochs: int = Field(1, ge=1, le=100_000)
    eta: int = Field(3, ge=2, le=100)
    # optuna: several objectives make a multi-objective study (the first is the metric)
    objectives: list[str] | None = None

    @field_validator("grid")
    @classmethod
    def _non_empty_axes(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise PydanticCustomError("dnn_lab", f"axis {key!r} has no values")
        return value

    @field_validator("space")
    @classmethod
    def _ranges(cls, value: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, list[Any]]]:
        for key, spec in value.items():
            if len(spec) != 1:
                raise PydanticCustomError(
                    "dnn_lab",
                    f"{key}: give exactly one of uniform, loguniform, int, choice; "
                    f"received {short(spec)}",
                )
            ((kind, args),) = spec.items()
            if kind == "choice":
                if not args:
                    raise PydanticCustomError("dnn_lab", f"{key}: choice needs values")
                continue
            if len(args) != 2 or not all(is_finite_number(a) for a in args):
                raise PydanticCustomError(
                    "dnn_lab",
                    f"{key}: {kind} takes [low, high], two finite numbers; received {short(args)}",
                )
            low, high = args
            if not low < high:
                raise PydanticCustomError("dnn_lab", f"{key}: {kind} needs low < high")
            if kind == "loguniform" and low <= 0:
                raise PydanticCustomError("dnn_lab", f"{key}: loguniform needs low > 0")
            if kind == "int" and not all(isinstance(a, int) for a in args):
                raise PydanticCustomError("dnn_lab", f"{key}: int takes two integers")
        return value

    @model_validator(mode="after")
    def _search_has_what_it_needs(self) -> SweepConfig:
        if self.objectives is not None:
            if self.search != "optuna":
                raise PydanticCustomError(
                    "dnn_lab", f"sweep.objectives is for search: optuna; received {self.search}"
                )
            if len(set(self.objectives)) != len(self.objectives) or len(self.objectives) < 2:
                raise PydanticCustomError(
                    "dnn_lab",
                    "sweep.objectives: give two or more different objectives, e.g. "
                    f"[val_accuracy, params]; received {short(self.objectives)}",
                )
            if self.objectives[0] in COSTS:
                raise PydanticCustomError(
                    "dnn_lab",
                    "sweep.objectives: the first objective is the validation metric "
                    f"(val_accuracy, val_loss...); received {self.objectives[0]}",
                )
            if any(o not in COSTS for o in self.objectives[1:]):
                raise PydanticCustomError(
                    "dnn_lab",
                    f"sweep.objectives: after the metric come costs, {' or '.join(COSTS)}; "
                    f"received {short(self.objectives[1:])}",
                )
        if self.search == "hyperband":
            if not self.space and not self.grid:
                raise PydanticCustomError(
                    "dnn_lab", "a hyperband search needs sweep.grid or sweep.space to draw from"
                )
            if self.space and self.trials is None:
                raise PydanticCustomError(
                    "dnn_lab",
                    "a hyperband search over ranges needs sweep.trials (how many settings)",
                )
        elif self.search in ("random", "optuna"):
            if not self.space and not self.grid:
                raise PydanticCustomError(
                    "dnn_lab", f"a {self.search} search needs sweep.space (ranges to draw from)"
                )
            if self.trials is None:
                raise PydanticCustomError(
                    "dnn_lab", f"a {self.search} search needs sweep.trials (how many settings)"
                )
        elif self.space:
            raise PydanticCustomError(
                "dnn_lab",
                "sweep.space is for search: random, optuna or hyperband; a grid uses sweep.grid",
            )
        return self
