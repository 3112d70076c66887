"""``make bench``: training speed against the plain Keras script and the peers, start-up
times, and peak memory, as one markdown table in bench-results/latest.md.

Every figure comes from fresh subprocesses. Contenders are alternated round by round in
the same window, since the machine is noisy, and per-epoch figures are medians over the
epochs after the first (which includes tracing) of every round, with min-max.

    python benchmarks/run.py [--quick] [--rounds N] [--epochs N]

Listing 10,000 and 100,000 runs with and without their index: runs_index.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
DNN_LAB = str(BIN / "dnn-lab")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
OUT = ROOT / "bench-results"


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def matmul_gflops() -> float:
    """The float32 rate this machine reaches in a large matrix product (numpy, best of 5)."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best / 1e9


def run_json(command: list[str]) -> dict:
    """Run a contender script; return the JSON line it prints last."""
    done = subprocess.run(command, cwd=HERE, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_memory_mb(args: list[str], cwd: Path) -> float:
    """The resident peak of one dnn-lab command, as its parent sees it when it has ended.

    Measured from outside: the command ends with ``os._exit``, so nothing inside it could
    report its own peak at exit. A fresh Python starts it and reads the largest child's peak.
    """
    code = (
        "import resource, subprocess, sys\n"
        f"subprocess.run([{DNN_LAB!r}, *{args!r}], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=ENV, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"dnn-lab {args[:2]} failed: {done.stderr[-2000:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def dnn_lab(config: dict, scratch: Path, backend: str) -> dict:
    path = scratch / f"bench-{backend}.yaml"
    if backend == "torch":  # XLA is not torch's; its own compile is a different trade
        config = {**config, "train": {**config["train"], "jit_compile": "auto"}}
    path.write_text(yaml.safe_dump({**config, "backend": backend}))
    runs_dir = scratch / "runs"
    command = [DNN_LAB, "train", str(path), "--runs-dir", str(runs_dir)]
    done = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"dnn-lab ({backend}) failed: {done.stdout[-1500:]}{done.stderr[-1500:]}"
        )
    run = max(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime)
    sys.path.insert(0, str(ROOT))
    from dnn_lab.store.runs import read_history

    rows = read_history(run / "history.csv")
    return {"seconds": [r["seconds"] for r in rows], "val_accuracy": rows[-1]["val_accuracy"]}


def training(
    source: str, units: list[int], epochs: int, rounds: int, peers: bool, diagnostics: bool = False
) -> list[dict]:
    """Alternate every contender ``rounds`` times on one dataset and model."""
    data = (
        {"dataset": "digits"}
        if source == "digits"
        else {"dataset": "npz", "path": source, "scaling": "pixels"}
    )
    config = {
        "name": "bench",
        "seed": 42,
        "data": {**data, "validation_split": 0.2, "split_seed": 42},
        "model": {"units": units, "activation": "relu"},
        # Per-epoch figures stand for long runs, where jit_compile: auto compiles with XLA;
        # a bench of a few epochs would otherwise (rightly) skip the compile.
        "train": {"optimizer": "adam", "batch_size": 32, "epochs": epochs, "jit_compile": True},
    }
    args = [source, str(epochs), ",".join(map(str, units))]
    contenders: dict[str, object] = {
        "plain Keras script, TensorFlow (`model.fit`, batch 32)": lambda s: run_json(
            [sys.executable, "plain_keras.py", *args]
        ),
        "dnn-lab, TensorFlow backend (default)": lambda s: dnn_lab(config, s, "tensorflow"),
    }
    if diagnostics:
        watched = {**config, "train": {**config["train"], "diagnostics": True}}
        contenders["dnn-lab, TensorFlow, with --diagnostics"] = lambda s: dnn_lab(
            watched, s, "tensorflow"
        )
    if have("jax"):
        contenders["dnn-lab, JAX backend"] = lambda s: dnn_lab(config, s, "jax")
    if have("torch"):
        contenders["dnn-lab, torch backend"] = lambda s: dnn_lab(config, s, "torch")
    if peers and have("torch"):
        contenders["hand-written PyTorch loop"] = lambda s: run_json(
            [sys.executable, "torch_loop.py", *args]
        )
    if peers:
        contenders["scikit-learn MLPClassifier (adam)"] = lambda s: run_json(
            [sys.executable, "sklearn_mlp.py", *args]
        )
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    accuracy: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(rounds):
            for name, run in contenders.items():
                result = run(Path(scratch))
                seconds[name] += result["seconds"][1:] or result["seconds"]
                accuracy[name].append(result["val_accuracy"])
    return [
        {
            "name": name,
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "val_accuracy": statistics.mean(accuracy[name]),
        }
        for name, times in seconds.items()
    ]


def training_table(
    title: str, results: list[dict], samples: int, flops: float, peak: float
) -> list[str]:
    base = results[0]["median"]
    lines = [
        title,
        "",
        "| trainer | s/epoch (median) | min - max | vs plain Keras | "
        "samples/s | share of matmul peak | val accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results:
        rate = samples / row["median"]
        share = rate * flops / (peak * 1e9)
        lines.append(
            f"| {row['name']} | {row['median']:.3f} | {row['min']:.3f} - "
            f"{row['max']:.3f} | {base / row['median']:.2f}x | {rate:,.0f} | "
            f"{share:.1%} | {row['val_accuracy']:.4f} |"
        )
    return lines + [""]


def flops_per_sample(inputs: int, units: list[int]) -> float:
    """Forward + backward of a dense net: about 6 multiply-adds per weight per sample."""
    widths = [inputs, *units, 10]
    return 6.0 * sum(a * b for a, b in zip(widths, widths[1:], strict=False))


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, check=True)
    return time.perf_counter() - start


def startup(repeats: int, scratch: Path) -> list[str]:
    many = scratch / "many"
    source = scratch / "source"
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
    for index in range(1000):
        shutil.copytree(run, many / f"{run.name}-{index:04d}")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dnn-lab --help": [DNN_LAB, "--help"],
        "dnn-lab validate configs/adam_relu.yaml": [DNN_LAB, "validate", "configs/adam_relu.yaml"],
        "dnn-lab compare (1,000 runs, --format json)": [
            DNN_LAB,
            "compare",
            str(many),
            "--format",
            "json",
        ],
        "dnn-lab compare (1,000 runs, table)": [DNN_LAB, "compare", str(many)],
        "dnn-lab runs (1,000 runs)": [DNN_LAB, "runs", str(many)],
    }
    lines = ["| start-up | median s | min | max |", "| --- | ---: | ---: | ---: |"]
    for command in commands.values():  # warm the file cache
        subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, check=True)
    measured: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeats):  # alternated, so a noisy moment is shared
        for label, command in commands.items():
            measured[label].append(seconds(command))
    for label, times in measured.items():
        lines.append(
            f"| `{label}` | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |"
        )
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4, help="per round, Fashion-MNIST-shaped")
    parser.add_argument("--repeats", type=int, default=9, help="start-up measurements")
    parser.add_argument("--quick", action="store_true", help="smaller data, one round")
    parser.add_argument(
        "--only-time-to-result", action="store_true", help="just the whole-process timings"
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    sys.path.insert(0, str(HERE))
    from synthetic import write

    n_train = 12_000 if args.quick else 60_000
    fashion = write(OUT / f"fashion_like_{n_train}.npz", n_train=n_train)
    rounds = 1 if args.quick else args.rounds
    from time_to_result import section
    from warm_process import section as warm_section

    if args.only_time_to_result:
        text = "\n".join([*section(max(3, rounds)), *warm_section(max(3, rounds))])
        (OUT / "time-to-result.md").write_text(text)
        print(text)
        return
    peak = matmul_gflops()
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; numpy float32 matmul "
        f"{peak:.0f} GFLOP/s; Python {platform.python_version()}.",
        f"Command: `python benchmarks/run.py{' --quick' if args.quick else ''}` "
        f"(rounds {rounds}, epochs {args.epochs}).",
        "",
    ]
    results = training(str(fashion), [100], args.epochs, rounds, peers=True, diagnostics=True)
    lines += training_table(
        f"Fashion-MNIST-shaped synthetic set ({int(n_train * 0.8):,} training images of 28x28, "
        "784-100-10, Adam, batch 32, validation every epoch):",
        results,
        int(n_train * 0.8),
        flops_per_sample(784, [100]),
        peak,
    )
    digits_epochs = 10 if args.quick else 50
    results = training("digits", [300, 100], digits_epochs, rounds, peers=False)
    lines += training_table(
        f"scikit-learn digits (1,437 training images of 8x8, 64-300-100-10, Adam, batch 32, "
        f"{digits_epochs} epochs):",
        results,
        1437,
        flops_per_sample(64, [300, 100]),
        peak,
    )
    lines += section(max(3, rounds))
    from smoke_time import section as smoke_section

    lines += smoke_section(max(3, rounds))
    lines += warm_section(max(3, rounds))
    from tables import section as tables_section

    lines += tables_section(max(3, rounds), rows=100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as scratch:
        lines += startup(args.repeats, Path(scratch))
        rss = peak_memory_mb(
            ["train", "configs/adam_relu.yaml", "--runs-dir", str(Path(scratch) / "mem")], ROOT
        )
    lines += [
        f"Peak memory (resident) of `dnn-lab train configs/adam_relu.yaml`: {rss:,.0f} MiB.",
        "",
    ]
    from runs_index import section as listing

    lines += listing([10_000] if args.quick else [10_000, 100_000], rounds)
    text = "\n".join(lines)
    (OUT / "latest.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
