"""dnn-lab: train, compare and study dense neural networks from YAML configs.

From Python or a notebook::

    import dnn_lab

    run = dnn_lab.train("configs/adam_relu.yaml", set={"train.epochs": 3})
    run.history            # a pandas DataFrame, one row per epoch
    dnn_lab.compare("runs")

Every name below is imported on first use (PEP 562), so ``import dnn_lab`` loads no
framework, no pandas and no matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "train": "dnn_lab.api.training",
    "RunInterrupted": "dnn_lab.api.training",
    "Run": "dnn_lab.api.run",
    "load_run": "dnn_lab.api.run",
    "runs": "dnn_lab.api.run",
    "compare": "dnn_lab.api.comparison",
    "Comparison": "dnn_lab.api.comparison",
    "sweep": "dnn_lab.api.study",
    "study": "dnn_lab.api.study",
    "report": "dnn_lab.api.study",
    "Study": "dnn_lab.api.study",
    "ConfigError": "dnn_lab.errors",
    "ConfigProblem": "dnn_lab.errors",
    "DnnLabError": "dnn_lab.errors",
}
_RENAMED = {"runs": "runs_table"}  # dnn_lab.runs(), beside the dnn_lab.api.run module

__all__ = [
    "Comparison",
    "ConfigError",
    "ConfigProblem",
    "DnnLabError",
    "Run",
    "RunInterrupted",
    "Study",
    "__version__",
    "compare",
    "load_run",
    "report",
    "runs",
    "study",
    "sweep",
    "train",
]

if TYPE_CHECKING:
    from dnn_lab.api.comparison import Comparison, compare
    from dnn_lab.api.run import Run, load_run
    from dnn_lab.api.run import runs_table as runs
    from dnn_lab.api.study import Study, report, study, sweep
    from dnn_lab.api.training import RunInterrupted, train
    from dnn_lab.errors import ConfigError, ConfigProblem, DnnLabError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dnn_lab' has no attribute {name!r}")
    import importlib

    found = importlib.import_module(module)
    value = found if module == f"dnn_lab.{name}" else getattr(found, _RENAMED.get(name, name))
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
