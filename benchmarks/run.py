"""``make bench``: start-up times and training speed, as a markdown table.

Every figure comes from fresh subprocesses, alternated between the contenders in
the same window (the machine is noisy), and is the median of several rounds.
Writes bench-results/latest.md and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DNN_LAB = str(BIN / "dnn-lab")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def wall(command: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def make_run_dirs(count: int, folder: Path) -> None:
    """Copy one real run ``count`` times, for timing readers over many runs."""
    import shutil

    source = folder / "source"
    subprocess.run(
        [
            DNN_LAB,
            "train",
            "configs/adam_relu.yaml",
            "--runs-dir",
            str(source),
            "--set",
            "train.epochs=3",
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        check=True,
    )
    (run,) = source.iterdir()
    for index in range(count):
        shutil.copytree(run, folder / "many" / f"{run.name}-{index}")


def startup(repeats: int) -> list[tuple[str, float, float, float]]:
    rows = []
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dnn-lab --help": [DNN_LAB, "--help"],
        "dnn-lab validate configs/adam_relu.yaml": [DNN_LAB, "validate", "configs/adam_relu.yaml"],
    }
    for label, command in commands.items():
        wall(command, 1)  # warm the file cache
        times = wall(command, repeats)
        rows.append((label, statistics.median(times), min(times), max(times)))
    return rows


def dnn_lab_epochs(epochs: int, runs_dir: Path, extra: list[str]) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        [
            DNN_LAB,
            "train",
            "configs/adam_relu.yaml",
            "--runs-dir",
            str(runs_dir),
            "--set",
            f"train.epochs={epochs}",
            *extra,
        ],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        check=True,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run = max(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    sys.path.insert(0, str(ROOT))
    from dnn_lab.runs import read_history

    rows = read_history(run / "history.csv")
    return {
        "seconds": [r["seconds"] for r in rows],
        "val_accuracy": rows[-1]["val_accuracy"],
        "peak_rss_mb": peak / 1024 if peak > before else None,
    }


def plain_epochs(epochs: int) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "plain_keras.py"), str(epochs)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def training(epochs: int, rounds: int) -> list[dict]:
    contenders = {
        "plain Keras script (model.fit, batch 32)": lambda d: plain_epochs(epochs),
        "dnn-lab train (defaults)": lambda d: dnn_lab_epochs(epochs, d, []),
    }
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    accuracy: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for name, run in contenders.items():
                result = run(Path(scratch) / "runs")
                samples[name] += result["seconds"][1:]  # the first epoch includes tracing
                accuracy[name].append(result["val_accuracy"])
    return [
        {
            "name": name,
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "val_accuracy": statistics.mean(accuracy[name]),
        }
        for name, times in samples.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; `python benchmarks/run.py --epochs {args.epochs} "
        f"--rounds {args.rounds}`",
        "",
    ]
    lines += ["| start-up | median s | min | max |", "| --- | --- | --- | --- |"]
    for label, median, low, high in startup(args.repeats):
        lines.append(f"| `{label}` | {median:.3f} | {low:.3f} | {high:.3f} |")
    lines += [
        "",
        f"Training configs/adam_relu.yaml (digits, 1437 samples, batch 32), seconds per "
        f"epoch after the first, {args.rounds} alternated rounds of {args.epochs} epochs:",
        "",
    ]
    lines += [
        "| trainer | median s/epoch | min | max | speed-up | val accuracy |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    results = training(args.epochs, args.rounds)
    base = results[0]["median"]
    for row in results:
        lines.append(
            f"| {row['name']} | {row['median']:.4f} | {row['min']:.4f} | "
            f"{row['max']:.4f} | {base / row['median']:.2f}x | {row['val_accuracy']:.4f} |"
        )
    text = "\n".join(lines) + "\n"
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "latest.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
