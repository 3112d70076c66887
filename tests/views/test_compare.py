"""compare, show and runs: reading run directories, never importing Keras."""

from __future__ import annotations

import csv
import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.direction import Direction
from dnn_lab.render import tables
from dnn_lab.store import collect, runs
from dnn_lab.views import compare, show
from tests.conftest import fake_run
from tests.test_cli import modules_after


def history(*val_accuracies: float, seconds: float = 0.25) -> list[dict]:
    return [
        {
            "epoch": i + 1,
            "loss": 1.0 - acc / 2,
            "accuracy": acc,
            "val_loss": 1.1 - acc,
            "val_accuracy": acc,
            "lr": 0.001,
            "seconds": seconds,
        }
        for i, acc in enumerate(val_accuracies)
    ]


@pytest.fixture
def three_runs(tmp_path):
    root = tmp_path / "runs"
    fake_run(
        root,
        "20260101-100000-relu",
        {"name": "relu"},
        history(0.4, 0.7),
        started="2026-01-01T10:00:00+00:00",
    )
    fake_run(
        root,
        "20260101-110000-tanh",
        {"name": "tanh", "model": {"activation": "tanh"}},
        history(0.5, 0.9),
        started="2026-01-01T11:00:00+00:00",
    )
    fake_run(
        root,
        "20260101-120000-sigmoid",
        {"name": "sigmoid", "model": {"activation": "sigmoid"}},
        history(0.3),
        status="interrupted",
        started="2026-01-01T12:00:00+00:00",
        metrics=False,
    )
    return root


def rendered(comparison, width=130) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    tables.render_table(compare.to_table(comparison, curves=tables.TABLE_ROWS), console)
    return console.file.getvalue()


def test_table_renders_exactly(three_runs):
    text = rendered(compare.compare([three_runs]), width=160)
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0].startswith("same in all 3 runs: backend=tensorflow, data.categorical=auto,")
    assert "data.dataset=digits" in lines[0]
    assert "model.activation" not in lines[0] and "train.epochs=2" in lines[0]
    assert lines[1:] == [
        "",
        "                                                                  best    best      final"
        "          final",
        " run       status        activation   params   epochs   val_accuracy ↓   epoch   val_loss"
        "   val_accuracy   s/epoch   curve",
        " " + "─" * 121,
        " tanh      completed     tanh          1,210        2           0.9000       2     0.2000"
        "         0.9000     0.250   ▁█",
        " relu      completed     relu          1,210        2           0.7000       2     0.4000"
        "         0.7000     0.250   ▁█",
        " sigmoid   interrupted   sigmoid       1,210        1                -       -     0.8000"
        "         0.3000         -",
        "",
    ]


def test_markdown_renders_exactly(three_runs):
    result = compare.compare([three_runs], where=["status=completed"])
    lines = tables.render_markdown(compare.to_table(result)).splitlines()
    assert lines[2:] == [
        "| run | status | activation | params | epochs | best val_accuracy | best epoch "
        "| final val_loss | final val_accuracy | s/epoch |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| tanh | completed | tanh | 1,210 | 2 | **0.9000** | 2 | **0.2000** | **0.9000** "
        "| 0.250 |",
        "| relu | completed | relu | 1,210 | 2 | 0.7000 | 2 | 0.4000 | 0.7000 | 0.250 |",
    ]


def test_only_the_differing_key_gets_a_column(three_runs):
    result = compare.compare([three_runs])
    assert result.differing == ["config.model.activation"]
    assert result.common["train.epochs"] == 2
    assert "model.activation" not in result.common


def test_sorting_both_ways(three_runs):
    best_first = compare.compare([three_runs])
    assert [r["run"] for r in best_first.rows] == ["tanh", "relu", "sigmoid"]
    worst_first = compare.compare([three_runs], reverse=True)
    assert [r["run"] for r in worst_first.rows] == ["relu", "tanh", "sigmoid"]
    by_loss = compare.compare([three_runs], sort="val_loss")
    assert by_loss.sort_key == "final_val_loss" and by_loss.direction is Direction.MIN
    assert [r["run"] for r in by_loss.rows] == ["tanh", "relu", "sigmoid"]
    by_name = compare.compare([three_runs], sort="model.activation")
    assert [r["run"] for r in by_name.rows] == ["relu", "sigmoid", "tanh"]
    assert [r["run"] for r in compare.compare([three_runs], top=1).rows] == ["tanh"]


def test_unknown_sort_column_suggests_one(three_runs):
    with pytest.raises(Exception, match="did you mean 'best_val_accuracy'"):
        compare.compare([three_runs], sort="best_val_acuracy")


def test_where_filters(three_runs):
    names = lambda **kw: [r["run"] for r in compare.compare([three_runs], **kw).rows]  # noqa: E731
    assert names(where=["model.activation=tanh"]) == ["tanh"]
    assert names(where=["model.activation!=tanh"]) == ["relu", "sigmoid"]
    assert names(where=["val_accuracy>0.8"]) == ["tanh"]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("val_accuracy>>0.5", "'>0.5' is not a value after val_accuracy>"),
        ("val_accuracy=<0.5", "'<0.5' is not a value after val_accuracy="),
        ("val_accuracy>[0.5", "'[0.5' is not a value"),
        ("val_accuracy", "no operator"),
        (">0.5", "no key before '>'"),
        ("nosuchkey=1", "no key 'nosuchkey' in these runs Keys: accuracy, epoch, epochs, "),
        ("model.activaton=relu", "did you mean 'model.activation'?"),
        ("val_acuracy>0.5", "did you mean 'val_accuracy'?"),
    ],
)
def test_a_bad_where_is_one_clear_error(three_runs, condition, message):
    result = CliRunner().invoke(app, ["compare", str(three_runs), "--where", condition])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert "KEY=VALUE" in result.output or "Keys:" in result.output


