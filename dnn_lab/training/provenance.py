"""Where a run came from, as ``run.json`` records it: the config's commit, the optimizer.

So that a run can be traced back to the code and the settings that made it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def optimizer_record(optimizer) -> dict[str, Any]:
    """What the optimizer really is, clipping and schedule included, as Keras describes it."""
    from dnn_lab.training.optimizer import clipping

    settings = optimizer.get_config()
    return {"class": type(optimizer).__name__, "clipping": clipping(optimizer), "config": settings}


def git_state(config_path: Path | None) -> dict[str, Any] | None:
    """The commit of the repository holding the config, so the run can be traced to it."""
    if config_path is None:
        return None
    folder = Path(config_path).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "status",
                "--porcelain",
                "--",
                str(Path(config_path).resolve()),
            ],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "config_modified": bool(dirty)}
