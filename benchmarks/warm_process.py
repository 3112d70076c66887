"""The second ``dnn_lab.train`` in one process (a notebook's next cell), the first, the CLI.

    python benchmarks/warm_process.py [--rounds N]

Each round, in fresh processes, alternating which goes first:

- ``dnn-lab train configs/adam_relu.yaml``: the whole process, Enter to exit;
- one Python process that imports dnn_lab and calls ``dnn_lab.train`` on the same
  config twice, back to back (the second call timed on its own), and once more after a
  two-second pause, as when a user reads one cell's output before running the next.

The first call pays the framework's import and the first compile; the second pays its
epochs and writing, and reuses the first's compiled step (another seed would too).
Prints a markdown section; ``run.py`` puts it in bench-results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DNN_LAB = str(Path(sys.executable).parent / "dnn-lab")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
CONFIG = "configs/adam_relu.yaml"


def child(runs_dir: str) -> None:
    """In the measured process: three calls, each timed by itself."""
    started = time.perf_counter()
    import dnn_lab

    imported = time.perf_counter() - started
    seconds = []
    for pause in (0.0, 0.0, 2.0):
        time.sleep(pause)
        start = time.perf_counter()
        run = dnn_lab.train(CONFIG, runs_dir=runs_dir, quiet=True)
        seconds.append(time.perf_counter() - start)
        if run.status != "completed":
            raise SystemExit(f"{run!r}")
    print(json.dumps({"calls": seconds, "first_with_import": imported + seconds[0]}))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return seconds, done.stdout


def measure(rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "dnn-lab train (whole process)": [],
        "dnn_lab.train, first call in a new process (import included)": [],
        "dnn_lab.train, second call, right after the first": [],
        "dnn_lab.train, third call, 2 s after the second": [],
    }
    with tempfile.TemporaryDirectory(prefix="dnn-lab-bench-") as folder:
        env = {**ENV, "DNN_LAB_CACHE_DIR": str(Path(folder) / "cache")}
        runs_dir = str(Path(folder) / "runs")
        cli = [DNN_LAB, "train", CONFIG, "--runs-dir", runs_dir]
        api = [sys.executable, str(HERE / "warm_process.py"), "--child", runs_dir]
        timed(cli, env)  # fills the compiled-program cache, as a user's earlier run would
        for index in range(rounds):
            order = [("cli", cli), ("api", api)]
            if index % 2:
                order.reverse()
            for kind, command in order:
                seconds, out = timed(command, env)
                if kind == "cli":
                    times["dnn-lab train (whole process)"].append(seconds)
                    continue
                found = json.loads(out.strip().splitlines()[-1])
                names = list(times)[1:]
                values = [found["first_with_import"], *found["calls"][1:]]
                for name, value in zip(names, values, strict=True):
                    times[name].append(value)
    return times


def section(rounds: int) -> list[str]:
    times = measure(rounds)
    lines = [
        f"Training again in one process (`{CONFIG}`, 5 epochs), median of {rounds} alternated "
        "rounds (seconds):",
        "",
        "| what | median s | min - max |",
        "| --- | ---: | ---: |",
    ]
    for name, values in times.items():
        lines.append(
            f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} - {max(values):.2f} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", metavar="RUNS_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print("\n".join(section(args.rounds)))


if __name__ == "__main__":
    main()
