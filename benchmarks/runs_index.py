"""Listing many runs: ``runs``, ``runs --all`` and ``compare`` over 10,000 and 100,000 runs,
without an index (cold: the command reads every run and builds the index) and with it.

    python benchmarks/runs_index.py [--sizes 10000,100000] [--rounds N]

The runs are copies of one real run (a tiny ``dnn-lab train``); each copy has its own
run.json and metrics.json (its own inode and mtime, as the index checks them) and hard
links to the larger files no listing reads. Every figure is a fresh ``dnn-lab`` process
with its output piped, cold and warm alternated round by round, the folder in a temporary
directory (never committed). "Cold" means no index file; the file cache is warm in both
(the folder was just written). Prints a markdown section; ``run.py`` adds it to
bench-results/latest.md.
"""

from __future__ import annotations

import argparse
import os
import resource
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
OWN_FILES = ("run.json", "metrics.json")  # copied: what the index checks per run
INDEX_FILE = ".dnn-lab-index.sqlite3"  # dnn_lab.store.index.INDEX_FILE
COMMANDS = {"runs": ["runs"], "runs --all": ["runs", "--all"], "compare": ["compare"]}


def one_run(scratch: Path) -> Path:
    source = scratch / "source"
    command = [DNN_LAB, "train", "configs/adam_relu.yaml", "--runs-dir", str(source)]
    command += ["--set", "train.epochs=2", "--set", "model.units=[8]"]
    subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, check=True)
    (run,) = [p for p in source.iterdir() if p.is_dir()]
    return run


LINKS_PER_FILE = 50_000  # ext4 allows a file 65,000 names


def copies(run: Path, folder: Path, start: int, stop: int) -> None:
    """Copies number ``start`` to ``stop`` - 1 of ``run`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(start, stop):
        source = run.parent / f"links-{number // LINKS_PER_FILE}"
        if not source.exists():
            shutil.copytree(run, source)
        target = folder / f"{run.name}-{number:06d}"
        target.mkdir()
        for path in source.iterdir():
            if path.name in OWN_FILES:
                shutil.copyfile(path, target / path.name)
            elif path.is_file():
                os.link(path, target / path.name)


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds, and the CPU seconds (user + system) of the process: on a shared
    machine the second is the steadier figure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([DNN_LAB, *args], cwd=ROOT, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, cpu


def drop_index(folder: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{folder / INDEX_FILE}{suffix}").unlink(missing_ok=True)


def measure(folder: Path, rounds: int) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(command, cold or indexed) -> (wall, CPU) seconds per round, the two alternated."""
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    timed(["runs", str(folder)])  # the file cache warm, and the index built
    for index in range(rounds):
        modes = ["cold", "indexed"] if index % 2 == 0 else ["indexed", "cold"]
        for label, args in COMMANDS.items():
            for mode in modes:
                if mode == "cold":
                    drop_index(folder)  # and the cold command builds it anew
                times.setdefault((label, mode), []).append(timed([*args, str(folder)]))
    return times


def section(sizes: list[int], rounds: int) -> list[str]:
    lines = [
        f"Listing copies of one real run, fresh processes, output piped, median of {rounds} "
        "alternated rounds (seconds; min - max); cold = no index (the command builds it):",
        "",
        "| runs | command | cold | with the index | speed-up | CPU s, cold / indexed |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="dnn-lab-bench-index-") as scratch:
        run = one_run(Path(scratch))
        made = 0
        folder = Path(scratch) / "many"
        for size in sorted(sizes):  # the larger folder grows from the smaller
            copies(run, folder, made, size)
            made = size
            times = measure(folder, rounds)
            for label in COMMANDS:
                cold = [wall for wall, _ in times[(label, "cold")]]
                warm = [wall for wall, _ in times[(label, "indexed")]]
                cpu_cold = statistics.median(cpu for _, cpu in times[(label, "cold")])
                cpu_warm = statistics.median(cpu for _, cpu in times[(label, "indexed")])
                lines.append(
                    f"| {size:,} | `dnn-lab {label}` | {statistics.median(cold):.2f} "
                    f"({min(cold):.2f} - {max(cold):.2f}) | {statistics.median(warm):.2f} "
                    f"({min(warm):.2f} - {max(warm):.2f}) | "
                    f"{statistics.median(cold) / statistics.median(warm):.1f}x | "
                    f"{cpu_cold:.2f} / {cpu_warm:.2f} |"
                )
                print(lines[-1], file=sys.stderr, flush=True)  # as it comes: this takes long
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print("\n".join(section(sizes, args.rounds)))


if __name__ == "__main__":
    main()
