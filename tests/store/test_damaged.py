"""compare, show and runs on damaged run directories: exit 0 (or 2 for a user error), never 1.

Named cases first, then a fuzzer that mutates a valid run directory (wrong types, missing
and extra keys, huge and non-finite numbers, deep nesting, truncation, binary garbage).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dnn_lab.cli import app
from dnn_lab.store import runs
from dnn_lab.store.status import Status
from tests.conftest import fake_run

runner = CliRunner()


def invoke(*args) -> str:
    """Run a command; it must end in exit 0 or 2 with no exception. Its output."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 2), (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def every_reader(root: Path, run: Path) -> None:
    for fmt in ("table", "markdown", "csv", "json"):
        invoke("compare", root, "--format", fmt)
    invoke("compare", root, "--by", "model.activation")
    invoke("show", run)
    invoke("runs", root, "--all")


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


@pytest.fixture
def root(tmp_path):
    fake_run(tmp_path / "runs", "good", {"name": "good"})
    return tmp_path / "runs"


def test_a_pid_too_large_for_the_os_reads_as_crashed(root):
    run = fake_run(root, "huge-pid", status="running", metrics=False)
    edit_json(run / runs.RUN_FILE, host=socket.gethostname(), pid=2**70)
    assert runs.read_run(run).status == Status.CRASHED
    every_reader(root, run)


def test_started_as_a_number_is_damage_not_a_crash(root):
    run = fake_run(root, "number-started")
    edit_json(run / runs.RUN_FILE, started=20260101)
    assert runs.read_run(run).status == Status.DAMAGED
    assert "started should be a string" in invoke("show", run)
    every_reader(root, run)


def test_best_as_a_list(root):
    run = fake_run(root, "best-list")
    edit_json(run / runs.METRICS_FILE, best=[0.5, 0.7])
    every_reader(root, run)


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json(root, depth):
    run = fake_run(root, "deep")
    (run / runs.METRICS_FILE).write_text('{"best": ' + "[" * depth + "]" * depth + "}")
    (run / runs.PARAMS_FILE).write_text("[" * depth + "]" * depth)
    assert runs.read_run(run).status == Status.DAMAGED
    every_reader(root, run)


def test_a_layer_without_output_shape(root):
    run = fake_run(root, "no-shape")
    layers = [{"name": "[/bold]", "class": "Dense", "trainable": 10}]
    (run / runs.PARAMS_FILE).write_text(json.dumps({"layers": layers, "totals": [1]}))
    assert "[/bold]" in invoke("show", run)
    every_reader(root, run)


def test_a_200_kb_field_in_history_csv(root):
    run = fake_run(root, "wide", status="running", metrics=False)
    text = (run / runs.HISTORY_FILE).read_text()
    (run / runs.HISTORY_FILE).write_text(text + "3," + "9" * 200_000 + "\n")
    found = runs.read_run(run)
    assert len(found.history) == 2 and any("history.csv" in p for p in found.problems)
    every_reader(root, run)


def test_a_symlink_loop_inside_runs(root):
    (root / "loop").symlink_to(root / "loop")
    (root / "parent").symlink_to(root)
    names = [line.split()[0] for line in invoke("runs", root).splitlines()[3:] if line.strip()]
    assert names == ["good"]
    every_reader(root, root / "good")


@pytest.mark.parametrize(
    ("target", "message"),
    [("missing/curves.png", "no folder"), ("curves.txt", "unknown image format")],
)
def test_plot_to_a_missing_folder_or_an_unknown_format(root, tmp_path, target, message):
    for command in (["compare", root], ["show", root / "good"]):
        result = runner.invoke(app, [*map(str, command), "--plot", str(tmp_path / target)])
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / target).exists()


# --------------------------------------------------------------------------- the fuzzer

FILES = [
    runs.RUN_FILE,
    runs.METRICS_FILE,
    runs.PARAMS_FILE,
    runs.HISTORY_FILE,
    runs.CONFIG_FILE,
    runs.DIAGNOSTICS_FILE,
]
JSON_FILES = [runs.RUN_FILE, runs.METRICS_FILE, runs.PARAMS_FILE]
KEYS = [
    "status",
    "name",
    "started",
    "pid",
    "host",
    "seed",
    "params",
    "config",
    "data",
    "device",
    "command",
    "init_from",
    "git",
    "message",
    "best",
    "final",
    "monitor",
    "best_epoch",
    "epochs_run",
    "test",
    "mc_dropout",
    "seconds_per_epoch",
    "layers",
    "totals",
    "unknown",
]
WEIRD = st.sampled_from(
    [
        2**70,
        -(2**70),
        10**400,
        -1,
        0,
        1e308,
        float("nan"),
        float("inf"),
        "[/bold]",
        "",
        True,
        [],
        {},
        [[[[]]]],
        {"name": None},
        "9" * 5000,
        socket.gethostname(),
        "running",
        "completed",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | WEIRD,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
mutations = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(JSON_FILES), st.sampled_from(KEYS), json_values),
    st.tuples(st.just("drop"), st.sampled_from(JSON_FILES), st.sampled_from(KEYS)),
    st.tuples(st.just("deep"), st.sampled_from(JSON_FILES), st.sampled_from([40, 5000])),
    st.tuples(st.just("cut"), st.sampled_from(FILES), st.floats(0, 1)),
    st.tuples(st.just("bytes"), st.sampled_from(FILES), st.binary(max_size=64)),
    st.tuples(st.just("remove"), st.sampled_from(FILES)),
    st.tuples(
        st.just("line"),
        st.sampled_from([runs.HISTORY_FILE, runs.DIAGNOSTICS_FILE]),
        st.text(max_size=30) | st.sampled_from(["1," + "9" * 200_000, "\x00,1", "nan,inf,-inf"]),
    ),
)


