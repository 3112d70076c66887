"""How fit() runs: steps per call, where they loop, XLA or not, deterministic ops.

None of it changes the math: the same mini-batches, in the same order, update the
same weights. What changes is how long the run takes, so the choice weighs the
run's expected cost. An XLA compile costs seconds up front and pays back a share of
every later step; for five epochs of digits it never pays, for fifty epochs of
Fashion-MNIST it does. The decision and its reason land in ``run.json``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from dnn_lab.errors import DnnLabError

# Measured on the 2-core CPU machine (``make bench``): compiling a group of steps with
# XLA took 2.5 to 4.5 s for small dense networks, and XLA then ran each step about a
# fifth faster than TensorFlow's graph executor. Arithmetic without XLA ran at about
# 25 GFLOP/s, plus a fixed cost per step for the executor's bookkeeping.
XLA_COMPILE_SECONDS = {"cpu": 3.5, "gpu": 6.0}
XLA_STEP_SAVING = {"cpu": 0.2, "gpu": 0.3}
GRAPH_FLOPS_PER_SECOND = {"cpu": 25e9, "gpu": 5e12}
GRAPH_STEP_OVERHEAD_SECONDS = {"cpu": 40e-6, "gpu": 60e-6}


@dataclass(frozen=True, kw_only=True)
class Execution:
    """What ``run.json`` records under ``execution``; everything else reads it from here."""

    steps_per_execution: int
    steps_in_graph: bool
    jit_compile: bool
    jit_reason: str
    op_determinism: bool
    precision: str
    threads: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] = field(default_factory=dict)
    # the run (same worker, same setting, another seed) that compiled the step this run
    # trained with instead of compiling its own; see dnn_lab.training.warm_model
    reused_compiled_step: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def keras_steps_per_execution(self) -> int:
        """What ``compile`` is told: 1 when the steps loop inside our own compiled call."""
        return 1 if self.steps_in_graph else self.steps_per_execution


def expected_run_seconds(device_kind: str, steps: int, step_flops: float) -> float:
    """Seconds of training arithmetic without XLA, from the step's size and count."""
    kind = "gpu" if device_kind == "gpu" else "cpu"
    per_step = step_flops / GRAPH_FLOPS_PER_SECOND[kind] + GRAPH_STEP_OVERHEAD_SECONDS[kind]
    return steps * per_step


def decide_jit(
    setting: bool | str, backend: str, device_kind: str, steps: int, step_flops: float
) -> tuple[bool, str]:
    """Whether XLA compiles the step, and why, for ``train.jit_compile``.

    JAX always compiles (without it Keras runs op by op); torch's compile is opt-in.
    On TensorFlow, ``auto`` compiles when the time XLA is expected to save over the
    run exceeds what compiling costs.
    """
    if setting is True or setting is False:
        return setting, f"train.jit_compile: {str(setting).lower()}"
    if backend == "jax":
        return True, "auto: JAX always compiles its step"
    if backend != "tensorflow":
        return False, f"auto: the {backend} backend runs eagerly unless told otherwise"
    kind = "gpu" if device_kind == "gpu" else "cpu"
    plain = expected_run_seconds(kind, steps, step_flops)
    saving = plain * XLA_STEP_SAVING[kind]
    cost = XLA_COMPILE_SECONDS[kind]
    verdict = "pays" if saving > cost else "would not pay"
    reason = (
        f"auto: {steps:,} steps of {step_flops / 1e6:.1f} MFLOP, about {plain:.1f} s of "
        f"arithmetic; XLA would save about {saving:.1f} s for a {cost:.1f} s compile, "
        f"so it {verdict}"
    )
    return saving > cost, reason


def choose_execution(
    *,
    backend: str,
    device: dict[str, Any],
    train,
    samples: int,
    step_flops: float,
    distributed: bool = False,
) -> Execution:
    """How one run executes; see the module docstring for what each choice weighs.

    On a CPU, seeding alone makes a run repeat to the last digit (the test suite checks
    it). On a GPU some kernels use atomics; there TensorFlow's op determinism is switched
    on, and Keras then compiles without XLA. Steps loop inside the compiled call
    (``dnn_lab.training.pipeline``) on one device; data-parallel training and the torch
    backend leave the loop to Keras.
    """
    from dnn_lab.training.pipeline import auto_steps_per_call

    deterministic = train.deterministic
    if deterministic == "auto":
        deterministic = backend == "tensorflow" and device["kind"] == "gpu"
    deterministic = bool(deterministic) and backend == "tensorflow"
    batches = max(1, math.ceil(samples / train.batch_size))
    steps = train.steps_per_execution
    if backend == "torch":  # Keras's torch trainer runs one step per call
        if steps not in ("auto", 1):
            raise DnnLabError(
                f"train.steps_per_execution: the torch backend takes 1 (or auto); received {steps}"
            )
        steps = 1
    elif steps == "auto":
        steps = auto_steps_per_call(max(1, samples // train.batch_size), step_flops)
    steps = min(int(steps), batches)
    if deterministic and train.jit_compile == "auto":
        jit, reason = False, "auto: deterministic ops on the GPU, which XLA does not honour"
    else:
        jit, reason = decide_jit(
            train.jit_compile, backend, device["kind"], batches * train.epochs, step_flops
        )
    return Execution(
        steps_per_execution=steps,
        steps_in_graph=steps > 1 and not distributed,  # torch has 1 step per call
        jit_compile=bool(jit),
        jit_reason=reason,
        op_determinism=deterministic,
        precision=train.precision,
    )
