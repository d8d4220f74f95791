"""The contract every unit in source/ keeps, checked unit by unit:

(a) the source notebook runs top to bottom in fast mode;
(b) release/ equals a fresh nbgrader generate_assignment;
(c) release/ holds no solution text and no hidden test;
(d) autograding the source gives full marks on every autograded cell;
(e) autograding the untouched release gives 0 on each, and the grader finishes;
(f) every exercise has at least two mutants, and each loses points;
(g) every exercise in release/ fails with a helpful message until filled in.

A new unit is a new folder in source/: it is picked up here with no change.
"""

from __future__ import annotations

import csv
import runpy
import shutil

import pytest

from autograder import cli
from autograder.units import RELEASE, all_units

from . import notebooks as nb

UNITS = all_units()
pytestmark = pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])


@pytest.fixture(scope="session")
def executed_source():
    """(a) Each source notebook run once in a live kernel, kept for the mutants."""
    cache = {}

    def run(unit):
        if unit.name not in cache:
            notebook = nb.read(unit.notebook)
            context = nb.live_kernel(notebook, unit.folder)
            client, runner = context.__enter__()
            cache[unit.name] = (notebook, runner, context)
        return cache[unit.name]

    yield run
    for _, _, context in cache.values():
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


def test_b_release_matches_a_fresh_generate_assignment(unit, tmp_path):
    cli.release([unit], release_directory=tmp_path, workspace=tmp_path / "workspace")
    fresh = sorted(p.relative_to(tmp_path / unit.name) for p in (tmp_path / unit.name).rglob("*") if p.is_file())
    committed = sorted(p.relative_to(RELEASE / unit.name) for p in (RELEASE / unit.name).rglob("*") if p.is_file())
    assert committed == fresh, "release/ has files a fresh release does not (or lacks some): run `course-grader release`"
    for relative in fresh:
        assert (RELEASE / unit.name / relative).read_bytes() == (tmp_path / unit.name / relative).read_bytes(), (
            f"release/{unit.name}/{relative} differs from a fresh release: never edit release/ by hand, "
            "run `course-grader release`"
        )


def test_c_release_holds_no_solution_or_hidden_test(unit):
    source = nb.read(unit.notebook)
    secrets = nb.secret_lines(source) - nb.public_lines(source)
    assert secrets, "the source notebook should have solutions and hidden tests"
    for path in (RELEASE / unit.name).rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{path} contains {marker!r}"
        leaked = sorted(line for line in secrets if line in text)
        assert leaked == [], f"{path} leaks solution or hidden-test lines: {leaked[:5]}"
    assert not (RELEASE / unit.name / "mutants.py").exists(), "mutants are test material, not for students"


def test_d_source_gets_full_marks(unit, graded):
    _, rows, _ = graded(unit)
    solution = rows["solution"]
    assert solution["status"] == "graded", solution["status"]
    tests = nb.test_cells(nb.read(unit.notebook))
    for grade_id, cell in tests.items():
        points = float(nb.nbgrader_meta(cell)["points"])
        assert float(solution[grade_id]) == points, f"{grade_id}: {solution[grade_id]} of {points}"


def test_e_untouched_release_gets_zero_and_grading_finishes(unit, graded):
    exit_code, rows, _ = graded(unit)
    assert exit_code == 0, "the grader must finish every submission of a normal class"
    blank = rows["blank"]
    assert blank["status"] == "graded", blank["status"]
    for grade_id in nb.test_cells(nb.read(unit.notebook)):
        assert float(blank[grade_id]) == 0, f"{grade_id} gave points to an unanswered notebook"


def test_f_every_mutant_loses_points(unit, executed_source):
    notebook, run, _ = executed_source(unit)
    mutants = runpy.run_path(str(unit.folder / "mutants.py"))["MUTANTS"]
    answers = nb.answer_cells(notebook)
    assert set(mutants) == set(answers), "mutants.py must cover exactly the answer cells"
    survivors = []
    for exercise, cell in answers.items():
        tests = nb.tests_of(exercise, notebook)
        assert tests, f"{exercise} has no test cell named test_{exercise}..."
        assert len(mutants[exercise]) >= 2, f"{exercise} needs at least two mutants"
        for name, edits in mutants[exercise].items():
            mutated = cell.source
            for old, new in edits:
                assert old in mutated, f"mutant {exercise}/{name}: {old!r} is not in the solution"
                mutated = mutated.replace(old, new)
            failures = [gid for gid, test in tests.items() if (run(mutated) or run(test.source)) is not None]
            if not failures:
                survivors.append(f"{exercise}: {name}")
        assert run(cell.source) is None
        assert all(run(test.source) is None for test in tests.values()), f"{exercise}: the solution fails its own tests"
    assert survivors == [], f"the hidden tests let these wrong answers through: {survivors}"


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