def mutate(run: Path, mutation: tuple) -> None:
    kind, name, *args = mutation
    path = run / name
    if kind == "remove":
        path.unlink(missing_ok=True)
        return
    old = path.read_bytes() if path.exists() else b""
    if kind in ("set", "drop"):
        try:
            data = json.loads(old)
        except (ValueError, RecursionError):
            return
        if not isinstance(data, dict):
            return
        if kind == "set":
            data[args[0]] = args[1]
        else:
            data.pop(args[0], None)
        path.write_text(json.dumps(data))  # NaN and Infinity as JSON's readers accept them
    elif kind == "deep":
        path.write_text('{"config": ' + "[" * args[0] + "]" * args[0] + "}")
    elif kind == "cut":
        path.write_bytes(old[: int(len(old) * args[0])])
    elif kind == "bytes":
        path.write_bytes(old[: len(old) // 2] + args[0])
    else:
        path.write_bytes(old + args[0].encode("utf-8", "replace") + b"\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A valid run (with params.json and diagnostics.csv) to copy and damage."""
    root = tmp_path_factory.mktemp("template")
    run = fake_run(root, "run")
    layers = [{"name": "hidden_1", "class": "Dense", "output_shape": [None, 16], "trainable": 1}]
    (run / runs.PARAMS_FILE).write_text(json.dumps({"layers": layers, "totals": {"total": 1}}))
    (run / runs.DIAGNOSTICS_FILE).write_text("epoch,layer,metric,value\n1,hidden_1,grad_norm,0.5\n")
    return run


# 40 fixed cases in CI (about 10 s); DNN_LAB_FUZZ_CASES=2000 explores fresh random ones
FUZZ_CASES = int(os.environ.get("DNN_LAB_FUZZ_CASES", "40"))


def fuzz_settings(cases: int):
    """Hypothesis settings: fixed cases (derandomized) up to 40, fresh random ones above."""
    return settings(
        max_examples=cases,
        deadline=None,
        derandomize=cases <= 40,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@fuzz_settings(FUZZ_CASES)
@given(st.lists(mutations, min_size=1, max_size=4))
def test_mutated_run_directories(template, changes):
    root = Path(tempfile.mkdtemp())
    try:
        run = root / "runs" / "damaged"
        shutil.copytree(template, run)
        shutil.copytree(template, root / "runs" / "intact")
        for change in changes:
            mutate(run, change)
        every_reader(root / "runs", run)
    finally:
        shutil.rmtree(root)


def test_plots_of_damaged_histories(root, tmp_path):
    run = fake_run(root, "odd-epochs", status="running", metrics=False)
    text = (run / runs.HISTORY_FILE).read_text()
    extra = ",0.1,0.2,inf,nan,,\n99999999999999999999999,1e308,,,,,\n"
    (run / runs.HISTORY_FILE).write_text(text + extra)
    assert len(runs.read_run(run).history) == 4
    for command in (
        ["compare", root],
        ["compare", root, "--by", "model.activation"],
        ["show", run],
    ):
        target = tmp_path / f"{len(command)}-{command[0]}.png"
        invoke(*command, "--plot", target)
        assert target.read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- sweep folders
# report and `sweep --resume --dry-run` on a damaged sweep.json: exit 0, or 2 with one
# message naming the file and the field; never a traceback.

SWEEP_KEYS = [
    "name",
    "search",
    "grid",
    "space",
    "repeats",
    "planned",
    "seed",
    "monitor",
    "direction",
    "status",
    "created",
    "prune",
    "trials",
    "base_config",
    "unknown",
]
TRIAL_KEYS = ["index", "overrides", "seed", "status", "run_dir", "value", "epochs", "message"]


@pytest.fixture(scope="module")
def sweep_template(tmp_path_factory):
    """A sweep folder of two trials, one completed and one to run again."""
    import yaml

    from dnn_lab.direction import Direction
    from dnn_lab.sweeps.state import BASE_FILE, SweepState, Trial
    from tests.conftest import TINY

    folder = tmp_path_factory.mktemp("sweeps") / "s-sweep"
    trials = []
    for index, activation in enumerate(("relu", "tanh")):
        run = fake_run(
            folder,
            f"20260101-10000{index}-s-00{index}",
            {"name": f"s-00{index}", "model": {"activation": activation}},
        )
        trials.append(
            Trial(
                index=index,
                overrides={"model.activation": activation},
                seed=7,
                status="completed" if index == 0 else "interrupted",
                run_dir=str(run),
                value=0.7,
                epochs=2,
            )
        )
    SweepState(
        folder=folder,
        name="s",
        search="grid",
        grid={"model.activation": ["relu", "tanh"]},
        space={},
        repeats=1,
        planned=2,
        seed=7,
        monitor="val_accuracy",
        direction=Direction.MAX,
        trials=trials,
    ).save()
    (folder / BASE_FILE).write_text(yaml.safe_dump(TINY))
    return folder


def every_sweep_reader(folder: Path) -> list[str]:
    return [invoke("report", folder), invoke("sweep", "--resume", folder, "--dry-run")]


@pytest.fixture
def sweep(sweep_template, tmp_path):
    folder = tmp_path / "s-sweep"
    shutil.copytree(sweep_template, folder)
    return folder


def test_an_intact_sweep_reports_and_plans_its_resume(sweep):
    report, plan = every_sweep_reader(sweep)
    assert "wrote" in report and (sweep / "report.md").exists()
    assert "1 trials would run; kept: 1 completed" in plan


def _sweep_json(folder: Path) -> dict:
    return json.loads((folder / runs.SWEEP_FILE).read_text())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: "", "the file is empty"),
        (lambda d: json.dumps(d)[:200], "not valid JSON (line 1, column"),
        (lambda d: json.dumps({**d, "colour": 1}), "colour: unknown key"),
        (lambda d: json.dumps({**d, "grid": []}), "grid: expected a mapping; received []"),
        (lambda d: json.dumps({**d, "trials": {}}), "trials: expected a list; received {}"),
        (lambda d: json.dumps([d]), "the file: expected a mapping; received [{"),
        (
            lambda d: json.dumps({**d, "trials": [d["trials"][0], [1]]}),
            "trials[1]: expected a mapping; received [1]",
        ),
        (
            lambda d: json.dumps(
                {**d, "trials": [d["trials"][0], {**d["trials"][1], "seed": "7"}]}
            ),
            "trials[1].seed: expected an integer; received '7'",
        ),
        (
            lambda d: json.dumps({k: v for k, v in d.items() if k != "repeats"}),
            "repeats: missing",
        ),
    ],
)
def test_a_damaged_sweep_json_is_one_message_naming_the_file_and_the_field(sweep, damage, message):
    path = sweep / runs.SWEEP_FILE
    path.write_text(damage(_sweep_json(sweep)))
    commands = [["sweep", "--resume", sweep, "--dry-run"]]
    if not message.endswith(": missing"):  # a report reads the fields it finds; a resume all
        commands.append(["report", sweep])
    for command in commands:
        result = runner.invoke(app, [str(a) for a in command])
        assert result.exit_code == 2, (command, result.output, result.exception)
        assert f"error: {path}" in result.output and message in result.output, result.output
        assert "Traceback" not in result.output
    if len(commands) == 2:
        assert not (sweep / "report.md").exists()


sweep_mutations = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(SWEEP_KEYS), json_values),
    st.tuples(st.just("drop"), st.sampled_from(SWEEP_KEYS)),
    st.tuples(st.just("trial"), st.integers(0, 1), st.sampled_from(TRIAL_KEYS), json_values),
    st.tuples(st.just("untrial"), st.integers(0, 1), st.sampled_from(TRIAL_KEYS)),
    st.tuples(st.just("cut"), st.floats(0, 1)),
    st.tuples(st.just("bytes"), st.binary(max_size=64)),
)


