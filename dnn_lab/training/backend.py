"""Keras backend, device and seeds: what must be settled before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, at import, so the backend is chosen here and
every other module imports Keras only after ``configure`` has run.
"""

from __future__ import annotations

import io
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dnn_lab.errors import DnnLabError
from dnn_lab.store import files

_QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "2"}  # TensorFlow's C++ start-up chatter helps nobody here


def configure(backend: str, device: str) -> dict[str, Any]:
    """Select the backend and device; return what was actually used, for ``run.json``."""
    loaded = sys.modules.get("keras")
    if loaded is not None:
        current = loaded.config.backend()
        if current != backend:
            raise DnnLabError(
                f"backend: Keras is already running on {current!r} in this process; "
                f"cannot switch to {backend!r} (start a new process)"
            )
    os.environ["KERAS_BACKEND"] = backend
    for key, value in _QUIET_TF.items():
        os.environ.setdefault(key, value)
    if backend == "jax" and device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"
    cache = compilation_cache_dir()
    if backend == "tensorflow" and cache is not None and "tensorflow" not in sys.modules:
        flags = os.environ.get("TF_XLA_FLAGS", "")
        if "tf_xla_persistent_cache_directory" not in flags:
            cache_flag = f"--tf_xla_persistent_cache_directory={cache / 'xla'}"
            os.environ["TF_XLA_FLAGS"] = f"{flags} {cache_flag}".strip()
    try:
        import_keras(backend)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("keras", backend):
            raise  # a broken import (a Ctrl-C in the middle of one, say), not a missing backend
        extra = {"jax": "dnn-lab[jax]", "torch": "dnn-lab[torch]"}.get(backend, "tensorflow")
        raise DnnLabError(
            f"backend: {backend!r} is not installed ({exc.name}); install {extra}"
        ) from None
    _limit_threads(backend)
    if backend != "tensorflow":
        _leave_tensorflow_unloaded()
    if backend == "jax" and cache is not None:
        _use_jax_cache(cache / "jax")
    return _select_device(backend, device)


def _leave_tensorflow_unloaded() -> None:
    """On JAX or torch, keep Keras from importing TensorFlow (about 4 s) for optional checks.

    Keras asks "is TensorFlow available?" when it seeds and when it saves a model, and
    the question itself imports TensorFlow wherever it is installed. A JAX or torch run
    of dnn-lab never builds a TensorFlow object, so the answer is "no" unless something
    has loaded TensorFlow already.
    """
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return
    lazy = getattr(module_utils, "tensorflow", None)
    if lazy is not None and "tensorflow" not in sys.modules and lazy.module is None:
        lazy._available = False


def compilation_cache_dir() -> Path | None:
    """Where compiled programs are kept between processes (``DNN_LAB_CACHE_DIR``, ``none``
    to switch it off); by default the user's cache folder.

    A program compiled once (a JAX step, an XLA cluster) is read back by the next run or
    sweep trial of the same shapes instead of being compiled again: the same program, so
    the same numbers, seconds sooner.
    """
    setting = os.environ.get("DNN_LAB_CACHE_DIR")
    if setting is not None:
        return None if setting.strip().lower() in ("", "none", "off") else Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dnn-lab"


def _use_jax_cache(folder: Path) -> None:
    import jax

    try:
        folder.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (OSError, AttributeError, ValueError):  # a read-only home: compile as before
        pass


