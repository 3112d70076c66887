"""Time to result: whole processes, from pressing Enter to the finished result.

    python benchmarks/time_to_result.py [--rounds N]

Two jobs, each against what it replaces, the contenders alternated round by round:

- one short run: ``dnn-lab train configs/adam_relu.yaml`` (digits, 64-100-10, 5 epochs)
  against ``plain_script.py``, a plain Keras script doing the same job;
- a 12-trial study: ``dnn-lab sweep configs/adam_relu.yaml --grid train.optimizer=sgd,adam
  --grid model.activation=relu,tanh --repeats 3`` against ``plain_loop.py``, the same 12
  fits as one in-process loop of plain Keras.

dnn-lab's compiled-program cache lives in a folder of the benchmark's own: "warm" rows
run after the same job ran once (as a user's second run does), "cold" rows empty it
before every run. Prints a markdown section; ``run.py`` puts it in bench-results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
SWEEP_AXES = [
    "--grid",
    "train.optimizer=sgd,adam",
    "--grid",
    "model.activation=relu,tanh",
    "--repeats",
    "3",
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return seconds


def contenders(scratch: Path) -> dict[str, dict]:
    """name -> {command, env, cold (empty the cache first), job}."""
    cache = scratch / "cache"
    warm = {**ENV, "DNN_LAB_CACHE_DIR": str(cache / "warm")}
    cold = {**ENV, "DNN_LAB_CACHE_DIR": str(cache / "cold")}
    runs = str(scratch / "runs")
    train = [DNN_LAB, "train", "configs/adam_relu.yaml", "--runs-dir", runs]
    sweep = [DNN_LAB, "sweep", "configs/adam_relu.yaml", *SWEEP_AXES, "--runs-dir", runs]
    py = sys.executable
    return {
        "plain Keras script (TensorFlow)": {
            "job": "run",
            "command": [py, str(HERE / "plain_script.py"), str(scratch)],
            "env": ENV,
        },
        "dnn-lab train (TensorFlow, default)": {"job": "run", "command": train, "env": warm},
        "dnn-lab train --backend jax (cache warm)": {
            "job": "run",
            "command": [*train, "--backend", "jax"],
            "env": warm,
        },
        "dnn-lab train --backend jax (cache cold)": {
            "job": "run",
            "command": [*train, "--backend", "jax"],
            "env": cold,
            "cold": True,
        },
        "plain Keras loop, 12 fits in one process (TensorFlow)": {
            "job": "sweep",
            "command": [py, str(HERE / "plain_loop.py")],
            "env": ENV,
        },
        "dnn-lab sweep, 12 trials (TensorFlow, default)": {
            "job": "sweep",
            "command": sweep,
            "env": warm,
        },
        "dnn-lab sweep, 12 trials, --set backend=jax (cache warm)": {
            "job": "sweep",
            "command": [*sweep, "--set", "backend=jax"],
            "env": warm,
        },
    }


def measure(rounds: int) -> dict[str, tuple[str, list[float]]]:
    with tempfile.TemporaryDirectory(prefix="dnn-lab-bench-") as folder:
        scratch = Path(folder)
        entries = contenders(scratch)
        # one untimed pass fills the warm cache, as a user's earlier run would have
        for entry in entries.values():
            if not entry.get("cold") and "DNN_LAB_CACHE_DIR" in entry["env"]:
                timed(entry["command"], entry["env"])
        times: dict[str, list[float]] = {name: [] for name in entries}
        for index in range(rounds):
            order = list(entries.items())
            if index % 2:
                order.reverse()  # alternate who goes first
            for name, entry in order:
                if entry.get("cold"):
                    shutil.rmtree(entry["env"]["DNN_LAB_CACHE_DIR"], ignore_errors=True)
                times[name].append(timed(entry["command"], entry["env"]))
            shutil.rmtree(scratch / "runs", ignore_errors=True)
    return {name: (entries[name]["job"], values) for name, values in times.items()}


def table(times: dict[str, tuple[str, list[float]]], rounds: int) -> list[str]:
    """One table per job; the first contender of each (the plain one) is the baseline."""
    jobs: dict[str, list] = {"run": [], "sweep": []}
    for name, (job, values) in times.items():
        jobs[job].append((name, values))
    lines = [
        f"Time to result, whole processes, median of {rounds} alternated rounds (seconds):",
        "",
    ]
    for job, rows in jobs.items():
        baseline = statistics.median(rows[0][1])
        lines += [
            f"| {'one short run' if job == 'run' else '12-trial study'} | median s | "
            "min - max | vs plain |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name, values in rows:
            median = statistics.median(values)
            lines.append(
                f"| {name} | {median:.2f} | {min(values):.2f} - {max(values):.2f} | "
                f"{median / baseline:.2f}x |"
            )
        lines.append("")
    return lines


def where_the_time_goes(scratch: Path) -> list[str]:
    """One default run's timing section, as ``dnn-lab show`` prints it."""
    env = {**ENV, "DNN_LAB_CACHE_DIR": str(scratch / "cache")}
    timed([DNN_LAB, "train", "configs/adam_relu.yaml", "--runs-dir", str(scratch)], env)
    (run,) = [p for p in scratch.iterdir() if p.name.endswith("adam_relu")]
    timing = json.loads((run / "metrics.json").read_text())["timing"]
    header = " | ".join(timing)
    values = " | ".join(f"{v:.2f}" for v in timing.values())
    return [
        "Where the time of `dnn-lab train configs/adam_relu.yaml` goes (metrics.json `timing`, s):",
        "",
        f"| {header} |",
        "|" + " ---: |" * len(timing),
        f"| {values} |",
        "",
    ]


def section(rounds: int) -> list[str]:
    lines = table(measure(rounds), rounds)
    with tempfile.TemporaryDirectory(prefix="dnn-lab-bench-") as folder:
        lines += where_the_time_goes(Path(folder))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(section(args.rounds)))


if __name__ == "__main__":
    main()
