"""What memory allows: data and models sized before anything is allocated.

A table file too large for memory as float32, an NPZ or IDX header that promises more
than the machine holds, or a model of billions of parameters is refused with the
numbers, exit 2, before the allocation that would end in a MemoryError or the kernel's
out-of-memory kill. The estimates read the file's header or the config, never Keras.
"""

from __future__ import annotations

import os
from pathlib import Path

from dnn_lab.errors import DataError

# Caps what dnn-lab takes as the memory it may use (bytes, or with a K/M/G suffix): for a
# machine shared with others, and for the tests, which check the refusals on small files.
MEMORY_VARIABLE = "DNN_LAB_MEMORY_LIMIT"


def available_memory() -> int | None:
    """Bytes this process may still use: free memory, the cgroup's limit, DNN_LAB_MEMORY_LIMIT.

    None when nothing says (not Linux, no limit): the checks then pass.
    """
    found: list[int] = []
    if text := os.environ.get(MEMORY_VARIABLE, "").strip():
        found.append(parse_bytes(text))
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(max(0, int(limit) - int(used)))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def parse_bytes(text: str) -> int:
    """``2G``, ``512M``, ``1000000``: a size in bytes."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(float(text))
    except ValueError:
        raise DataError(
            f"{MEMORY_VARIABLE}={text!r}: expected a size in bytes, such as 8G or 512M"
        ) from None


def size_text(size: float) -> str:
    """Bytes for a person: ``9.6 GB``, ``840 MB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} bytes"


def check_memory(need: float, what: str, hint: str) -> None:
    """Refuse, before allocating, what would not fit in the memory available.

    Args:
        need: the bytes the work would hold at its peak.
        what: the data and its size, for the message (``d.csv: about 1,000 rows x 3 ...``).
        hint: what the user can do instead.
    """
    available = available_memory()
    if available is None or need <= available:
        return
    raise DataError(
        f"{what}: needs about {size_text(need)} of memory, and {size_text(available)} is "
        f"available{_limit_note()}; {hint}"
    )


def _limit_note() -> str:
    return f" ({MEMORY_VARIABLE} is set)" if os.environ.get(MEMORY_VARIABLE) else ""


# Copies of the parameters while training: the weights, their gradients and, by optimizer,
# its slots (Adam's two moments, RMSprop's average, SGD's momentum when it has one).
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "adamax": 2, "nadam": 2, "lamb": 2, "lion": 1}


def dense_parameters(
    input_shape: tuple[int, ...], units: list[int], task: str, n_classes: int | None
) -> int:
    """The Dense layers' weights and biases, from the widths alone (no model is built)."""
    widths = [_product(input_shape), *units]
    widths.append(max(1, n_classes or 1) if task == "multiclass" else 1)
    return sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))


def check_model_fits(config, input_shape: tuple[int, ...], task: str, n_classes: int | None):
    """Refuse a model whose parameters would not fit in memory while training.

    Args:
        config: the validated config (its model's widths and its optimizer).
        input_shape, task, n_classes: what the data gives the model.

    Returns:
        The number of parameters, for callers that size other things by it.
    """
    units = [layer.units for layer in config.model.hidden_specs()]
    parameters = dense_parameters(input_shape, units, task, n_classes)
    optimizer = config.train.optimizer
    name = str(optimizer if isinstance(optimizer, str) else optimizer.get("name", "")).lower()
    copies = 2 + OPTIMIZER_SLOTS.get(name, 1)
    weights = parameters * 4  # float32
    check_memory(
        weights * copies,
        f"the model has about {parameters:,} parameters (model units {units} on "
        f"{_product(input_shape)} inputs), {size_text(weights)} as float32; "
        f"training holds {copies} copies (weights, gradients, {name or 'optimizer'} state)",
        "use fewer or narrower hidden layers (model.units)",
    )
    return parameters


def _product(shape: tuple[int, ...]) -> int:
    out = 1
    for size in shape:
        out *= int(size)
    return out
