"""The contract every unit in source/ keeps, checked unit by unit:

(a) the source notebook runs top to bottom in fast mode;
(b) release/ equals a fresh nbgrader generate_assignment;
(c) release/ holds no solution text and no hidden test;
(d) autograding the source gives full marks on every autograded cell;
(e) autograding the untouched release gives 0 on each, and the grader finishes;
(f) every exercise has at least two mutants, and each loses points (its tests run in the checker, as at grading);
(g) every exercise in release/ fails with a helpful message until filled in.

A new unit is a new folder in source/: it is picked up here with no change.
"""

from __future__ import annotations

import csv
import html
import os
import runpy
import shutil

import pytest

from autograder import cli
from course import data
from autograder.units import RELEASE, REPOSITORY, all_units
from autograder.workspace import Workspace

from . import contract
from . import notebooks as nb

# One xdist group per unit: its tests share one kernel and one grading run.
UNITS = [pytest.param(u, id=u.name, marks=pytest.mark.xdist_group(u.name)) for u in all_units()]
pytestmark = pytest.mark.parametrize("unit", UNITS)


@pytest.fixture(scope="session")
def executed_source():
    """(a) Each source notebook run once in a live kernel, kept for the mutants."""
    cache = {}

    def run(unit):
        if unit.name not in cache:
            notebook = nb.read(unit.notebook)
            context = nb.live_kernel(notebook, unit.folder)
            client, runner = context.__enter__()
            cache[unit.name] = (notebook, runner, client, context)
        return cache[unit.name][:3]

    yield run
    for *_, context in cache.values():
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """The source (as student "solution") and the untouched release (as "blank"), graded for real."""
    cache = {}

    def grade(unit):
        if unit.name not in cache:
            workspace = tmp_path_factory.mktemp(f"grading-{unit.name}")
            submissions = workspace / "inbox"
            submissions.mkdir()
            shutil.copy(unit.notebook, submissions / f"solution_{unit.notebook.name}")
            shutil.copy(RELEASE / unit.name / unit.notebook.name, submissions / f"blank_{unit.notebook.name}")
            assert cli.main(["--workspace", str(workspace), "collect", unit.name, str(submissions)]) == 0
            exit_code = cli.main(["--workspace", str(workspace), "grade", unit.name])
            with (workspace / f"scores-{unit.name}.csv").open() as handle:
                rows = {row["student_id"]: row for row in csv.DictReader(handle)}
            cache[unit.name] = (exit_code, rows, workspace)
        return cache[unit.name]

    return grade


def test_a_source_runs_in_fast_mode(unit, executed_source):
    notebook, _, _ = executed_source(unit)
    assert nb.errors_in(notebook) == []


def test_a_source_reads_the_data_it_names(unit, executed_source):
    """Its environment check names the data it read; with no COURSE_DATA_DIR, the subset the project ships."""
    notebook, _, _ = executed_source(unit)
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.get("outputs", []))
    data_lines = [line for line in printed.splitlines() if line.startswith(("OK    data:", "INFO  data:"))]
    assert len(data_lines) == 1, "the environment check prints one line about the data"
    if os.environ.get("COURSE_DATA_DIR"):
        pytest.skip("COURSE_DATA_DIR is set: the shipped subset is not the only data here")
    assert str(data.SHIPPED_SUBSET.path) in data_lines[0] or "uses no dataset" in data_lines[0], data_lines[0]


def test_b_release_matches_a_fresh_generate_assignment(unit, tmp_path):
    cli.release([unit], Workspace(tmp_path / "workspace"), release_directory=tmp_path)
    differences = contract.release_differences(RELEASE / unit.name, tmp_path / unit.name)
    assert differences == [], "release/ was edited by hand or is stale: run `course-grader release`"


def test_c_release_holds_no_solution_or_hidden_test(unit):
    source = nb.read(unit.notebook)
    assert nb.secret_lines(source), "the source notebook should have solutions and hidden tests"
    assert contract.leaks(source, RELEASE / unit.name) == []


