"""Trials on a Ray cluster: a real cluster of two one-CPU nodes on 127.0.0.1.

The cluster is made once for the module (a head node and a second node, each with one
CPU); each test's driver joins it with --ray-address, as a user's would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnn_lab.store import runs
from dnn_lab.store.status import Status
from dnn_lab.sweeps.state import SweepState, counted_runs
from tests.conftest import TINY, merge, write_yaml
from tests.sweeps.conftest import cli, history

# A cluster on 127.0.0.1 only: without this (read when Ray is imported) Ray turns the
# loopback address into the machine's network address before connecting to it.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

QUICK = merge(TINY, {"model": {"units": 8}, "train": {"epochs": 2, "batch_size": 128}})
# long enough that a trial is still training when its node goes or Ctrl-C comes
LONG = merge(QUICK, {"train": {"epochs": 300}})


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    local = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    made = Cluster(
        initialize_head=True,
        head_node_args={
            **local,
            "include_dashboard": False,
            # a lost node is noticed in about two seconds, not thirty
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 4},
        },
    )
    made.add_node(**local)
    made.wait_for_nodes()
    yield made
    made.shutdown()


def on_ray(cluster) -> list[str]:
    return ["--executor", "ray", "--ray-address", cluster.address]


def run_sweep(root: Path, config: Path, *args) -> Path:
    result = cli("sweep", config, "--runs-dir", root, *args)
    assert result.exit_code == 0, result.output
    (folder,) = root.glob("*-sweep")
    return folder


def start_driver(root: Path, config: Path, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dnn_lab", "sweep", str(config), "--runs-dir", str(root), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_running(root: Path, count: int, driver: subprocess.Popen, timeout: float = 120) -> Path:
    """The sweep folder, once ``count`` of its trials have been started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert driver.poll() is None, driver.stderr.read()
        for path in root.glob("*-sweep/sweep.json"):
            try:
                trials = json.loads(path.read_text())["trials"]
            except (OSError, ValueError, KeyError):
                continue
            if sum(t["status"] == Status.RUNNING for t in trials) >= count:
                return path.parent
        time.sleep(0.2)
    raise AssertionError(f"{count} trials never ran")


def node_of(trial) -> str:
    return json.loads((Path(trial.run_dir) / runs.RUN_FILE).read_text())["node"]


def test_a_sweep_on_two_nodes_gives_the_runs_of_the_same_sweep_run_locally(tmp_path, cluster):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    axes = ["--grid", "model.activation=relu,tanh", "--repeats", 2, "--workers", 2]
    remote = run_sweep(tmp_path / "ray", config, *axes, *on_ray(cluster))
    local = run_sweep(tmp_path / "local", config, *axes)

    trials, local_trials = SweepState.load(remote).trials, SweepState.load(local).trials
    assert [t.status for t in trials] == ["completed"] * 4
    for trial, alone in zip(trials, local_trials, strict=True):
        run_dir, local_dir = Path(trial.run_dir), Path(alone.run_dir)
        assert run_dir.parent == remote, "the run came back into the sweep folder"
        assert run_dir.name.split("-", 2)[2] == local_dir.name.split("-", 2)[2]  # past the stamp
        assert sorted(p.name for p in run_dir.iterdir()) == sorted(
            p.name for p in local_dir.iterdir()
        )
        assert history(run_dir) == history(local_dir), f"trial {trial.index}"
        assert trial.value == alone.value
        assert "completed" in trial.log_path(remote).read_text(), "the log travels too"
    assert len({node_of(t) for t in trials}) == 2, "both nodes trained trials"
    assert not list(remote.glob(".incoming-*"))
    shown = cli("compare", remote, "--format", "json")  # per setting, over the seeds
    assert shown.exit_code == 0 and len(json.loads(shown.output)["settings"]) == 2, shown.output


def test_a_node_lost_mid_sweep_loses_no_trial_and_counts_none_twice(tmp_path, cluster):
    third = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    cluster.wait_for_nodes()
    config = write_yaml(tmp_path / "long.yaml", LONG)
    driver = start_driver(tmp_path, config, "--repeats", "3", "--workers", "3", *on_ray(cluster))
    folder = wait_running(tmp_path, 3, driver)  # one trial a node: one is on the third
    time.sleep(4)  # its process is up and training
    cluster.remove_node(third, allow_graceful=False)
    assert driver.wait(timeout=300) == 0, driver.stderr.read()

    state = SweepState.load(folder)
    assert [t.status for t in state.trials] == ["completed"] * 3
    dirs = [p for p in folder.iterdir() if runs.is_run_dir(p)]
    assert sorted(dirs) == sorted(Path(t.run_dir) for t in state.trials), "one run per trial"
    assert third.node_id not in {node_of(t) for t in state.trials}, "retried elsewhere"


def test_ctrl_c_interrupts_the_trials_and_resume_finishes_the_sweep(tmp_path, cluster):
    config = write_yaml(tmp_path / "long.yaml", LONG)
    driver = start_driver(tmp_path, config, "--repeats", "3", "--workers", "2", *on_ray(cluster))
    folder = wait_running(tmp_path, 2, driver)
    time.sleep(3)
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=120) == 130, driver.stderr.read()
    state = SweepState.load(folder)
    assert state.status == Status.INTERRUPTED
    statuses = [t.status for t in state.trials]
    assert statuses.count(Status.INTERRUPTED) >= 2, f"the running trials stopped: {statuses}"
    assert not {Status.RUNNING, "pending"} & {t.status for t in state.trials}

    resumed = cli("sweep", "--resume", folder, *on_ray(cluster))
    assert resumed.exit_code == 0, resumed.output
    state = SweepState.load(folder)
    assert [t.status for t in state.trials] == ["completed"] * 3
    assert len(counted_runs([folder])) == 3


def test_without_ray_the_ray_executor_is_one_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if not installed
    monkeypatch.delitem(sys.modules, "dnn_lab.sweeps.ray_executor", raising=False)
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli(
        "sweep", config, "--repeats", 2, "--runs-dir", tmp_path / "runs", "--executor", "ray"
    )
    assert result.exit_code == 2
    assert "pip install 'dnn-lab[ray]'" in result.output
    assert not list(tmp_path.glob("runs/*"))


def test_a_cluster_nobody_answers_at_is_one_clear_error_at_once(tmp_path):
    pytest.importorskip("ray")
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    started = time.monotonic()
    result = cli(
        "sweep", config, "--repeats", 2, "--runs-dir", tmp_path / "runs",
        "--executor", "ray", "--ray-address", "127.0.0.1:1",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in result.output
    assert time.monotonic() - started < 30
    assert not list(tmp_path.glob("runs/*"))


def test_ray_options_need_the_ray_executor(tmp_path):
    config = write_yaml(tmp_path / "quick.yaml", QUICK)
    result = cli("sweep", config, "--repeats", 2, "--gpus-per-trial", 0.5)
    assert result.exit_code == 2
    assert "--gpus-per-trial: only with --executor ray" in result.output


def test_nothing_imports_ray_unless_its_executor_is_chosen():
    code = (
        "import sys; import dnn_lab.cli, dnn_lab.sweeps.runner, dnn_lab.sweeps.executor; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
