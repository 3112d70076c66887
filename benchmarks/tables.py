"""A million-row table: dnn-lab's loading against pandas, and the memory of a run on it.

    python benchmarks/tables.py [--rounds N] [--rows N]

A 1,000,000 x 20 numeric table (19 features with six decimals, a 0/1 target), generated
from a fixed seed into bench-results/ as CSV and Parquet. Each contender is a fresh
process doing one job, the two alternated round by round in the same window:

- dnn-lab: ``prepare_data`` on the file (parse, type every column, check, split, scale:
  float32 arrays ready for ``fit``);
- pandas: ``pandas.read_csv`` (or ``read_parquet``), then the features as float32.

"load" is the seconds from the process's first line to the arrays (imports included, as
a user waits for them); "process" the whole process; "peak" its resident peak. Then the
peak of ``dnn-lab train`` on each file. Prints a markdown section; ``run.py`` puts it in
bench-results/latest.md.
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

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "bench-results"  # ignored by git: the generated files never reach a commit
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
FEATURES = 19

# Each prints {"load": seconds since its first line, "peak": resident peak in KiB}.
PROLOGUE = "import time; start = time.perf_counter()\nimport json, resource, sys\n"
EPILOGUE = (
    "print(json.dumps({'load': time.perf_counter() - start, "
    "'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
)
PANDAS = {
    "csv": "import numpy as np, pandas as pd\nframe = pd.read_csv(sys.argv[1])\n",
    "parquet": "import numpy as np, pandas as pd\nframe = pd.read_parquet(sys.argv[1])\n",
}
PANDAS_TAIL = "x = frame.drop(columns='y').to_numpy(np.float32)\ny = frame['y'].to_numpy()\n"
DNN_LAB = (
    "from dnn_lab.config.schema import DataConfig\n"
    "from dnn_lab.data.prepare import prepare_data\n"
    "data = prepare_data(DataConfig.model_validate("
    "{'dataset': sys.argv[2], 'path': sys.argv[1], 'target': 'y'}), 0)\n"
)


def generate(rows: int, seed: int = 0) -> dict[str, Path]:
    """The table as CSV and Parquet, written once per size (pyarrow writes both fast)."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv, parquet

    paths = {"csv": OUT / f"table_{rows}.csv", "parquet": OUT / f"table_{rows}.parquet"}
    if all(p.exists() for p in paths.values()):
        return paths
    OUT.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES)).round(6)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(np.int64)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(FEATURES)}, "y": y})
    csv.write_csv(table, paths["csv"])
    parquet.write_table(table, paths["parquet"])
    return paths


def run(code: str, path: Path, kind: str) -> dict:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), kind],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} contender failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "process": time.perf_counter() - start}


def measure(paths: dict[str, Path], rounds: int) -> dict[tuple[str, str], list[dict]]:
    contenders = {
        "dnn-lab": PROLOGUE + DNN_LAB + EPILOGUE,
        "pandas": {kind: PROLOGUE + PANDAS[kind] + PANDAS_TAIL + EPILOGUE for kind in PANDAS},
    }
    results: dict[tuple[str, str], list[dict]] = {}
    for number in range(rounds):
        for kind, path in paths.items():
            order = list(contenders) if number % 2 == 0 else list(reversed(contenders))
            for name in order:
                code = contenders[name] if name == "dnn-lab" else contenders[name][kind]
                results.setdefault((name, kind), []).append(run(code, path, kind))
    return results


def train_peak_mib(path: Path, kind: str, scratch: Path) -> float:
    """Resident peak of ``dnn-lab train`` on the table (one epoch of a small network).

    Read by a fresh parent whose one child is the command: the CLI leaves through
    ``os._exit`` (no atexit hook runs), so the kernel's account of the child is the measure.
    """
    config = {
        "name": f"table-{kind}",
        "data": {"dataset": kind, "path": str(path), "target": "y"},
        "model": {"hidden_layers": 2, "units": 64},
        "train": {"epochs": 1, "batch_size": 1024},
    }
    file = scratch / f"table-{kind}.yaml"
    file.write_text(yaml.safe_dump(config))
    command = [str(Path(sys.executable).parent / "dnn-lab"), "train", str(file)]
    command += ["--runs-dir", str(scratch / "runs")]
    code = (
        "import resource, subprocess, sys\n"
        f"done = subprocess.run({command!r}, capture_output=True, text=True)\n"
        "sys.stderr.write(done.stderr[-2000:]) if done.returncode else None\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(done.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"dnn-lab train on {path.name} failed:\n{done.stderr}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024


def section(rounds: int, rows: int = 1_000_000) -> list[str]:
    paths = generate(rows)
    results = measure(paths, rounds)
    size = {kind: path.stat().st_size / 1e6 for kind, path in paths.items()}
    lines = [
        f"Loading a {rows:,} x {FEATURES + 1} numeric table (CSV {size['csv']:.0f} MB, Parquet "
        f"{size['parquet']:.0f} MB; float32 features {rows * FEATURES * 4 / 1e6:.0f} MB), "
        f"fresh processes, alternated, median of {rounds} (min-max):",
        "",
        "| file | contender | load s | process s | peak MiB | load vs pandas |",
        "|---|---|---|---|---|---|",
    ]
    for kind in paths:
        base = statistics.median(r["load"] for r in results[("pandas", kind)])
        for name in ("dnn-lab", "pandas"):
            runs = results[(name, kind)]
            load = [r["load"] for r in runs]
            process = statistics.median(r["process"] for r in runs)
            peak = statistics.median(r["peak"] for r in runs) / 1024
            lines.append(
                f"| {kind} | {name} | {statistics.median(load):.2f} ({min(load):.2f}-"
                f"{max(load):.2f}) | {process:.2f} | {peak:,.0f} | "
                f"{statistics.median(load) / base:.2f}x |"
            )
    with tempfile.TemporaryDirectory(prefix="dnn-lab-bench-") as scratch:
        peaks = {kind: train_peak_mib(path, kind, Path(scratch)) for kind, path in paths.items()}
    lines += [
        "",
        "Peak memory (resident) of `dnn-lab train` on the table (64-64-1, one epoch): "
        + ", ".join(f"{kind} {mib:,.0f} MiB" for kind, mib in peaks.items())
        + ".",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    print("\n".join(section(args.rounds, args.rows)))


if __name__ == "__main__":
    main()
