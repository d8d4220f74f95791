"""A new unit is one folder: added to a copy of the repository, it reaches every tool with nothing else edited.

The throwaway unit has what ADDING_A_UNIT.md asks for (a notebook with one
answer and one test cell with a hidden test, mutants.py, a README). In a copy
of the tracked files, run with this Python and the copy first on PYTHONPATH,
it must appear in the README's table, be released, keep the contract (which
grades its solution to full marks and its release to 0) and be benchmarked;
outside its folders only README.md's units table changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

from autograder import readme

from .conftest import REPOSITORY

UNIT = "99_throwaway"
NOTEBOOK = "throwaway.ipynb"
ANSWER = '''def double(x):
    """Twice ``x``."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''
TEST = '''"""Check that double doubles."""
assert double(2) == 4
### BEGIN HIDDEN TESTS
assert double(-3) == -6 and double(0.5) == 1.0
### END HIDDEN TESTS'''
MUTANTS = textwrap.dedent('''\
    """Wrong answers the hidden test must catch."""

    MUTANTS = {
        "double": {
            "adds two": [("return 2 * x", "return x + 2")],
            "squares": [("return 2 * x", "return x * x")],
        },
    }
''')
README = "# Unit 99 — A throwaway unit\n\nOne exercise is graded automatically (2 points).\n"


def nbgrader_cell(source: str, **meta):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, "solution": False, "grade": False,
                                 "locked": False, **meta}
    return cell


def throwaway_notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Unit 99 — A throwaway unit\n\n## Part 1 — Doubling (2 points)"),
        nbformat.v4.new_code_cell("from course import environment\n\nenvironment.check([], needs_data=False)"),
        nbgrader_cell(ANSWER, solution=True, grade_id="double"),
        nbgrader_cell(TEST, grade=True, locked=True, grade_id="test_double", points=2),
    ]
    return notebook


def tracked_copy(target):
    """The repository's tracked files (no .venv, no workspaces), copied to ``target``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (REPOSITORY / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPOSITORY / name, target / name)
    return target


def add_the_unit(repository):
    folder = repository / "source" / UNIT
    folder.mkdir()
    nbformat.write(throwaway_notebook(), folder / NOTEBOOK)
    (folder / "mutants.py").write_text(MUTANTS)
    (folder / "README.md").write_text(README)


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
            and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}


@pytest.mark.slow
def test_a_new_unit_folder_reaches_every_tool(tmp_path):
    copy = tracked_copy(tmp_path / "repository")
    before = snapshot(copy)
    add_the_unit(copy)
    env = dict(os.environ, PYTHONPATH=str(copy))

    def python(*args, timeout=300):
        process = subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True,
                                 timeout=timeout)
        assert process.returncode == 0, f"{' '.join(args)}:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
        return process.stdout

    where = python("-c", "import autograder, course; print(autograder.__file__); print(course.__file__)")
    assert all(line.startswith(str(copy)) for line in where.split()), f"the copy's packages must be imported: {where}"
    python("-m", "autograder.cli", "--workspace", str(tmp_path / "grading"), "release", UNIT)
    released = copy / "release" / UNIT / NOTEBOOK
    assert "double(-3)" not in released.read_text() and (copy / "release" / UNIT / "README.md").is_file()

    python("-m", "autograder.readme")
    table = readme.sections(source=copy / "source", release=copy / "release")["units"]
    assert f"| 99 | [A throwaway unit](release/{UNIT}/) | ready | 2 |" in table
    assert f"release/{UNIT}/{NOTEBOOK})" in table, "the unit's Colab link"

    tests = ["tests/test_contract.py", "tests/test_readme.py", "tests/test_prefetch.py"]
    report = python("-m", "pytest", *tests, "-k", UNIT, "-p", "no:xdist", "-p", "no:cacheprovider", "-rA", "-q",
                    timeout=600)
    passed = [line for line in report.splitlines() if line.startswith("PASSED ") and f"[{UNIT}]" in line]
    for check in ("test_a_source_runs", "test_b_release_matches", "test_c_release_holds_no", "test_d_source_gets_full",
                  "test_e_untouched_release", "test_f_every_mutant", "test_g_unanswered", "test_feedback_names",
                  "test_course_package_holds_no_answer", "test_a_units_readme_states",
                  "test_every_model_a_notebook_checks"):
        assert [line for line in passed if f"::{check}" in line], f"{check} did not pass for {UNIT}:\n{report[-3000:]}"

    python("benchmarks/run_notebooks.py", "--units", "99", "--mode", "fast", "--skip-grading")
    result = json.loads((copy / "benchmarks" / "results" / "fast" / f"{UNIT}.json").read_text())
    assert result["unit"] == UNIT and result["notebook_seconds"] > 0

    after = snapshot(copy)
    changed = sorted(name for name in after if before.get(name) != after[name])
    outside = [name for name in changed if not name.startswith((f"source/{UNIT}/", f"release/{UNIT}/",
                                                                "benchmarks/results/fast/"))]
    assert outside == ["README.md"], f"a new unit changed files outside its folders: {outside}"
    new_readme = (copy / "README.md").read_text()
    old_table = readme.sections()["units"]
    assert readme.with_section(new_readme, "units", old_table) == before["README.md"].decode(), (
        "only the units table of README.md changes")
