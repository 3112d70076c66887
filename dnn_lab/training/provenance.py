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


class GitLookup:
    """The commit of the repository holding the config, so the run can be traced to it.

    Both ``git`` commands start at once when the run starts and are read when ``run.json``
    is first written, so the run never waits for them one after the other.
    """

    def __init__(self, config_path: Path | None):
        self._processes: list[subprocess.Popen] = []
        if config_path is None:
            return
        target = Path(config_path).resolve()
        folder = str(target.parent)
        commands = (
            ["git", "-C", folder, "rev-parse", "HEAD"],
            ["git", "-C", folder, "status", "--porcelain", "--", str(target)],
        )
        try:
            for command in commands:
                self._processes.append(
                    subprocess.Popen(
                        command,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                        text=True,
                    )
                )
        except OSError:  # no git here
            self._stop()

    def result(self) -> dict[str, Any] | None:
        """{"commit", "config_modified"}; None outside a repository or without git."""
        if len(self._processes) != 2:
            return None
        outputs = []
        try:
            for process in self._processes:
                out, _ = process.communicate(timeout=GIT_TIMEOUT_SECONDS)
                if process.returncode != 0:
                    return None
                outputs.append(out.strip())
        except (OSError, subprocess.SubprocessError):
            return None
        finally:
            self._stop()
        return {"commit": outputs[0], "config_modified": bool(outputs[1])}

    def _stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        self._processes = []


GIT_TIMEOUT_SECONDS = 5
