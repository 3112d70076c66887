"""Modules Keras imports at start-up for features a dense network never calls, loaded late.

Keras's JAX backend imports JAX's Pallas TPU attention kernels when it loads (about
0.14 s, a twentieth of a short JAX run), for ``dot_product_attention`` on a TPU. While
Keras imports, the kernels' package is a stand-in that gives Keras a placeholder for
each module it takes from it; a placeholder imports the real module (package first, as
usual) the first time something reads from it. The stand-in is gone once Keras has
loaded, so any later ``import`` of the package gets the real one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# package -> the modules of it that Keras imports by name
DEFERRED = {
    "jax.experimental.pallas.ops.tpu.splash_attention": (
        "splash_attention_kernel",
        "splash_attention_mask",
    ),
}


class OnFirstUse(types.ModuleType):
    """Stands for a module: reading any attribute imports the real one and reads it there."""

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self.__name__), attribute)


@contextmanager
def deferred_while_importing(backend: str | None) -> Iterator[None]:
    """Within the block, the packages above (JAX only) load their modules on first use."""
    stand_ins: list[str] = []
    if backend == "jax":
        for package, modules in DEFERRED.items():
            if package in sys.modules or not _importable(package):
                continue
            stand_in = types.ModuleType(package)
            for module in modules:
                setattr(stand_in, module, OnFirstUse(f"{package}.{module}"))
            sys.modules[package] = stand_in
            stand_ins.append(package)
    try:
        yield
    finally:
        for package in stand_ins:
            sys.modules.pop(package, None)


def _importable(package: str) -> bool:
    """Whether ``package`` is installed, found without importing it or its parents."""
    top, *rest = package.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(
        (Path(root).joinpath(*rest) / "__init__.py").is_file()
        for root in spec.submodule_search_locations
    )
