"""A smoke run: does a config still validate, build, learn, save and reload? In seconds.

A CI job cannot train every config to the end; a few steps on a small stratified
subset show what a broken config breaks: a loss that is not finite or does not fall,
a model that does not reload to the same predictions, a parameter count that is not
the summary's. One process imports Keras once and smoke-tests config after config;
configs that compile the same program (the same settings, another seed or name) share
the compiled model, as a sweep's warm worker does (``warm_model``).

Run as ``python -m dnn_lab.training.smoke``: one JSON request per line on stdin, one
JSON result per line on stdout (``dnn_lab.ci.smoke`` drives such workers).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError
from dnn_lab.training.warm_model import WarmModel

PASSED = "passed"
FAILED = "failed"


@dataclass(kw_only=True)
class SmokeRequest:
    """One config to smoke-test, and how."""

    config: str
    steps: int
    samples: int
    data: str = "auto"  # auto, real or stand-in (dnn_lab.data.standin)
    overrides: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SmokeRequest:
        return cls(**data)


@dataclass(kw_only=True)
class SmokeResult:
    """One row of the smoke table: what was run, what it showed, and the verdict."""

    config: str
    name: str | None = None
    verdict: str = FAILED
    reason: str = ""
    params: int | None = None
    steps: int = 0
    loss_first: float | None = None
    loss_last: float | None = None
    seconds: float = 0.0
    data: str | None = None  # real or stand-in
    reused_compiled: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("loss_first", "loss_last"):  # NaN is no JSON number
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = str(out[key])
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SmokeResult:
        data = dict(data)
        for key in ("loss_first", "loss_last"):
            if isinstance(data.get(key), str):
                data[key] = float(data[key])
        return cls(**data)


class _Failed(Exception):
    """A check that failed; its text is the row's reason."""


