"""The library face of dnn-lab: train, compare and study from Python or a notebook.

``dnn_lab`` exports these names lazily (``import dnn_lab`` loads none of them); the
CLI's commands are callers of the same functions.
"""

from dnn_lab.api.comparison import Comparison, compare
from dnn_lab.api.run import Run, load_run, runs_table
from dnn_lab.api.study import Study, report, study, sweep
from dnn_lab.api.training import RunInterrupted, train

__all__ = [
    "Comparison",
    "Run",
    "RunInterrupted",
    "Study",
    "compare",
    "load_run",
    "report",
    "runs_table",
    "study",
    "sweep",
    "train",
]
