"""run.json's git record: the commit of the config's repository, and whether the config
differs from it, read from a real repository."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import dnn_lab
from dnn_lab.store import runs
from dnn_lab.training.provenance import GitLookup
from tests.conftest import TINY, write_yaml

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repository(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    git(folder, "config", "user.email", "someone@example.com")
    git(folder, "config", "user.name", "someone")
    config = write_yaml(folder / "tiny.yaml", TINY)
    git(folder, "add", "tiny.yaml")
    git(folder, "commit", "-q", "-m", "a config")
    return config


def test_a_committed_config_records_its_commit(repository):
    assert GitLookup(repository).result() == {
        "commit": git(repository.parent, "rev-parse", "HEAD"),
        "config_modified": False,
    }


def test_an_edited_config_says_it_differs_from_its_commit(repository):
    repository.write_text(repository.read_text() + "\n# edited\n")
    assert GitLookup(repository).result()["config_modified"] is True


def test_outside_a_repository_or_without_a_config_there_is_no_record(tmp_path):
    config = write_yaml(tmp_path / "loose.yaml", TINY)
    assert GitLookup(config).result() is None
    assert GitLookup(None).result() is None


def test_a_run_of_a_committed_config_records_the_commit(repository, tmp_path):
    run = dnn_lab.train(repository, runs_dir=tmp_path / "runs", quiet=True)
    record = json.loads((run.path / runs.RUN_FILE).read_text())
    assert record["git"] == {
        "commit": git(repository.parent, "rev-parse", "HEAD"),
        "config_modified": False,
    }
