"""What the contract tests need to know about nbgrader notebooks: which cells are
answers, which are tests, and how to run cells in a live kernel."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
NOT_DONE_MESSAGE = "Exercise not done yet"


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def read(path: Path):
    return nbformat.read(path, as_version=4)


def answer_cells(notebook) -> dict[str, object]:
    """Autograded answer cells (code with a solution), by grade_id."""
    return {
        nbgrader_meta(c)["grade_id"]: c
        for c in notebook.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")
    }


def test_cells(notebook) -> dict[str, object]:
    """Autograded test cells, by grade_id."""
    return {
        nbgrader_meta(c)["grade_id"]: c
        for c in notebook.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
    }


def manual_cells(notebook) -> dict[str, object]:
    """Answers graded by hand (markdown or code cells that are both solution and grade)."""
    return {
        nbgrader_meta(c)["grade_id"]: c
        for c in notebook.cells
        if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")
    }


def tests_of(exercise: str, notebook) -> dict[str, object]:
    """The test cells of one exercise: by convention their grade_id is test_<exercise>[...]."""
    return {gid: cell for gid, cell in test_cells(notebook).items() if gid.startswith(f"test_{exercise}")}


def secret_lines(notebook, min_length: int = 12) -> set[str]:
    """Distinctive lines of solutions, hidden tests and model answers of hand-graded cells."""
    secrets = set()
    for cell in notebook.cells:
        regions = SOLUTION_REGION.findall(cell.source) + HIDDEN_REGION.findall(cell.source)
        if cell.cell_type == "markdown" and nbgrader_meta(cell).get("solution"):
            regions.append(cell.source)
        for region in regions:
            secrets.update(line.strip() for line in region.splitlines() if len(line.strip()) >= min_length)
    return secrets


def public_lines(notebook) -> set[str]:
    """Lines a source notebook shows students anyway (outside solutions and hidden tests)."""
    lines = set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and nbgrader_meta(cell).get("solution"):
            continue
        visible = HIDDEN_REGION.sub("", SOLUTION_REGION.sub("", cell.source))
        lines.update(line.strip() for line in visible.splitlines())
    return lines


def hidden_test_lines(notebook, min_length: int = 12) -> set[str]:
    """Distinctive lines of the hidden tests that appear nowhere visible."""
    public = public_lines(notebook)
    hidden = {line.strip() for cell in notebook.cells for region in HIDDEN_REGION.findall(cell.source)
              for line in region.splitlines() if len(line.strip()) >= min_length}
    return {line for line in hidden if not any(line in shown for shown in public)}


def private_lines(notebook) -> set[str]:
    """Secret lines that students cannot see anyway (not part of any visible line)."""
    public = public_lines(notebook)
    return {line for line in secret_lines(notebook) if not any(line in shown for shown in public)}


@contextmanager
def live_kernel(notebook, folder: Path, timeout: int = 600):
    """A kernel that has run ``notebook`` top to bottom; yields (client, run) where
    ``run(source)`` executes more code in it and returns the error output or None."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)

        def run(source: str):
            cell = nbformat.v4.new_code_cell(source)
            client.execute_cell(cell, 0)
            errors = [o for o in cell.outputs if o.output_type == "error"]
            return errors[0] if errors else None

        yield client, run


def errors_in(notebook) -> list[str]:
    """'cell N: Name: message' for every error output of an executed notebook."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"cell {index}: {output.ename}: {output.evalue[:300]}")
    return found


def without_solution_markers(source: str) -> str:
    """A solution cell's code as a student who finished would have it: the markers removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in
                     ("### BEGIN SOLUTION", "### END SOLUTION"))


def completed_release(source_notebook, released_notebook):
    """The released notebook with every autograded answer cell filled in with the reference answer:
    the state of a student who has done the exercises."""
    answers = answer_cells(source_notebook)
    for grade_id, cell in answer_cells(released_notebook).items():
        cell.source = without_solution_markers(answers[grade_id].source)
    return released_notebook


def run_cells(path: Path, grade_ids: tuple[str, ...], namespace: dict) -> dict:
    """Run the named cells of a source notebook (solutions included) in ``namespace``."""
    cells = {nbgrader_meta(c).get("grade_id"): c.source for c in read(path).cells}
    for grade_id in grade_ids:
        exec(compile(cells[grade_id], f"{path.name}:{grade_id}", "exec"), namespace)
    return namespace