def test_json_and_csv_give_back_the_numbers_in_the_run_files(three_runs):
    result = compare.compare([three_runs])
    exported = json.loads(tables.render_json(compare.to_table(result)))
    rows = list(csv.DictReader(io.StringIO(tables.render_csv(compare.to_table(result)))))
    for entry, line in zip(exported["runs"], rows, strict=True):
        metrics = (
            json.loads((three_runs.parent / entry["path"] / runs.METRICS_FILE).read_text())
            if (three_runs.parent / entry["path"] / runs.METRICS_FILE).exists()
            else None
        )
        if metrics:
            assert entry["best_val_accuracy"] == metrics["best"]["val_accuracy"]
            assert float(line["best_val_accuracy"]) == metrics["best"]["val_accuracy"]
        assert line["run"] == entry["run"]
    assert exported["differing"] == ["model.activation"]


def test_damaged_and_partial_runs_never_crash(three_runs, tmp_path):
    broken = three_runs / "20260101-130000-broken"
    broken.mkdir()
    (broken / runs.RUN_FILE).write_text("{half")
    (broken / runs.HISTORY_FILE).write_text("epoch,loss\n1,0.5\n")
    empty = three_runs / "20260101-140000-empty"
    empty.mkdir()
    (empty / runs.CONFIG_FILE).write_text(": not: yaml: [")
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    result = compare.compare([three_runs, stray])
    statuses = {r["run"]: r["status"] for r in result.rows}
    assert statuses["20260101-130000-broken"] == "damaged"
    assert statuses["20260101-140000-empty"] == "damaged"
    assert result.skipped == [stray]
    text = rendered(result, width=200)
    assert "warning: not run directories, skipped:" in text and "notes.txt" in text


def test_a_running_run_shows_its_epochs_so_far(tmp_path):
    path = fake_run(
        tmp_path, "r", {"name": "live"}, history(0.2, 0.4, 0.6), status="running", metrics=False
    )
    info = json.loads((path / runs.RUN_FILE).read_text())
    import os
    import socket

    info.update(host=socket.gethostname(), pid=os.getpid())
    runs.write_json(path / runs.RUN_FILE, info)
    (row,) = compare.compare([path]).rows
    assert row["status"] == "running" and row["epochs"] == 3
    assert row["final_val_accuracy"] == 0.6


def test_plot_writes_a_png_of_the_expected_size(three_runs, tmp_path):
    target = tmp_path / "curves.png"
    compare.plot(compare.compare([three_runs]), target)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1200
    assert int.from_bytes(data[20:24], "big") == 480


def test_twenty_runs_plot(tmp_path):
    for index in range(20):
        fake_run(
            tmp_path / "many",
            f"run-{index:02d}",
            {"name": f"r{index}", "seed": index},
            history(0.1 + index / 40, 0.2 + index / 40),
        )
    target = tmp_path / "twenty.png"
    compare.plot(compare.compare([tmp_path / "many"]), target)
    assert target.stat().st_size > 10_000


def test_runs_lists_newest_first_and_filters_by_status(three_runs):
    rows = collect.list_runs(three_runs)
    assert [r["run"] for r in rows] == ["sigmoid", "tanh", "relu"]
    sweep = three_runs / "20260102-000000-study-sweep"
    fake_run(
        sweep,
        "20260102-000001-study-000",
        {"name": "study-000"},
        started="2026-01-02T00:00:01+00:00",
    )
    (sweep / runs.SWEEP_FILE).write_text("{}")
    assert collect.list_runs(three_runs)[0]["run"] == "study-000"  # trials of sweeps too
    assert [r["run"] for r in collect.list_runs(three_runs, "interrupted")] == ["sigmoid"]


def test_show_prints_formula_history_and_environment(trained):
    console = Console(file=io.StringIO(), width=160, color_system=None)
    show.render(show.load(trained.run_dir), console)
    text = console.file.getvalue()
    assert "(64 + 1) x 16 = 1040" in text
    assert "Param #" in text and "(None, 16)" in text
    assert "val_accuracy" in text and "seed 7" in text and "tensorflow" in text


def test_cli_compare_formats(three_runs, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(three_runs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["runs"][0]["run"] == "tanh"
    plot = tmp_path / "p.png"
    result = runner.invoke(
        app, ["compare", str(three_runs), "--format", "markdown", "--plot", str(plot)]
    )
    assert result.exit_code == 0 and plot.exists()
    result = runner.invoke(app, ["runs", str(three_runs), "--status", "interrupted"])
    assert result.exit_code == 0 and "sigmoid" in result.output and "relu" not in result.output
    result = runner.invoke(app, ["show", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "{runs}"],
        ["compare", "{runs}", "--format", "json"],
        ["runs", "{runs}"],
        ["show", "{runs}/20260101-100000-relu"],
    ],
)
def test_compare_show_and_runs_import_neither_keras_nor_matplotlib(three_runs, args):
    assert modules_after([a.format(runs=three_runs) for a in args]) == ""
