"""``dnn-lab smoke``: every config in a folder, validated, built and trained a few steps.

The configs are shared out over warm worker processes (one per core, as a sweep's),
each importing the framework once; configs that compile the same program go to the
same worker, one after the other, so that they share the compiled model. With one
worker the CLI's own process does the work and no process is started.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dnn_lab.errors import DnnLabError
from dnn_lab.render.tables import Column, Table
from dnn_lab.store import files
from dnn_lab.sweeps.workers import auto_workers, thread_environment
from dnn_lab.training.smoke import PASSED, SmokeRequest, SmokeResult

DEFAULT_STEPS = 50
DEFAULT_SAMPLES = 512
CONFIG_SUFFIXES = (".yaml", ".yml")


def find_configs(paths: Sequence[Path]) -> list[Path]:
    """The config files given, and every YAML file under the folders given, sorted."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.suffix in CONFIG_SUFFIXES and p.is_file()
            )
        elif path.is_file():
            found.append(path)
        else:
            raise DnnLabError(f"{path}: no such config file or folder")
    if not found:
        raise DnnLabError(f"no config files (*.yaml, *.yml) in {', '.join(str(p) for p in paths)}")
    return list(dict.fromkeys(found))


def _grouping(request: SmokeRequest) -> tuple[str, str]:
    """(backend, program) of a request, read without the framework; a bad config its own."""
    from dnn_lab.config.loading import load_config

    try:
        config = load_config(Path(request.config), request.overrides)
    except DnnLabError:
        return "tensorflow", request.config
    settings = config.to_dict()
    shape = [config.data.dataset, config.data.path, config.data.target, config.data.one_hot]
    return config.backend, json.dumps([settings["model"], settings["train"], shape], sort_keys=True)


@dataclass
class Lane:
    """One worker's share: its backend, and its configs in the order it runs them."""

    backend: str
    requests: list[SmokeRequest] = field(default_factory=list)


def plan(requests: list[SmokeRequest], workers: int) -> list[Lane]:
    """Requests shared out over at most ``workers`` lists; one backend and program per group.

    A group (configs of one program) stays on one worker; the largest groups go first,
    each to the worker with the fewest requests so far.
    """
    groups: dict[tuple[str, str], list[SmokeRequest]] = {}
    for request in requests:
        groups.setdefault(_grouping(request), []).append(request)
    backends = sorted({backend for backend, _ in groups})
    lanes: dict[str, list[Lane]] = {
        b: [Lane(b) for _ in range(max(1, workers // len(backends)))] for b in backends
    }
    for (backend, _), members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        min(lanes[backend], key=lambda lane: len(lane.requests)).requests.extend(members)
    return [lane for backend in backends for lane in lanes[backend] if lane.requests]


def run_smoke(
    requests: list[SmokeRequest],
    workers: int | None = None,
    on_result: Callable[[SmokeResult], None] | None = None,
) -> list[SmokeResult]:
    """Smoke-test every request; results in the order of ``requests``."""
    if workers is None:
        workers = auto_workers(len(requests), 0)[0]
    lanes = plan(requests, max(1, workers))
    if len(lanes) == 1:
        from dnn_lab.training.smoke import smoke_all

        done = smoke_all(lanes[0].requests, on_result)
    else:
        done = _in_workers(lanes, on_result)
    by_config = {result.config: result for result in done}
    return [by_config[request.config] for request in requests]


def _in_workers(
    lanes: list[Lane], on_result: Callable[[SmokeResult], None] | None
) -> list[SmokeResult]:
    """One worker process per lane, all at once; a worker that dies fails what it had left."""
    import selectors

    env = {**os.environ, "PYTHONUNBUFFERED": "1", **thread_environment(_threads(len(lanes)))}
    results: list[SmokeResult] = []
    with tempfile.TemporaryDirectory(prefix="dnn-lab-smoke-") as scratch:
        selector = selectors.DefaultSelector()
        pending: dict[int, list[SmokeRequest]] = {}
        processes = []
        for index, lane in enumerate(lanes):
            log = open(Path(scratch) / f"worker-{index}.log", "wb")  # noqa: SIM115
            process = subprocess.Popen(
                [sys.executable, "-m", "dnn_lab.training.smoke", lane.backend],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
            )
            log.close()
            process.stdin.write(
                "".join(json.dumps(r.to_json()) + "\n" for r in lane.requests).encode("utf-8")
            )
            process.stdin.close()
            processes.append(process)
            pending[process.pid] = list(lane.requests)
            selector.register(process.stdout, selectors.EVENT_READ, process)
        try:
            while selector.get_map():
                for key, _ in selector.select():
                    process = key.data
                    line = key.fileobj.readline()
                    if not line:
                        selector.unregister(key.fileobj)
                        process.wait()
                        log = Path(scratch) / f"worker-{processes.index(process)}.log"
                        results += _lost(pending.pop(process.pid), process.returncode, log)
                        continue
                    result = SmokeResult.from_json(json.loads(line))
                    pending[process.pid] = [
                        r for r in pending[process.pid] if r.config != result.config
                    ]
                    results.append(result)
                    if on_result is not None:
                        on_result(result)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                process.wait()
                with contextlib.suppress(OSError):
                    process.stdout.close()
    return results


def _threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // workers)


def _lost(requests: list[SmokeRequest], code: int | None, log: Path) -> list[SmokeResult]:
    """Rows for the configs a worker never answered (it crashed): failed, with its last words."""
    if not requests:
        return []
    try:
        tail = files.read_tail(log).strip().splitlines()[-1:]
    except files.FileRefused:
        tail = []
    why = f"the smoke worker ended (exit code {code}) before this config" + (
        f": {tail[0]}" if tail else ""
    )
    return [SmokeResult(config=r.config, reason=why) for r in requests]


def exit_code(results: list[SmokeResult]) -> int:
    """0 when every config passed, 1 when one failed."""
    return 0 if all(r.passed for r in results) else 1


def to_table(results: list[SmokeResult]) -> Table:
    """One row per config, then the total as the footer."""
    rows = []
    for result in results:
        loss = "-"
        if result.loss_first is not None and result.loss_last is not None:
            loss = f"{result.loss_first:.4g} -> {result.loss_last:.4g}"
        reason = result.reason
        if result.data == "stand-in" and result.passed:
            reason = "ok, on stand-in data (dataset files absent)"
        rows.append(
            {
                **result.to_json(),
                "mark": "✓" if result.passed else "✗",
                "loss": loss,
                "reason": reason,
            }
        )
    passed = sum(r.passed for r in results)
    seconds = sum(r.seconds for r in results)
    footer = f"{passed} of {len(results)} configs passed ({seconds:.1f}s of smoke runs)"
    return Table(
        columns=[
            Column(key="mark", title="", exported=False),
            Column(key="config", title="config"),
            Column(key="params", title="params", style="count"),
            Column(key="steps", title="steps", style="count"),
            Column(key="loss", title="loss first -> last", exported=False),
            Column(key="loss_first", title="loss first", drawn=False),
            Column(key="loss_last", title="loss last", drawn=False),
            Column(key="seconds", title="seconds", style="short"),
            Column(key="data", title="data", plain="real"),
            Column(key="verdict", title="verdict", plain=PASSED),
            Column(key="reason", title="reason"),
            Column(key="reused_compiled", title="reused compiled model", drawn=False),
        ],
        rows=rows,
        header={"passed": passed, "failed": len(results) - passed, "total": len(results)},
        rows_name="configs",
        footer=footer,
        empty="no configs",
    )
