"""The API in a real Jupyter kernel: the shipped notebook, and an interrupt mid-run."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from dnn_lab.store import runs
from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "notebooks" / "initializers.ipynb"

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def outputs_of(cell) -> list[dict]:
    return list(cell.get("outputs", []))


def test_the_initializers_notebook_runs_and_shows_its_study(tmp_path, monkeypatch):
    monkeypatch.setenv("DNN_LAB_CONFIGS", str(REPO / "configs"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    every = [output for cell in code for output in outputs_of(cell)]
    assert not [o for o in every if o["output_type"] == "error"]
    # nothing on the cell's stderr: TensorFlow's C++ log went to each run's native.log
    assert not [o for o in every if o.get("name") == "stderr"], [
        o["text"] for o in every if o.get("name") == "stderr"
    ]

    first = next(cell for cell in code if "run = dnn_lab.train(" in cell.source)
    progress = [o for o in outputs_of(first) if o["output_type"] == "display_data"]
    # one progress line, updated in place to the last epoch; no HTML block per line
    assert len(progress) == 1
    assert re.match(r"epoch 5/5 - loss \d", progress[0]["data"]["text/plain"])
    shown = next(o for o in outputs_of(first) if o["output_type"] == "execute_result")
    assert shown["data"]["text/plain"].startswith("Run('initializers', completed")
    assert "data:image/png;base64," in shown["data"]["text/html"]

    table_cell = next(cell for cell in code if "study = dnn_lab.study(" in cell.source)
    (result,) = [o for o in outputs_of(table_cell) if o["output_type"] == "execute_result"]
    page = result["data"]["text/html"]
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>")[1].split("</tbody>")[0])
    names = [re.findall(r">([a-z_]+)</td>", row)[0] for row in rows]
    assert sorted(names) == ["glorot_uniform", "he_normal", "random_normal"]
    assert all(">3</td>" in row for row in rows)  # n: three seeds each
    assert "data:image/png;base64," in page
    assert not [o for o in outputs_of(table_cell) if o["output_type"] != "execute_result"]

    verdict = next(cell for cell in code if "study.verdict" in cell.source)
    assert re.search(
        r"is ahead of .* (intervals overlap|do not overlap)", verdict.outputs[0]["text"]
    )
    assert len(list((tmp_path / "runs").iterdir())) == 10


def test_an_interrupt_in_a_kernel_stops_the_run_and_the_kernel_lives_on(tmp_path):
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        config = {**TINY, "train": {**TINY["train"], "epochs": 5000}}
        started = client.execute(
            f"import dnn_lab\nrun = dnn_lab.train({config!r}, runs_dir='runs', quiet=True)"
        )
        history = _wait_for_epochs(tmp_path / "runs", 2)
        manager.interrupt_kernel()
        reply = _reply(client, started)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "RunInterrupted"  # a KeyboardInterrupt
        (run_dir,) = (tmp_path / "runs").iterdir()
        record = json.loads((run_dir / runs.RUN_FILE).read_text())
        assert (record["status"], record["interrupted_by"]) == ("interrupted", "SIGINT")
        assert len(runs.read_history(history)) >= 2

        # the same kernel trains again, to the end, with its own handlers back in place
        _settle(client)
        again = client.execute(
            "import signal\nsigint = signal.getsignal(signal.SIGINT)\n"
            f"run = dnn_lab.train({TINY!r}, runs_dir='again', quiet=True)\n"
            "print(run.status, signal.getsignal(signal.SIGINT) is sigint)"
        )
        assert _reply(client, again)["content"]["status"] == "ok"
        assert _stdout(client, again) == "completed True\n"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _wait_for_epochs(runs_dir: Path, epochs: int, timeout: float = 300.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in runs_dir.glob(f"*/{runs.HISTORY_FILE}"):
            if len(runs.read_history(path)) >= epochs:
                return path
        time.sleep(0.2)
    raise AssertionError(f"no run reached {epochs} epochs in {timeout} s")


def _settle(client) -> None:
    """Wait out ipykernel's abort after an error: requests that reach it in that moment are
    answered 'aborted' unrun (its stop_on_error), whatever they hold."""
    for _ in range(50):
        if _reply(client, client.execute("pass"))["content"]["status"] == "ok":
            return
        time.sleep(0.1)
    raise AssertionError("the kernel aborts every request after the interrupt")


def _reply(client, msg_id: str, timeout: float = 300.0) -> dict:
    while True:
        reply = client.get_shell_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def _stdout(client, msg_id: str) -> str:
    text = ""
    while True:
        message = client.get_iopub_msg(timeout=30)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            text += message["content"]["text"]
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return text
