"""course/settings.py: the one list of the course's settings, read when asked."""

from __future__ import annotations

import re
import subprocess

import pytest

from autograder.workspace import DEFAULT_ROOT, Workspace
from course import settings

from .conftest import REPOSITORY

# A variable named in the environment: "COURSE_X" quoted in Python (f-strings' prefixes too), $COURSE_X in shell.
READ_IN_PYTHON = re.compile(r"""["'](COURSE_[A-Z_]+?)(?:=|\{|["'])""")
READ_IN_SHELL = re.compile(r"\$\{?(COURSE_[A-Z_]+)")
SHELL_LOCALS = {"COURSE_ROOT"}  # the scripts' own variable for the repository, not a setting


def tracked(*patterns: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", *patterns], capture_output=True, text=True, cwd=REPOSITORY, check=True)
    declaring = {"course/settings.py", "tests/test_settings.py"}
    return [name for name in listed.stdout.splitlines() if not name.startswith("release/") and name not in declaring]


def test_every_variable_the_code_reads_is_declared_once():
    declared = [s.variable for s in settings.SETTINGS]
    assert len(declared) == len(set(declared))
    named = {match for path in tracked("*.py") for match in READ_IN_PYTHON.findall((REPOSITORY / path).read_text())}
    named |= {match for path in tracked("*.sh") for match in READ_IN_SHELL.findall((REPOSITORY / path).read_text())}
    assert named - SHELL_LOCALS - set(declared) == set(), "declare these in course/settings.py"
    assert {"COURSE_CELL_TIMEOUT", "COURSE_DATA_DIR", "COURSE_TORCH_INDEX"} <= named, "the search finds the names"


def test_every_setting_says_what_it_does():
    assert all(s.comment and s.variable.isupper() for s in settings.SETTINGS)


def test_settings_are_read_when_asked(monkeypatch):
    monkeypatch.delenv("COURSE_CELL_TIMEOUT", raising=False)
    assert settings.cell_timeout() == 120
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "7")
    assert settings.cell_timeout() == 7
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "")
    assert settings.cell_timeout() == 120, "an empty variable means the default"


def test_sandbox_limits_by_name(monkeypatch):
    monkeypatch.setenv("COURSE_SANDBOX_TMP_MB", "64")
    assert settings.sandbox_limits() == {"memory_mb": 6144, "processes": 256, "cpu_seconds": 1200, "file_mb": 1024,
                                         "tmp_mb": 64}


def test_the_grader_paths_are_hidden_from_the_kernel():
    assert settings.hidden_from_kernel() == {"COURSE_GRADING_WORKSPACE", "COURSE_GRADER_FOLDERS",
                                             "COURSE_RELEASE_DIRECTORY", "COURSE_CHECKER_STATISTICS",
                                             "COURSE_CLUSTER_CERTS", "COURSE_GRADEBOOK_URL"}


@pytest.mark.parametrize("shared", [None, "postgresql://grader@db/course"])
def test_the_workspace_owns_the_gradebook_url(tmp_path, monkeypatch, shared):
    if shared:
        monkeypatch.setenv("COURSE_GRADEBOOK_URL", shared)
    else:
        monkeypatch.delenv("COURSE_GRADEBOOK_URL", raising=False)
    workspace = Workspace(tmp_path)
    assert workspace.own_gradebook_url == f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert workspace.gradebook_url == (shared or workspace.own_gradebook_url)


def test_nbgrader_runs_in_the_workspace_the_settings_name(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_GRADING_WORKSPACE", raising=False)
    assert Workspace.from_settings().root == DEFAULT_ROOT.resolve()
    monkeypatch.setenv("COURSE_GRADING_WORKSPACE", str(tmp_path / "ws"))
    assert Workspace.from_settings().root == (tmp_path / "ws").resolve()
