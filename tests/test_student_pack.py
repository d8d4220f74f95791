"""`course-grader student-pack`: everything students need, and nothing they must not see."""

from __future__ import annotations

import shutil

import pytest

from autograder import cli
from autograder.units import RELEASE, all_units

from . import contract
from . import notebooks as nb

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    out = tmp_path_factory.mktemp("pack") / "student-pack"
    assert cli.main(["--workspace", str(tmp_path_factory.mktemp("ws")), "student-pack", str(out)]) == 0
    return out


def files_in(folder):
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_pack_holds_the_release_the_helpers_and_the_set_up_files(pack):
    files = files_in(pack)
    assert {f"release/{f}" for f in files_in(RELEASE)} <= files
    assert {"course/__init__.py", "course/data.py", "course/colab.py", "README.md", "pyproject.toml",
            "environment.yml", "LICENSE", "data/README.md", "data/wine-reviews/winemag-subset.jsonl.gz"} <= files
    assert all(files_in(pack / "release" / unit.name) == files_in(RELEASE / unit.name) for unit in all_units())


def test_pack_has_no_source_tests_grader_or_mutants(pack):
    top = {path.split("/")[0] for path in files_in(pack)}
    assert top.isdisjoint({"source", "tests", "autograder", "grading", "benchmarks", "deploy"}), top
    assert not [f for f in files_in(pack) if f.endswith(("mutants.py", ".pyc")) or "__pycache__" in f]


def lines_students_see() -> frozenset[str]:
    return frozenset().union(*(nb.public_lines(nb.read(unit.notebook)) for unit in all_units()))


@pytest.mark.parametrize("unit", all_units(), ids=lambda unit: unit.name)
def test_pack_leaks_no_solution_or_hidden_test(pack, unit):
    assert contract.leaks(nb.read(unit.notebook), pack, shown_elsewhere=lines_students_see()) == []


def test_the_leak_check_catches_a_source_notebook_in_the_pack(pack, tmp_path):
    unit = all_units()[0]
    sabotaged = tmp_path / "sabotaged"
    shutil.copytree(pack, sabotaged)
    shutil.copy(unit.notebook, sabotaged / "release" / "answers.ipynb")
    found = contract.leaks(nb.read(unit.notebook), sabotaged, shown_elsewhere=lines_students_see())
    assert found, "a solution in the pack must be found"


def test_pack_installs_the_helpers_only(pack):
    project = tomllib.loads((pack / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"] == ["course"]
    assert set(project["project"]["scripts"]) == {"course-data"}


def test_student_pack_refuses_an_existing_folder(pack, tmp_path, capsys):
    assert cli.main(["--workspace", str(tmp_path), "student-pack", str(pack)]) == 2
    assert "already exists" in capsys.readouterr().err
