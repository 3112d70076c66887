"""The gate for run and sweep files, as users meet it: hostile folders never hang, never
fill the memory, never leak a file from outside the folder, never write through a link."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dnn_lab.store import files, runs
from tests.conftest import fake_run
from tests.exporters.test_export import write_sweep
from tests.store.hostile import bounded, cli, make_shape

SECRET = "root:x:0:0:the secret outside the folder"
UNSAFE = ("\x1b", "\x00", "\u202e", "\x07")


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "runs"


def test_runs_compare_and_show_survive_devices_fifos_and_huge_files(root):
    zero = fake_run(root, "20260101-100000-zero")
    make_shape(zero / runs.RUN_FILE, "device", b"")
    fifo = fake_run(root, "20260101-100001-fifo", started="2026-01-01T10:00:01+00:00")
    make_shape(fifo / runs.HISTORY_FILE, "fifo", b"")
    huge = fake_run(root, "20260101-100002-huge", started="2026-01-01T10:00:02+00:00")
    make_shape(huge / runs.METRICS_FILE, "huge", b"")
    make_shape(huge / runs.PARAMS_FILE, "deep", b"")
    fine = fake_run(root, "20260101-100003-fine", started="2026-01-01T10:00:03+00:00")

    code, output = bounded(cli, "runs", root, "--all")
    assert code == 0, output
    assert "fine" in output and "damaged" in output
    code, output = bounded(cli, "compare", root)
    assert code == 0, output
    assert "TRACEBACK" not in output

    code, output = bounded(cli, "show", zero)
    assert code == 0, output
    assert "run.json is unreadable: links to /dev/zero, outside" in output
    code, output = bounded(cli, "show", fifo)
    assert code == 0, output
    assert "history.csv is unreadable" in output and "FIFO" in output
    code, output = bounded(cli, "show", huge)
    assert code == 0, output
    assert "metrics.json is unreadable" in output and "limit" in output
    assert "params.json is unreadable" in output and "nested deeper than 32" in output
    assert bounded(cli, "show", fine)[0] == 0


def sweep_of_runs(root: Path) -> Path:
    sweep = root / "20260102-090000-acts-sweep"
    for index, activation in enumerate(("relu", "tanh")):
        fake_run(
            sweep,
            f"20260102-09000{index}-acts-{index}",
            {"name": f"acts-{index}", "model": {"activation": activation}},
            started=f"2026-01-02T09:00:0{index}+00:00",
        )
    return write_sweep(sweep)


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ("deep", "nested deeper than 32 levels"),
        ("device", "links to /dev/zero, outside"),
        ("fifo", "a FIFO"),
        ("huge", "over the 67,108,864-byte limit"),
    ],
)
def test_a_hostile_sweep_json_is_one_clear_message(root, shape, reason):
    sweep = sweep_of_runs(root)
    make_shape(sweep / runs.SWEEP_FILE, shape, b"")
    for command in (["compare", sweep], ["report", sweep], ["sweep", "--resume", sweep]):
        code, output = bounded(cli, *command)
        assert "TRACEBACK" not in output and "Recursion" not in output, (command, output)
        if shape in ("device", "fifo") and command[0] == "compare":
            # no sweep.json file: a folder of runs like any other
            assert code == 0, (command, output)
            continue
        assert code == 2, (command, output)
        assert reason in output, (command, output)


def test_report_keeps_the_base_config_from_outside_the_folder_out(root, tmp_path):
    sweep = sweep_of_runs(root)
    outside = tmp_path / "passwd"
    outside.write_text(SECRET + "\n", encoding="utf-8")
    (sweep / "base.yaml").unlink()
    (sweep / "base.yaml").symlink_to(outside)
    code, output = bounded(cli, "report", sweep, timeout=120)
    assert code == 0, output
    for name in ("report.md", "report.html"):
        assert SECRET not in (sweep / name).read_text(encoding="utf-8")


def test_report_replaces_links_instead_of_writing_through_them(root, tmp_path):
    sweep = sweep_of_runs(root)
    victims = {}
    for name in ("report.md", "report.html", "report-curves.png"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text(SECRET, encoding="utf-8")
        (sweep / name).symlink_to(victim)
        victims[name] = victim
    code, output = bounded(cli, "report", sweep, timeout=120)
    assert code == 0, output
    for name, victim in victims.items():
        assert victim.read_text(encoding="utf-8") == SECRET, name
        assert not (sweep / name).is_symlink() and (sweep / name).is_file()
    assert (sweep / "report-curves.png").read_bytes().startswith(b"\x89PNG")


def test_a_log_opened_for_writing_replaces_a_link_fifo_or_hard_link(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    victim = tmp_path / "victim"
    victim.write_text(SECRET, encoding="utf-8")
    (logs / "trial-000.log").symlink_to(victim)
    os.link(victim, logs / "trial-001.log")
    os.mkfifo(logs / "trial-002.log")
    for name in ("trial-000.log", "trial-001.log", "trial-002.log"):
        fd = files.open_for_writing(logs / name, append=name.endswith("1.log"))
        os.write(fd, b"written\n")
        os.close(fd)
        assert (logs / name).read_bytes() == b"written\n"
        assert not (logs / name).is_symlink()
    assert victim.read_text(encoding="utf-8") == SECRET
    (logs / "folder.log").mkdir()
    with pytest.raises(files.FileRefused, match="is a folder"):
        files.open_for_writing(logs / "folder.log")


def hostile_name_run(root: Path) -> Path:
    name = "ev\nil\x1b[31mRED\x1b[0m\x00\u202edesrever\x07"
    run_dir = fake_run(root, "20260101-100000-evil")
    info = json.loads((run_dir / runs.RUN_FILE).read_text(encoding="utf-8"))
    info["name"] = name
    info["config"]["name"] = name
    info["message"] = "boom\x1b]0;owned\x07"
    runs.write_json(run_dir / runs.RUN_FILE, info)
    (run_dir / runs.SUMMARY_FILE).write_text("Model\x1b[2J\n", encoding="utf-8")
    fake_run(root, "20260101-100001-plain", {"name": "plain", "seed": 8})
    return run_dir


def test_names_with_escapes_newlines_nul_and_bidi_are_shown_escaped(root):
    run_dir = hostile_name_run(root)
    for command in (["runs", root], ["show", run_dir], ["compare", root]):
        code, output = bounded(cli, *command)
        assert code == 0, (command, output)
        for char in UNSAFE:
            assert char not in output, (command, repr(char))
        assert "ev\\nil\\x1b[31mRED" in output, command
        assert "\\u202edesrever" in output, command


def test_the_report_escapes_names_too(root):
    sweep = root / "20260102-090000-evil-sweep"
    for index in range(2):
        run_dir = fake_run(sweep, f"20260102-09000{index}-evil-{index}", {"seed": index})
        info = json.loads((run_dir / runs.RUN_FILE).read_text(encoding="utf-8"))
        info["name"] = info["config"]["name"] = f"evil\x1b[2J-{index}"
        info["config"]["model"]["activation"] = ("re\u202elu", "tanh")[index]
        runs.write_json(run_dir / runs.RUN_FILE, info)
    write_sweep(sweep, name="evil\x1b[2J")
    code, output = bounded(cli, "report", sweep, timeout=120)
    assert code == 0, output
    for name in ("report.md", "report.html"):
        text = (sweep / name).read_text(encoding="utf-8")
        for char in UNSAFE:
            assert char not in text, (name, repr(char))
    assert "re\\u202elu" in (sweep / "report.md").read_text(encoding="utf-8")


def test_an_error_naming_a_hostile_path_is_escaped(tmp_path):
    folder = tmp_path / "not\x1b[2Ja run\u202e"
    folder.mkdir()
    code, output = bounded(cli, "show", folder)
    assert code == 2, output
    assert "not a run directory" in output
    assert "\x1b" not in output and "\u202e" not in output
    assert "not\\x1b[2Ja run\\u202e" in output


def test_the_sweep_view_escapes_settings_read_from_sweep_json(root):
    import yaml

    from tests.conftest import TINY

    (root / "20260102-090000-acts-sweep").mkdir(parents=True)
    sweep = write_sweep(root / "20260102-090000-acts-sweep")
    payload = json.loads((sweep / runs.SWEEP_FILE).read_text(encoding="utf-8"))
    payload["status"] = "interrupted"
    payload["trials"] = [
        {"index": 0, "overrides": {"model.activation": "re\x1b[2Jlu\u202e"}, "seed": 7}
    ]
    runs.write_json(sweep / runs.SWEEP_FILE, payload)
    (sweep / "base.yaml").write_text(yaml.safe_dump(TINY), encoding="utf-8")
    code, output = bounded(cli, "sweep", "--resume", sweep, "--dry-run")
    assert code == 0, output
    assert "model.activation=re\\x1b[2Jlu\\u202e" in output
    assert "\x1b" not in output and "\u202e" not in output