def smoke(request: SmokeRequest, warm: WarmModel | None = None) -> SmokeResult:
    """Smoke-test one config; a failure of any kind is a failed row, never an exception."""
    started = time.perf_counter()
    result = SmokeResult(config=request.config)
    try:
        _run(request, result, warm or WarmModel())
        result.verdict, result.reason = PASSED, result.reason or "ok"
    except (_Failed, DnnLabError) as exc:
        result.verdict, result.reason = FAILED, str(exc)
    except Exception as exc:  # Keras refusing a model is this config's failure, not the job's
        result.verdict, result.reason = FAILED, f"{type(exc).__name__}: {exc}"
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _run(request: SmokeRequest, result: SmokeResult, warm: WarmModel) -> None:
    from dnn_lab.config.head import resolve_head, resolved
    from dnn_lab.config.loading import load_config
    from dnn_lab.data.standin import smoke_data

    config = load_config(Path(request.config), request.overrides)
    result.name = config.name
    data, result.data = smoke_data(config.data, request.samples, config.seed, request.data)
    if data.task != "regression":
        classes = len({int(c) for c in _class_labels(data.y_train)})
        if classes < 2:
            raise _Failed(
                f"the training labels hold {classes} class: nothing to tell apart, "
                "so the model cannot learn (check data.target and the label column)"
            )
    head = resolve_head(config, data.task, data.n_classes)
    config = resolved(config, head)

    from dnn_lab.training import backend

    backend.configure(config.backend, "cpu")
    backend.seed_everything(config.seed, config.backend)
    backend.set_precision(config.train.precision)  # process-wide: set for every config
    import keras
    import numpy as np

    from dnn_lab.training.model import build_model, parameter_table, summary_text
    from dnn_lab.training.optimizer import build_optimizer

    batch = min(config.train.batch_size, len(data.x_train))
    net = build_model(config, data.input_shape, head)
    optimizer = build_optimizer(config.train, max(1, len(data.x_train) // batch))
    # loss scaling wraps the optimizer in compile(): such a model is never shared
    key = None if config.train.precision == "mixed_float16" else _program_key(config, data, batch)
    taken = warm.take(key, net, optimizer)
    if taken is not None:
        net, result.reused_compiled = taken[0], True
    else:
        # the loss alone: the smoke verdict reads no metric, and each one lengthens the trace;
        # an optimizer built here keeps the first step from tracing twice (once to make
        # its slot variables inside the function, once more to run)
        net.compile(optimizer=optimizer, loss=head.loss, jit_compile=False)
        optimizer.build(net.trainable_variables)
    losses = _train(net, data.x_train, data.y_train, batch, request.steps, config.seed)
    result.steps = len(losses)
    # the first step's loss is the untrained model's (Keras logs it before the update);
    # the last is averaged over the final steps, so one noisy batch decides nothing
    window = max(1, request.steps // 5)
    result.loss_first = losses[0]
    result.loss_last = float(np.mean(losses[-window:]))
    bad = next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)
    if bad is not None:
        raise _Failed(
            f"loss became {losses[bad]} at step {bad + 1} of {request.steps}; is the learning "
            "rate too high? Try a smaller train.optimizer.learning_rate or clipnorm: 1.0"
        )
    if result.loss_last > result.loss_first:
        raise _Failed(
            f"loss rose in {request.steps} steps ({result.loss_first:.4g} -> "
            f"{result.loss_last:.4g}, at most {max(losses):.4g}); is the learning rate too high?"
        )
    if not result.loss_last < result.loss_first:
        raise _Failed(
            f"loss did not fall in {request.steps} steps ({result.loss_first:.4g} -> "
            f"{result.loss_last:.4g}): the model does not learn from this data"
        )
    table = parameter_table(net)
    result.params = table["totals"]["total"]
    shown = _summary_total(summary_text(net))
    if shown != result.params or net.count_params() != result.params:
        raise _Failed(
            f"parameter count {result.params} differs from the summary's {shown} "
            f"(Keras counts {net.count_params()})"
        )
    sample = data.x_train[: min(32, len(data.x_train))]
    before = keras.ops.convert_to_numpy(net(sample, training=False))
    with tempfile.TemporaryDirectory(prefix="dnn-lab-smoke-") as scratch:
        path = Path(scratch) / "model.keras"
        net.save(path)
        loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    after = keras.ops.convert_to_numpy(loaded(sample, training=False))
    if loaded.count_params() != result.params:
        raise _Failed(f"the reloaded model has {loaded.count_params()} parameters, not {shown}")
    if not np.allclose(before, after, rtol=1e-5, atol=1e-6):
        worst = float(np.max(np.abs(before - after)))
        raise _Failed(f"the reloaded model predicts differently (by up to {worst:.3g})")
    warm.keep(key, net, config.name)


def _class_labels(y):
    import numpy as np

    y = np.asarray(y)
    return y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)


def _train(net, x, y, batch: int, steps: int, seed: int) -> list[float]:
    """``steps`` optimizer steps on seeded shuffled batches; the loss of each."""
    import numpy as np

    rng = np.random.default_rng(seed)
    order = np.array([], dtype=np.int64)
    losses: list[float] = []
    for _ in range(steps):
        if len(order) < batch:
            order = np.concatenate([order, rng.permutation(len(x))])
        take, order = order[:batch], order[batch:]
        logs = net.train_on_batch(x[take], y[take], return_dict=True)
        losses.append(float(logs["loss"]))
        if not math.isfinite(losses[-1]):
            break
    return losses


# Train settings a smoke step never uses (callbacks, evaluation, the epoch budget).
_NOT_IN_THE_STEP = (
    "early_stopping",
    "checkpoint",
    "mc_dropout",
    "diagnostics",
    "tensorboard",
    "jit_compile",
    "steps_per_execution",
)


def _program_key(config, data, batch: int) -> str:
    """What decides the compiled train step: the model, loss, optimizer, shapes and batch.

    The seed, the name, the data's source and scaling and the callbacks do not; the epoch
    count does only through a learning-rate schedule.
    """
    settings = config.to_dict()
    train = dict(settings["train"])
    for key in _NOT_IN_THE_STEP:
        train.pop(key, None)
    if train.get("schedule") is None:
        train.pop("epochs", None)
    settings = {"model": settings["model"], "train": train, "backend": settings["backend"]}
    shapes = [list(data.x_train.shape[1:]), list(data.y_train.shape[1:]), str(data.y_train.dtype)]
    return json.dumps({"config": settings, "shapes": shapes, "batch": batch}, default=str)


# The summary's total counts the optimizer's variables too once it has trained; the
# model's own parameters are its trainable and non-trainable ones.
_COUNTS = re.compile(r"^\s*(Trainable|Non-trainable) params:\s*([\d,]+)", re.MULTILINE)


def _summary_total(summary: str) -> int | None:
    found = _COUNTS.findall(summary)
    return sum(int(count.replace(",", "")) for _, count in found) if len(found) == 2 else None


def smoke_all(requests: list[SmokeRequest], on_result=None) -> list[SmokeResult]:
    """Smoke-test each request in this process (Keras imported once), in order.

    Whatever the framework's C++ side prints goes to a scratch file, not the terminal.
    """
    from dnn_lab.training.backend import native_stderr_to

    results = []
    warm = WarmModel()
    with (
        tempfile.TemporaryDirectory(prefix="dnn-lab-smoke-") as scratch,
        native_stderr_to(Path(scratch) / "native.log"),
    ):
        for request in requests:
            results.append(smoke(request, warm))
            if on_result is not None:
                on_result(results[-1])
    return results


def serve(requests, answer) -> None:
    """Smoke-test each request line; ``answer`` gets each result's JSON line."""
    warm = WarmModel()
    for line in requests:
        if line.strip():
            result = smoke(SmokeRequest.from_json(json.loads(line)), warm)
            answer(json.dumps(result.to_json()) + "\n")


def main(argv: list[str]) -> int:
    """``python -m dnn_lab.training.smoke [BACKEND]``: with a backend, the framework is
    imported before the first request, so no config's row counts the import."""
    from dnn_lab.lifetime import end_with_parent

    end_with_parent()
    answers = os.dup(1)  # the driver's pipe; whatever Keras prints goes to stderr
    os.dup2(2, 1)
    if argv:
        from dnn_lab.training import backend

        with contextlib.suppress(DnnLabError):  # each config's row says so
            backend.configure(argv[0], "cpu")
    serve(sys.stdin, lambda text: os.write(answers, text.encode("utf-8")))
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)  # no framework teardown: nothing is left to save
