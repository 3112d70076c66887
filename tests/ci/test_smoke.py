"""`dnn-lab smoke` for real: a folder of tiny configs, good and broken, in warm workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from tests.conftest import TINY, merge, write_yaml


def smoke(*args: str, env: dict | None = None, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "dnn_lab", "smoke", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Good configs beside a diverging, an invalid, an unlearnable and a file-less one."""
    root = tmp_path_factory.mktemp("configs")
    (root / "nested").mkdir()
    write_yaml(root / "good.yaml", merge(TINY, {"name": "good"}))
    # the same program with another seed: it reuses the compiled model
    write_yaml(root / "nested" / "good_seed.yaml", merge(TINY, {"name": "good2", "seed": 8}))
    write_yaml(
        root / "diverges.yaml",
        merge(TINY, {"train": {"optimizer": {"name": "sgd", "learning_rate": 1e4}}}),
    )
    write_yaml(root / "invalid.yaml", merge(TINY, {"model": {"unitz": 4}}))
    labels = root / "one_class.csv"
    labels.write_text("a,b,label\n" + "".join(f"{i},{i % 7},1\n" for i in range(60)))
    write_yaml(
        root / "one_class.yaml",
        merge(TINY, {"data": {"dataset": "csv", "path": str(labels), "target": "label"}}),
    )
    write_yaml(
        root / "fashion.yaml",
        merge(TINY, {"data": {"dataset": "fashion_mnist", "scaling": "pixels"}}),
    )
    return root


@pytest.fixture(scope="module")
def no_fashion_files(tmp_path_factory):
    """An environment where Fashion-MNIST's files are nowhere (nor downloadable)."""
    empty = tmp_path_factory.mktemp("keras-home")
    return {
        "KERAS_HOME": str(empty),
        "DNN_LAB_DATA": str(empty),
        "DNN_LAB_DATASETS_URL": "http://127.0.0.1:9/",
    }


@pytest.fixture(scope="module")
def ran(folder, no_fashion_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = out / "step-summary.md"
    summary.write_text("earlier step\n")
    done = smoke(
        str(folder),
        "--steps",
        "30",
        "--samples",
        "300",
        "--workers",
        "2",
        "--junit",
        str(out / "smoke.xml"),
        "--markdown",
        str(out / "smoke.md"),
        "--format",
        "json",
        env={**no_fashion_files, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    return done, out


def rows(done) -> dict[str, dict]:
    return {Path(r["config"]).name: r for r in json.loads(done.stdout)["configs"]}


def test_failed_rows_fail_the_job_and_the_others_pass(ran):
    done, _ = ran
    assert done.returncode == 1, done.stderr
    found = rows(done)
    assert set(found) == {
        "good.yaml",
        "good_seed.yaml",
        "diverges.yaml",
        "invalid.yaml",
        "one_class.yaml",
        "fashion.yaml",
    }
    for name in ("good.yaml", "good_seed.yaml", "fashion.yaml"):
        row = found[name]
        assert row["verdict"] == "passed", row
        assert row["loss_last"] < row["loss_first"]
        assert row["steps"] == 30
        assert row["params"] > 0
    assert found["good.yaml"]["params"] == 64 * 16 + 16 + 16 * 10 + 10
    assert "key-path" not in found["invalid.yaml"]["reason"]
    assert found["invalid.yaml"]["verdict"] == "failed"
    assert "model.unitz" in found["invalid.yaml"]["reason"]
    assert found["diverges.yaml"]["verdict"] == "failed"
    assert "learning rate" in found["diverges.yaml"]["reason"]
    assert found["one_class.yaml"]["verdict"] == "failed"
    assert "one class" in found["one_class.yaml"]["reason"]
    assert "Traceback" not in done.stdout + done.stderr


def test_a_config_whose_files_are_absent_runs_on_a_stand_in(ran):
    found = rows(ran[0])
    assert found["fashion.yaml"]["data"] == "stand-in"
    assert found["good.yaml"]["data"] == "real"
    # 28x28 inputs flattened into 16 units, 10 classes: the real dataset's shape
    assert found["fashion.yaml"]["params"] == 784 * 16 + 16 + 16 * 10 + 10


def test_configs_of_one_program_share_the_compiled_model(ran):
    found = rows(ran[0])
    reused = [found[n]["reused_compiled"] for n in ("good.yaml", "good_seed.yaml")]
    assert sorted(reused) == [False, True]


def test_junit_report_reads_back_with_a_failure_per_failed_config(ran):
    _, out = ran
    suites = list(JUnitXml.fromfile(str(out / "smoke.xml")))
    cases = {Path(case.name).name: case for suite in suites for case in suite}
    assert len(cases) == 6
    assert cases["good.yaml"].is_passed
    failure = cases["diverges.yaml"].result[0]
    assert isinstance(failure, Failure)
    assert "learning rate" in failure.message
    assert cases["invalid.yaml"].result and "model.unitz" in cases["invalid.yaml"].result[0].message


def test_markdown_goes_to_the_file_and_the_job_summary(ran):
    _, out = ran
    table = (out / "smoke.md").read_text()
    assert table.startswith("### dnn-lab smoke: 3 of 6 configs passed")
    assert "| ✓ |" in table and "| ✗ |" in table
    summary = (out / "step-summary.md").read_text()
    assert summary.startswith("earlier step\n")  # appended, never overwritten
    assert table in summary


def test_data_real_refuses_the_stand_in(folder, no_fashion_files):
    done = smoke(
        str(folder / "fashion.yaml"), "--data", "real", "--steps", "5", env=no_fashion_files
    )
    assert done.returncode == 1
    assert "refuses a stand-in" in done.stdout + done.stderr


def test_a_passing_folder_exits_0_with_a_table_and_a_total(tmp_path):
    write_yaml(tmp_path / "a.yaml", merge(TINY, {"name": "a"}))
    write_yaml(tmp_path / "b.yaml", merge(TINY, {"name": "b", "model": {"units": 8}}))
    done = smoke(str(tmp_path), "--steps", "20", "--samples", "200", "--workers", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 of 2 configs passed" in done.stdout
    assert "a.yaml" in done.stdout and "b.yaml" in done.stdout
    assert "\x1b[" not in done.stdout  # piped: no colour, no cursor movement


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/"], "no such config file or folder"),
        (["--steps", "1"], "--steps"),
        (["--data", "fake"], "--data"),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, message):
    done = smoke(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_empty_folder_is_a_usage_error(tmp_path):
    done = smoke(str(tmp_path))
    assert done.returncode == 2
    assert "no config files" in done.stderr
