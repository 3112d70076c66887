"""The ``dnn-lab`` command line: parse arguments, call one function, report.

Only Typer is imported at start-up; each command imports what it needs, so
``--help``, ``validate`` and ``compare`` never pay for TensorFlow. A
``DnnLabError`` becomes one line on stderr and exit code 2; ``--debug`` shows
its traceback too.

The commands live beside this module, one module per kind of work; importing them
registers them on ``app``, in the order ``dnn-lab --help`` lists them.
"""

from dnn_lab.cli.app import app, main
from dnn_lab.errors import EXIT_USER_ERROR

# isort: split
from dnn_lab.cli import training_commands  # noqa: F401  train, validate, datasets

# isort: split
from dnn_lab.cli import results_commands  # noqa: F401  compare, report, show, runs

# isort: split
from dnn_lab.cli import sweep_commands  # noqa: F401  sweep

# isort: split
from dnn_lab.cli import export_commands  # noqa: F401  schema, export

# isort: split
from dnn_lab.cli import ci_commands  # noqa: F401  smoke, check

__all__ = ["app", "main", "EXIT_USER_ERROR"]
