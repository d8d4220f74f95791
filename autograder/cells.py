"""The nbgrader cell vocabulary: what each cell of a course notebook is, and its markers.

nbgrader keeps a cell's role in ``cell.metadata["nbgrader"]``:

- an *answer* is a cell with ``solution``: the student writes it. A code answer
  without ``grade`` is autograded by the test cells after it; an answer with
  ``grade`` too (markdown or code) is graded by hand;
- a *test* is a cell with ``grade`` and no ``solution``: it runs after the answers
  and earns its points when it raises nothing. Its hidden part lies between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` and is removed from the
  release; by the course's convention a test of exercise ``x`` is named ``test_x...``;
- every other code cell is the *course's* (locked or not): the student may read
  it, and what it defines is the course's, not the student's.

The grader, its feedback, the tests and the benchmarks all read cells through
this module.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# The markers' words: none may appear in a released file.
MARKERS = tuple(marker.removeprefix("### ") for marker in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN))
# The text between the markers (the line after each BEGIN marker onwards).
SOLUTION_REGION = re.compile(rf"{BEGIN_SOLUTION}\n(.*?){END_SOLUTION}", re.S)
HIDDEN_REGION = re.compile(rf"{BEGIN_HIDDEN}\n(.*?){END_HIDDEN}", re.S)
# A whole hidden block, markers and indentation included, as feedback replaces it.
HIDDEN_BLOCK = re.compile(rf"[ \t]*{BEGIN_HIDDEN}(.*?){END_HIDDEN}[ \t]*\n?", re.S)
# What an unanswered exercise holds in the release (nbgrader's ClearSolutions stubs).
NOT_DONE_MESSAGE = "Exercise not done yet"
CODE_STUB = ('# YOUR CODE HERE\nraise NotImplementedError("Exercise not done yet: replace this line with your code, '
             'then run the tests below.")')
TEXT_STUB = "YOUR ANSWER HERE"


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0))


def is_answer(cell) -> bool:
    """Any cell the student writes: autograded or graded by hand, code or markdown."""
    return bool(nbgrader_meta(cell).get("solution"))


def is_test(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade")) and not is_answer(cell)


def is_autograded_answer(cell) -> bool:
    return cell.cell_type == "code" and is_answer(cell) and not nbgrader_meta(cell).get("grade")


def is_graded_by_hand(cell) -> bool:
    return is_answer(cell) and bool(nbgrader_meta(cell).get("grade"))


def is_course_code(cell) -> bool:
    """A code cell neither an answer nor a test: the course's own code."""
    return cell.cell_type == "code" and not is_answer(cell) and not is_test(cell)


def answer_cells(notebook) -> dict[str, object]:
    """Autograded answer cells (code with a solution), by grade_id."""
    return {grade_id(c): c for c in notebook.cells if is_autograded_answer(c)}


def test_cells(notebook) -> dict[str, object]:
    """Autograded test cells, by grade_id."""
    return {grade_id(c): c for c in notebook.cells if c.cell_type == "code" and is_test(c)}


def manual_cells(notebook) -> dict[str, object]:
    """Answers graded by hand (markdown or code cells that are both solution and grade)."""
    return {grade_id(c): c for c in notebook.cells if is_graded_by_hand(c)}


def tests_of(exercise: str, notebook) -> dict[str, object]:
    """The test cells of one exercise: by convention their grade_id is test_<exercise>[...]."""
    return {gid: cell for gid, cell in test_cells(notebook).items() if gid.startswith(f"test_{exercise}")}


def without_solution_markers(source: str) -> str:
    """A solution cell's code as a student who finished would have it: the markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def run_cells(path: Path, grade_ids: tuple[str, ...], namespace: dict) -> dict:
    """Run the named cells of a source notebook (solutions included) in ``namespace``."""
    cells = {grade_id(c): c.source for c in nbformat.read(path, as_version=4).cells}
    for name in grade_ids:
        exec(compile(cells[name], f"{path.name}:{name}", "exec"), namespace)
    return namespace