def thread_limit() -> int | None:
    """Threads per process a sweep gave this worker, if any (see ``dnn_lab.sweeps.workers``)."""
    value = os.environ.get("DNN_LAB_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def _limit_threads(backend: str) -> None:
    """Keep a sweep's workers from fighting over the cores: workers x threads = cores."""
    limit = thread_limit()
    if limit is None or backend != "tensorflow":
        return  # JAX reads its limit from XLA_FLAGS, set when the worker started
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(limit)
        tf.config.threading.set_inter_op_parallelism_threads(limit)
    except RuntimeError:  # already set, to this same value, by this worker's first trial
        pass


# Packages that Keras and TensorFlow import at start-up when they are installed, only to
# offer features a dnn-lab run never uses: scikit-learn (Keras's scikit-learn wrappers, and
# SciPy with it), pandas (DataFrame inputs), matplotlib (Keras's image-gallery plots) and,
# under TensorFlow, JAX (TensorFlow Lite's JAX converter). Together about 1.5 s of every run.
OPTIONAL_AT_IMPORT = ("sklearn", "pandas", "matplotlib")
OPTIONAL_FOR_BACKEND = {"tensorflow": ("jax", "torch"), "jax": ("torch",), "torch": ("jax",)}


def import_keras(backend: str | None = None):
    """Import Keras without the optional packages it would load for features dnn-lab skips.

    Keras and TensorFlow treat each of them as optional (``try: import ... except
    ImportError``), so they are hidden while Keras imports; afterwards ``import pandas``
    or ``import matplotlib`` works as usual (the curves are drawn with matplotlib). A
    package that is already loaded is left alone. Modules Keras needs only for features
    a dense network never calls load on first use (``dnn_lab.training.deferred``).
    """
    from dnn_lab.training.deferred import deferred_while_importing

    names = OPTIONAL_AT_IMPORT + OPTIONAL_FOR_BACKEND.get(backend or "", ())
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  (import raises ImportError)
    try:
        with deferred_while_importing(backend):
            import keras
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return keras


def _select_device(backend: str, device: str) -> dict[str, Any]:
    gpus = _gpus(backend, hide=(device == "cpu"))
    if device == "gpu" and not gpus:
        raise DnnLabError(
            "device: gpu was asked for but no GPU is visible to "
            f"{backend} (install dnn-lab[gpu] and the NVIDIA driver, or use --device cpu)"
        )
    use_gpu = bool(gpus) and device != "cpu"
    info: dict[str, Any] = {"requested": device, "backend": backend}
    if use_gpu:
        info.update(kind="gpu", name=gpus[0]["name"], count=len(gpus), gpus=gpus)
    else:
        info.update(
            kind="cpu", name=platform.processor() or platform.machine(), count=os.cpu_count()
        )
    return info


def _gpus(backend: str, hide: bool) -> list[dict[str, Any]]:
    if backend == "tensorflow":
        import tensorflow as tf

        physical = tf.config.list_physical_devices("GPU")
        if hide:
            tf.config.set_visible_devices([], "GPU")
            return []
        memory = _nvidia_memory()
        found = []
        for index, gpu in enumerate(physical):
            details = tf.config.experimental.get_device_details(gpu)
            entry = {"name": details.get("device_name", gpu.name)}
            if index < len(memory):
                entry["memory_gb"] = memory[index]
            found.append(entry)
        return found
    if backend == "jax":
        import jax

        if hide:
            return []
        found = []
        for d in jax.devices():
            if d.platform == "gpu":
                stats = d.memory_stats() or {}
                limit = stats.get("bytes_limit")
                found.append(
                    {
                        "name": d.device_kind,
                        **({"memory_gb": round(limit / 2**30, 1)} if limit else {}),
                    }
                )
        return found
    import torch

    if hide or not torch.cuda.is_available():
        return []
    found = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        found.append({"name": props.name, "memory_gb": round(props.total_memory / 2**30, 1)})
    return found


def _nvidia_memory() -> list[float]:
    """Total memory of each GPU in GiB, from nvidia-smi when it is there."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return [round(float(line) / 1024, 1) for line in out.split() if line.strip()]
    except (OSError, ValueError, subprocess.SubprocessError):
        return []


def seed_everything(seed: int, backend: str, op_determinism: bool = False) -> None:
    """Same seed, same split, weights and shuffling."""
    with_tensorflow = backend == "tensorflow" or "tensorflow" in sys.modules
    if not _seed_as_keras_does(seed, backend, with_tensorflow):
        import keras

        keras.utils.set_random_seed(seed)
    if backend == "tensorflow" and op_determinism:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _seed_as_keras_does(seed: int, backend: str, with_tensorflow: bool) -> bool:
    """``keras.utils.set_random_seed``'s steps, in its order, but for two of them.

    - Without TensorFlow loaded, it is not imported (4 s on JAX): Keras seeds it for
      ``tf.data`` pipelines that a JAX or torch run of dnn-lab never builds.
    - With it, its seed is set as ``tf.random.set_seed`` sets it (the eager context's
      global seed and its generator of op seeds) without emptying the cache of
      instantiated kernels: a kept compiled step (a notebook's next run, a sweep worker's
      next seed) would otherwise be instantiated again at its first call, 0.15-0.3 s. That
      cache holds the state of TensorFlow's stateful random ops only, which Keras never
      uses (its random numbers come from stateless ops and its own seed variables).

    False when Keras or TensorFlow keep these elsewhere: the caller seeds as Keras does.
    """
    import random

    import numpy as np

    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils

        if with_tensorflow:
            from tensorflow.python.eager import context
    except ImportError:
        return False
    eager = context.context() if with_tensorflow else None
    if with_tensorflow and not (
        context.executing_eagerly() and hasattr(eager, "_seed") and hasattr(eager, "_rng")
    ):
        return False
    try:
        global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    except AttributeError:
        return False
    random.seed(seed)
    np.random.seed(seed)
    if eager is not None:
        eager._seed, eager._rng = seed, random.Random(seed)  # what set_seed sets, cache aside
    if backend == "torch":
        import torch

        torch.manual_seed(seed)
    return True


def set_precision(policy: str) -> None:
    import keras

    keras.mixed_precision.set_global_policy(policy)


@contextmanager
def distribution(backend: str, devices: str, device: dict[str, Any]) -> Iterator[dict]:
    """Build and compile inside this to train one model data-parallel over every GPU."""
    if devices != "all":
        yield {"strategy": "single device"}
        return
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        with strategy.scope():
            yield {"strategy": "MirroredStrategy", "replicas": strategy.num_replicas_in_sync}
        return
    if backend == "jax":
        import jax
        import keras

        chosen = jax.devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=chosen))
        try:
            yield {"strategy": "DataParallel", "replicas": len(chosen)}
        finally:
            keras.distribution.set_distribution(None)
        return
    raise DnnLabError("devices: all needs the tensorflow or jax backend")


def versions(backend: str) -> dict[str, str]:
    import keras
    import numpy

    found = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "backend": backend,
    }
    for module in ("tensorflow", "jax", "torch", "sklearn"):
        if module in sys.modules:
            found[module] = getattr(sys.modules[module], "__version__", "?")
    found["platform"] = platform.platform()
    return found


@contextmanager
def native_stderr_to(path: Path) -> Iterator[Path | None]:
    """Send C++ log lines (file descriptor 2) to ``path``; Python's stderr stays where it was.

    TensorFlow prints its start-up chatter before ``TF_CPP_MIN_LOG_LEVEL`` applies,
    and it would bury the progress display. Where stderr is not descriptor 2
    (a test runner capturing output), nothing is diverted.
    """
    try:
        sys.stderr.flush()
        diverted = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        diverted = False
    if not diverted:
        yield None
        return
    saved = os.dup(2)
    log = files.open_for_writing(path)
    os.dup2(log, 2)
    os.close(log)
    python_stderr = sys.stderr
    sys.stderr = io.TextIOWrapper(
        io.FileIO(os.dup(saved), "w"),
        encoding=python_stderr.encoding,
        errors="backslashreplace",
        line_buffering=True,
    )
    try:
        yield Path(path)
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)
