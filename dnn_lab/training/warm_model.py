"""A sweep worker's compiled model, kept for the next trial that differs only in its seed.

Once the framework is loaded, tracing and compiling the train step is most of a short
trial (0.3-0.5 s of a 0.8 s trial). Trials of one setting with other seeds run the same
program: what differs (starting weights, optimizer state, dropout seeds) are values in
variables. So a worker keeps its last trial's compiled model. The next trial builds its
own model and optimizer exactly as it would alone (its seed, its initializers), copies
every variable into the kept model and trains that; its history is the one it gives
alone, digit for digit (``tests/sweeps/test_workers.py``).
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass
from typing import Any

# Settings under which a kept model is never reused: other backends and multi-device
# runs keep state outside the variables copied here, the diagnostics probe compiles
# functions of its own around the model, and loss scaling wraps the optimizer. Only a
# trial that completed leaves its model to the next.
REUSABLE_BACKENDS = ("tensorflow", "jax")


def program_key(config, data, execution, steps) -> str | None:
    """What decides the compiled program: everything but the seed and the run's name.

    None when a run must always compile its own.
    """
    if (
        config.backend not in REUSABLE_BACKENDS
        or config.devices == "all"
        or config.train.diagnostics
        or config.train.precision == "mixed_float16"  # compile() wraps the optimizer
    ):
        return None
    settings = config.to_dict()
    settings.pop("seed", None)
    settings.pop("name", None)
    shapes = {
        name: [list(array.shape), str(array.dtype)]
        for name, array in (
            ("x_train", data.x_train),
            ("y_train", data.y_train),
            ("x_val", data.x_val),
            ("y_val", data.y_val),
            ("x_test", data.x_test),
            ("y_test", data.y_test),
        )
        if array is not None
    }
    chosen = execution.to_json()
    chosen.pop("threads", None)  # set once per process, not part of the program
    return json.dumps(
        {
            "config": settings,
            "data": shapes,
            "execution": chosen,
            "steps": [steps.samples, steps.batch_size, steps.per_call],
        },
        sort_keys=True,
        default=str,
    )


@dataclass
class _Kept:
    key: str
    model: Any
    source: str  # the run that compiled it, for run.json


class WarmModel:
    """At most one compiled model, and the key of the program it runs."""

    def __init__(self) -> None:
        self._kept: _Kept | None = None

    def take(self, key: str | None, fresh, optimizer) -> tuple[Any, str] | None:
        """The kept model holding ``fresh``'s weights and ``optimizer``'s starting state, and
        the run that compiled it; None when ``key`` asks for another program."""
        kept, self._kept = self._kept, None  # taken: a trial that fails leaves nothing behind
        if kept is None or key is None or kept.key != key:
            return None
        optimizer.build(fresh.trainable_variables)
        target_optimizer = kept.model.optimizer
        pairs = list(zip(kept.model.variables, fresh.variables, strict=False))
        pairs += list(zip(target_optimizer.variables, optimizer.variables, strict=False))
        if (
            len(kept.model.variables) != len(fresh.variables)
            or len(target_optimizer.variables) != len(optimizer.variables)
            or any(_shape(a) != _shape(b) for a, b in pairs)
        ):
            return None
        for target, value in pairs:
            target.assign(value.value)
        kept.model.reset_metrics()
        kept.model.__dict__.pop("_eval_epoch_iterator", None)  # the last trial's validation
        kept.model.stop_training = False
        kept.model.name = fresh.name  # the trial's own name, in its summary and saved model
        return kept.model, kept.source

    def keep(self, key: str | None, model, source: str) -> None:
        self._kept = _Kept(key, model, source) if key is not None else None


def _shape(variable) -> tuple[tuple[int, ...], str]:
    return tuple(variable.shape), str(variable.dtype)


def fresh_keras_state() -> None:
    """What a new process would have: no layers, names or graphs left from the last run or trial.

    That is Keras's global state (layer names, seed generators, dtype policy), which
    ``clear_session`` resets. On TensorFlow it also empties the runtime's kernel cache,
    and the kept compiled step would then be instantiated again at its first call (0.2 s
    of every warm run); that cache holds no state a run can see (see
    ``backend.seed_everything``), so there only Keras's global state is reset.
    """
    if "keras" not in sys.modules:
        return
    import keras

    try:
        from keras.src.backend.common import global_state
    except ImportError:
        global_state = None
    trackers = ("GLOBAL_STATE_TRACKER", "GLOBAL_SETTINGS_TRACKER")
    if keras.config.backend() == "tensorflow" and all(
        hasattr(global_state, name) for name in trackers
    ):
        for name in trackers:  # what clear_session does first, before the cache
            setattr(global_state, name, threading.local())
        return
    # The collector runs on its own; forcing a full pass here cost a third of a second.
    keras.backend.clear_session(free_memory=False)