def test_d_source_gets_full_marks(unit, graded):
    _, rows, _ = graded(unit)
    solution = rows["solution"]
    assert solution["status"] == "graded", solution["status"]
    tests = nb.test_cells(nb.read(unit.notebook))
    for grade_id, cell in tests.items():
        points = float(nb.nbgrader_meta(cell)["points"])
        assert float(solution[grade_id]) == points, f"{grade_id}: {solution[grade_id]} of {points}"
    for grade_id in nb.manual_cells(nb.read(unit.notebook)):
        assert solution[grade_id] == "to grade by hand", f"{grade_id} is an answer for the instructor to read"


def test_e_untouched_release_gets_zero_and_grading_finishes(unit, graded):
    exit_code, rows, _ = graded(unit)
    assert exit_code == 0, "the grader must finish every submission of a normal class"
    blank = rows["blank"]
    assert blank["status"] == "graded", blank["status"]
    for grade_id in nb.test_cells(nb.read(unit.notebook)):
        assert float(blank[grade_id]) == 0, f"{grade_id} gave points to an unanswered notebook"


def test_f_every_mutant_loses_points(unit, executed_source):
    notebook, run, client = executed_source(unit)
    mutants = runpy.run_path(str(unit.folder / "mutants.py"))["MUTANTS"]
    answers = nb.answer_cells(notebook)
    assert set(mutants) == set(answers), "mutants.py must cover exactly the answer cells"
    for exercise in answers:
        assert nb.tests_of(exercise, notebook), f"{exercise} has no test cell named test_{exercise}..."
        assert len(mutants[exercise]) >= 2, f"{exercise} needs at least two mutants"
    release = nb.read(RELEASE / unit.name / unit.notebook.name)
    tests = list(nb.test_cells(notebook).values())
    with nb.checker_beside(client, release, tests) as run_test:
        assert contract.mutant_survivors(notebook, run, mutants, run_test) == [], \
            "the hidden tests let wrong answers through"
        for exercise, cell in answers.items():
            assert run(cell.source) is None
            assert all(run_test(t) is None for t in nb.tests_of(exercise, notebook).values()), exercise

def test_feedback_names_tests_but_hides_their_hidden_code(unit, graded):
    _, _, workspace = graded(unit)
    hidden = nb.hidden_test_lines(nb.read(unit.notebook))
    assert hidden, "the unit should have hidden tests"
    for student in ("solution", "blank"):
        page = (workspace / "feedback" / student / unit.name / unit.notebook.with_suffix(".html").name).read_text()
        page = html.unescape(page)
        assert [line for line in hidden if line in page] == [], f"{student}'s feedback shows hidden tests"
        assert "their code is not shown" in page
    assert nb.NOT_DONE_MESSAGE in page, "the blank notebook's feedback says what to do"


def test_course_package_holds_no_answer(unit):
    """course/ is infrastructure: it defines no name an answer defines, re-implements no
    answer under another name (statements compared by shape), and holds no solution line."""
    source = nb.read(unit.notebook)
    answers = nb.answer_cells(source)
    unchecked = [grade_id for grade_id, cell in answers.items() if not contract.solution_statements(cell)]
    assert unchecked == [], "every answer must have solution statements to compare"
    modules = {str(path.relative_to(REPOSITORY)): path.read_text()
               for path in sorted((REPOSITORY / "course").rglob("*.py"))}
    assert contract.reimplementations(source, modules) == []
    secrets = nb.private_lines(source)
    for name, text in modules.items():
        assert [line for line in secrets if line in text] == [], f"{name} holds solution lines"


def test_g_unanswered_exercises_fail_with_a_helpful_message(unit, graded):
    _, _, workspace = graded(unit)
    blank = nb.read(workspace / "autograded" / "blank" / unit.name / unit.notebook.name)
    released = nb.read(RELEASE / unit.name / unit.notebook.name)
    for grade_id, cell in nb.answer_cells(released).items():
        assert nb.NOT_DONE_MESSAGE in cell.source, f"{grade_id}: the release stub should say what to do"
    for grade_id, cell in nb.test_cells(blank).items():
        messages = [o.evalue for o in cell.outputs if o.output_type == "error"]
        assert messages, f"{grade_id} passed on an unanswered notebook"
        assert nb.NOT_DONE_MESSAGE in messages[0], f"{grade_id} failed with {messages[0]!r}, not the helpful message"