def mutate_sweep(folder: Path, mutation: tuple) -> None:
    kind, *args = mutation
    path = folder / runs.SWEEP_FILE
    old = path.read_bytes()
    if kind == "cut":
        path.write_bytes(old[: int(len(old) * args[0])])
        return
    if kind == "bytes":
        path.write_bytes(old[: len(old) // 2] + args[0])
        return
    try:
        data = json.loads(old)
    except (ValueError, RecursionError):
        return
    if not isinstance(data, dict):
        return
    if kind == "set":
        data[args[0]] = args[1]
    elif kind == "drop":
        data.pop(args[0], None)
    else:
        trials = data.get("trials")
        if not isinstance(trials, list) or len(trials) <= args[0]:
            return
        if not isinstance(trials[args[0]], dict):
            return
        if kind == "trial":
            trials[args[0]][args[1]] = args[2]
        else:
            trials[args[0]].pop(args[1], None)
    path.write_text(json.dumps(data))


# 25 fixed cases in CI (a report draws its curves: about 10 s); DNN_LAB_FUZZ_CASES for more
SWEEP_FUZZ_CASES = int(os.environ.get("DNN_LAB_FUZZ_CASES", "25"))


@fuzz_settings(SWEEP_FUZZ_CASES)
@given(st.lists(sweep_mutations, min_size=1, max_size=3))
def test_mutated_sweep_json(sweep_template, changes):
    root = Path(tempfile.mkdtemp())
    try:
        folder = root / "s-sweep"
        shutil.copytree(sweep_template, folder)
        for change in changes:
            mutate_sweep(folder, change)
        every_sweep_reader(folder)
    finally:
        shutil.rmtree(root)
