"""What a CI smoke job costs: ``dnn-lab smoke configs/`` against one plain training run.

    python benchmarks/smoke_time.py [--rounds N]

Whole processes, from pressing Enter to the exit code, the two commands alternated
round by round (who goes first flips), so that a busy machine slows both alike. The
smoke run covers every shipped config (validate, build, a few steps, save, reload);
the framework is imported once per worker, so the whole folder should cost little more
than ``dnn-lab train configs/adam_relu.yaml`` alone. Prints a markdown section;
``run.py`` puts it in bench-results/latest.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from time_to_result import DNN_LAB, ENV, ROOT, timed  # noqa: E402


def measure(rounds: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="dnn-lab-bench-") as folder:
        env = {**ENV, "DNN_LAB_CACHE_DIR": str(Path(folder) / "cache")}
        entries = {
            "dnn-lab train configs/adam_relu.yaml": [
                DNN_LAB,
                "train",
                "configs/adam_relu.yaml",
                "--runs-dir",
                str(Path(folder) / "runs"),
            ],
            "dnn-lab smoke configs/": [DNN_LAB, "smoke", "configs/"],
        }
        for command in entries.values():  # untimed: the compiled-program cache a user has
            timed(command, env)
        times: dict[str, list[float]] = {name: [] for name in entries}
        for index in range(rounds):
            order = list(entries.items())
            if index % 2:
                order.reverse()
            for name, command in order:
                times[name].append(timed(command, env))
    return times


def section(rounds: int) -> list[str]:
    times = measure(rounds)
    configs = len([p for p in (ROOT / "configs").rglob("*.yaml")])
    baseline = statistics.median(times["dnn-lab train configs/adam_relu.yaml"])
    lines = [
        f"CI smoke job, whole processes, median of {rounds} alternated rounds (seconds); "
        f"`dnn-lab smoke configs/` covers all {configs} shipped configs:",
        "",
        "| command | median s | min - max | vs one run |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(
            f"| {name} | {median:.2f} | {min(values):.2f} - {max(values):.2f} | "
            f"{median / baseline:.2f}x |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(section(args.rounds)))


if __name__ == "__main__":
    main()
