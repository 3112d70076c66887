"""The command line end to end, as a user types it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dnn_lab.cli import app
from tests.conftest import TINY, merge, write_yaml

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_train_end_to_end(make_config, tmp_path):
    runs_dir = tmp_path / "runs"
    result = invoke(
        "train",
        make_config(),
        "--runs-dir",
        runs_dir,
        "--set",
        "train.epochs=1",
        "--name",
        "cli_run",
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = runs_dir.iterdir()
    assert run_dir.name.endswith("-cli_run")
    assert "epoch 1/1 - loss" in result.output
    assert "completed" in result.output and str(run_dir) in result.output
    assert "\x1b[" not in result.output  # no terminal control codes when not on a terminal


def test_validate_prints_the_resolved_config(make_config):
    result = invoke("validate", make_config(), "--set", "model.units=[64,32]")
    assert result.exit_code == 0, result.output
    assert "loss: sparse_categorical_crossentropy" in result.output
    assert "hidden_layers: 2" in result.output and "- 64" in result.output


def test_a_typo_exits_2_with_one_clear_message_and_no_traceback(make_config, tmp_path):
    config = make_config({"model": {"activation": "rellu"}})
    result = invoke("train", config, "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 2
    assert "model.activation" in result.output and "did you mean 'relu'?" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_debug_shows_the_traceback(make_config):
    config = make_config({"model": {"activation": "rellu"}})
    result = runner.invoke(app, ["--debug", "validate", str(config)])
    assert result.exit_code == 2
    assert "Traceback" in result.output


def test_loss_that_does_not_fit_the_labels(make_config):
    result = invoke("validate", make_config({"train": {"loss": "categorical_crossentropy"}}))
    assert result.exit_code == 2
    assert "data.one_hot" in result.output


def test_datasets_lists_the_builtins():
    result = invoke("datasets")
    assert result.exit_code == 0
    for name in ("digits", "iris", "breast_cancer", "diabetes", "fashion_mnist", "csv", "npz"):
        assert name in result.output


def modules_after(
    args: list[str], heavy: tuple[str, ...] = ("tensorflow", "keras", "matplotlib", "sklearn")
) -> str:
    """The heavy modules a command imported; the command itself must succeed."""
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.__stderr__.write("
        f"'HEAVY:' + ','.join(m for m in {heavy!r} "
        "if m in sys.modules) + '\\n'))\n"
        f"sys.argv = ['dnn-lab', *{args!r}]\n"
        "from dnn_lab.cli import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stderr.rsplit("HEAVY:", 1)[1].strip()


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["datasets"]])
def test_the_cli_starts_without_tensorflow(args):
    assert modules_after(args) == ""


def test_validate_imports_no_tensorflow(tmp_path):
    config = write_yaml(tmp_path / "c.yaml", merge(TINY, {}))
    assert "tensorflow" not in modules_after(["validate", str(config)])
    assert "keras" not in modules_after(["validate", str(config)])


def test_listing_and_validating_a_builtin_dataset_import_no_numpy(tmp_path):
    # the registry knows a built-in dataset's task and classes: nothing is loaded
    config = write_yaml(tmp_path / "c.yaml", merge(TINY, {}))
    for args in (["--help"], ["datasets"], ["validate", str(config)]):
        assert modules_after(args, heavy=("numpy",)) == "", args


# --------------------------------------------------------------------------- text as it is


def test_paths_with_markup_are_printed_as_they_are(tmp_path):
    # a closing tag with nothing to close, and a style name
    folder = tmp_path / "a[" / "]b [bold]c"
    folder.mkdir(parents=True)
    assert "[/]" in str(folder)
    good = write_yaml(folder / "tiny.yaml", merge(TINY, {"train": {"epochs": 1}}))
    result = invoke("validate", good)
    assert result.exit_code == 0, result.output
    assert f"ok: {good} is valid" in result.output

    bad = write_yaml(folder / "bad.yaml", merge(TINY, {"model": {"activation": "rellu"}}))
    result = invoke("validate", bad)
    assert result.exit_code == 2 and f"error: {bad}: model.activation" in result.output
    assert "Traceback" not in result.output

    runs_dir = folder / "runs"
    result = invoke("train", good, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    (run_dir,) = runs_dir.iterdir()
    assert f"run    {run_dir}" in result.output and "completed in" in result.output
    assert str(run_dir) in result.output.split("completed", 1)[1]


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("torch") is not None, reason="torch is installed"
)
def test_a_missing_backend_names_the_extra_with_its_brackets(make_config, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dnn_lab", "train", str(make_config()), "--backend", "torch"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "install dnn-lab[torch]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()
