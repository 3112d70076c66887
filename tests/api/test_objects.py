"""Run, Comparison and Study as a notebook shows them, on run directories with known numbers.

No framework here: these read run directories only.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys

import pytest

import dnn_lab
from dnn_lab.store import runs
from tests.conftest import fake_run
from tests.sweeps.conftest import acc_history


def test_import_dnn_lab_loads_no_framework_pandas_or_matplotlib():
    code = (
        "import sys, dnn_lab\n"
        "names = [dnn_lab.train, dnn_lab.Run, dnn_lab.compare, dnn_lab.sweep, dnn_lab.study,\n"
        "         dnn_lab.report, dnn_lab.load_run, dnn_lab.runs, dnn_lab.ConfigError]\n"
        "heavy = ('keras', 'tensorflow', 'jax', 'torch', 'pandas', 'matplotlib')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
        # importing the sweeps package leaves the function dnn_lab.sweep as it is
        "import dnn_lab.sweeps.plan\n"
        "print(callable(dnn_lab.sweep), dnn_lab.sweep is names[3])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True True"]


def test_the_public_names_are_listed_documented_and_typed():
    assert set(dir(dnn_lab)) == set(dnn_lab.__all__)
    for name in dnn_lab.__all__:
        if name != "__version__":
            assert getattr(dnn_lab, name).__doc__, name
    assert (
        dnn_lab.__file__
        and (__import__("pathlib").Path(dnn_lab.__file__).parent / "py.typed").is_file()
    )
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        dnn_lab.trian  # noqa: B018


@pytest.fixture
def two_runs(tmp_path):
    better = fake_run(
        tmp_path,
        "adam-run",
        {"name": "adam", "train": {"optimizer": "adam"}},
        acc_history(0.5, 0.9),
    )
    worse = fake_run(
        tmp_path,
        "sgd-run",
        {"name": "sgd", "train": {"optimizer": "sgd"}},
        acc_history(0.4, 0.6),
        status="interrupted",
    )
    return better, worse


def test_a_run_shows_its_record_scores_and_history(two_runs):
    run = dnn_lab.load_run(two_runs[0])
    assert (run.name, run.status, run.path) == ("adam", "completed", two_runs[0])
    assert run.config["train"]["optimizer"] == "adam"
    assert run.params == {"total": 1210, "trainable": 1210, "non_trainable": 0}
    assert run.metrics.best_epoch == 2 and run.best == pytest.approx(0.9)
    assert list(run.history["val_accuracy"]) == pytest.approx([0.5, 0.9])
    assert list(run.history.columns[:2]) == ["epoch", "loss"]
    line = repr(run)
    assert "\n" not in line
    assert line == f"Run('adam', completed, val_accuracy 0.9000, 2 epochs, '{two_runs[0]}')"


def test_a_runs_html_inlines_its_curve(two_runs, tmp_path):
    from dnn_lab.render.plots import plot_curves

    run_dir = two_runs[0]
    plot_curves([("adam", runs.read_history(run_dir / runs.HISTORY_FILE))], run_dir / "curves.png")
    page = dnn_lab.load_run(run_dir)._repr_html_()
    assert "completed" in page and "best val_accuracy (epoch 2)" in page and "0.9000" in page
    (encoded,) = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert base64.b64decode(encoded) == (run_dir / "curves.png").read_bytes()


def test_a_run_plots_a_figure_without_switching_pyplots_backend(two_runs):
    import matplotlib

    backend = matplotlib.get_backend()
    figure = dnn_lab.load_run(two_runs[0]).plot()
    assert [axis.get_title() for axis in figure.axes] == ["loss", "accuracy"]
    assert matplotlib.get_backend() == backend


def test_load_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(dnn_lab.DnnLabError, match="is not a run directory"):
        dnn_lab.load_run(tmp_path)


def test_a_run_without_a_model_says_so(two_runs):
    with pytest.raises(dnn_lab.DnnLabError, match="has no model.keras"):
        dnn_lab.load_run(two_runs[1]).model()


def test_runs_lists_a_folder_newest_first_as_a_dataframe(two_runs, tmp_path):
    table = dnn_lab.runs(tmp_path)
    assert sorted(table["run"]) == ["adam", "sgd"]
    assert set(table["path"]) == {str(p) for p in two_runs}
    assert list(dnn_lab.runs(tmp_path, status="interrupted")["run"]) == ["sgd"]
    with pytest.raises(dnn_lab.DnnLabError, match="is not a directory"):
        dnn_lab.runs(tmp_path / "missing")


def test_compare_is_the_cli_table_as_a_dataframe_and_html(two_runs):
    from typer.testing import CliRunner

    from dnn_lab.cli import app

    comparison = dnn_lab.compare(*map(dnn_lab.load_run, two_runs))
    frame = comparison.to_pandas()
    assert list(frame["run"]) == ["adam", "sgd"]  # best first
    assert list(frame["config.train.optimizer"]) == ["adam", "sgd"]
    assert frame["best_val_accuracy"].tolist() == pytest.approx([0.9, 0.6])
    csv = CliRunner().invoke(app, ["compare", *map(str, two_runs), "--format", "csv"]).stdout
    assert csv.splitlines()[0].split(",") == list(frame.columns)
    page = comparison._repr_html_()
    headings = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headings[:3] == ["run", "status", "optimizer"] and headings[-1] == "curve"
    # the best value in bold green, an unusual status in yellow, a sparkline per run
    assert re.search(r"font-weight:bold;color:#1a7f37\">0\.9000<", page)
    assert re.search(r"color:#9a6700\">interrupted<", page)
    assert page.count("▁█") == 2
    assert repr(comparison) == "Comparison(2 runs by best_val_accuracy, best first)"
    assert [axis.get_title() for axis in comparison.plot().axes] == ["loss", "accuracy"]


def test_a_study_is_the_sweep_table_with_its_verdict(seeded_runs):
    study = dnn_lab.study(seeded_runs)
    frame = study.to_pandas()
    assert list(frame["optimizer"]) == ["adam", "rmsprop", "sgd"]
    assert frame["mean"].tolist() == pytest.approx([0.91, 0.91, 0.82])
    assert study.best.values == {"train.optimizer": "adam"}
    assert study.best_run.config["train"]["optimizer"] == "adam"
    assert study.best_run.best == pytest.approx(0.92)
    assert "not significant" in study.verdict
    page = study._repr_html_()
    assert "rmsprop" in page and study.verdict in page.replace("&#x27;", "'")
    assert page.count("data:image/png;base64,") == 1
    assert repr(study) == "Study(3 settings, 9 runs, val_accuracy)"
    fronts = study.pareto()
    assert "params" in " ".join(fronts.columns)
    with pytest.raises(dnn_lab.DnnLabError, match="needs a sweep folder"):
        study.importance()


def test_report_needs_a_sweep(seeded_runs):
    with pytest.raises(dnn_lab.DnnLabError, match="needs a sweep folder"):
        dnn_lab.report(dnn_lab.study(seeded_runs))
