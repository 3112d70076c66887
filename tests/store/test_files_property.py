"""No reader raises or hangs on any file shape (hypothesis).

Every kind of file in a run or sweep folder takes every shape in ``hostile.SHAPES``
(regular, garbage, truncated, empty, deep JSON, symlinks inside and outside the folder,
dangling, a FIFO, /dev/zero, a sparse file far over the limit, a folder), and the public
readers go over the folder in a forked child with a memory ceiling and a deadline:
``read_run`` and every ``Run`` property, the sweep file readers, ``show``, ``compare``,
``runs``. A user error (exit 2, a ``DnnLabError``) is an answer; a traceback or a hang is
not.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnn_lab.errors import DnnLabError
from dnn_lab.store import runs
from tests.conftest import fake_run
from tests.exporters.test_export import write_sweep
from tests.store.hostile import SHAPES, bounded, cli, make_shape

RUN_FILES = (
    runs.RUN_FILE,
    runs.METRICS_FILE,
    runs.PARAMS_FILE,
    runs.HISTORY_FILE,
    runs.CONFIG_FILE,
    runs.SUMMARY_FILE,
    runs.DIAGNOSTICS_FILE,
)
SWEEP_FILES = (runs.SWEEP_FILE, "base.yaml", "driver.json")
DIAGNOSTICS = b"epoch,layer,metric,value\n1,dense,grad_norm,0.5\n1,dense,dead,0.1\n"


def read_everything(run_dir: Path, sweep: Path) -> list[str]:
    """What the public readers make of the folders: each answer's kind, never an exception
    other than a user error."""
    from dnn_lab.store.sweep_file import read_sweep_file
    from dnn_lab.sweeps.state import SweepState, counted_runs
    from dnn_lab.views import show
    from tests.conftest import quiet_console

    seen = []
    run = runs.read_run(run_dir)
    seen += [run.status, run.name, str(run.epochs_run), str(len(run.history))]
    seen += [str(len(run.config)), str(len(run.params)), str(len(run.totals))]
    show.render(run, quiet_console())
    for reader in (
        lambda: read_sweep_file(sweep, for_resume=False),
        lambda: read_sweep_file(sweep),
        lambda: SweepState.load(sweep),
        lambda: counted_runs([sweep]),
    ):
        try:
            reader()
            seen.append("read")
        except DnnLabError as exc:
            seen.append(f"refused: {exc}"[:80])
    for command in (["runs", run_dir.parent, "--all"], ["compare", run_dir.parent, sweep]):
        code, output = cli(*command)
        assert code in (0, 2), (command, code, output[-2000:])
        assert "TRACEBACK" not in output, (command, output[-2000:])
        seen.append(str(code))
    return seen


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(RUN_FILES + SWEEP_FILES),
    shape=st.sampled_from(SHAPES),
    other=st.sampled_from(RUN_FILES),
    other_shape=st.sampled_from(SHAPES),
    size=st.integers(min_value=128 * 1024 * 1024 + 1, max_value=1 << 42),  # over every limit
)
def test_no_reader_raises_or_hangs_on_any_file_shape(kind, shape, other, other_shape, size):
    top = Path(tempfile.mkdtemp(prefix="dnn-lab-shapes-"))
    try:
        root = top / "runs"
        run_dir = fake_run(root, "20260101-100000-shape")
        (run_dir / runs.DIAGNOSTICS_FILE).write_bytes(DIAGNOSTICS)
        (run_dir / runs.SUMMARY_FILE).write_text("Model: sequential\n", encoding="utf-8")
        sweep = root / "20260102-090000-acts-sweep"
        fake_run(sweep, "20260102-090000-acts-0")
        write_sweep(sweep)
        (sweep / "driver.json").write_text('{"pid": 1, "host": "x"}', encoding="utf-8")
        # each file's real content is read before any file is reshaped: ``kind`` and
        # ``other`` may name the same file, already made huge
        shaped = []
        for name, form in ((other, other_shape), (kind, shape)):
            path = (sweep if name in SWEEP_FILES else run_dir) / name
            content = path.read_bytes() if path.is_file() and not path.is_symlink() else b"{}"
            shaped.append((path, form, content))
        for path, form, content in shaped:
            make_shape(path, form, content, size=size)
        bounded(read_everything, run_dir, sweep, timeout=60)
    finally:
        shutil.rmtree(top, ignore_errors=True)
