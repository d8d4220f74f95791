"""What the contract tests need to know about nbgrader notebooks: which cells are
answers, which are tests, and how to run cells in a live kernel."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from autograder import checker
from autograder.cells import (  # noqa: F401 (the tests read the cell vocabulary through this module)
    HIDDEN_REGION, NOT_DONE_MESSAGE, SOLUTION_REGION, answer_cells, is_answer, manual_cells, nbgrader_meta, run_cells,
    test_cells, tests_of, without_solution_markers,
)


def read(path: Path):
    return nbformat.read(path, as_version=4)


def secret_lines(notebook, min_length: int = 12) -> set[str]:
    """Distinctive lines of solutions, hidden tests and model answers of hand-graded cells."""
    secrets = set()
    for cell in notebook.cells:
        regions = SOLUTION_REGION.findall(cell.source) + HIDDEN_REGION.findall(cell.source)
        if cell.cell_type == "markdown" and is_answer(cell):
            regions.append(cell.source)
        for region in regions:
            secrets.update(line.strip() for line in region.splitlines() if len(line.strip()) >= min_length)
    return secrets


def public_lines(notebook) -> set[str]:
    """Lines a source notebook shows students anyway (outside solutions and hidden tests)."""
    lines = set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and is_answer(cell):
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


@contextmanager
def checker_beside(client: NotebookClient, release, tests: list, timeout: int = 600):
    """A checker kernel (autograder/checker_kernel.py, as the grader starts it but unsandboxed) beside the
    live kernel of ``client``; yields ``run_test(cell)``, which runs one test cell there as the grader does
    (the course definitions it needs, the student's names as proxies) and returns its error, or None."""
    definitions = checker.CourseDefinitions(release, tests)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    kernel = manager.client()
    kernel.start_channels()

    def execute(code: str):
        reply = kernel.execute_interactive(code, timeout=timeout, output_hook=lambda message: None,
                                           stop_on_error=False)  # a failed test must not abort the finish after it
        return None if reply["content"]["status"] == "ok" else reply["content"]

    try:
        kernel.wait_for_ready(timeout=60)
        student = client.km
        connection = dict(student.get_connection_info(), key=student.session.key.decode())
        assert execute(f"from autograder import checker_kernel as _checker\n"
                       f"_checker.connect({connection!r}, {float(timeout)!r})") is None
        course_code, _ = definitions.before(tests[-1])
        assert execute(f"_checker.prepare({course_code!r}, [])\n_checker.finish()") is None

        def run_test(cell):
            _, names = definitions.before(cell)
            assert execute(f"_checker.prepare('', {names!r})") is None
            try:
                return execute(cell.source)
            finally:
                execute("_checker.finish()")

        yield run_test
    finally:
        kernel.stop_channels()
        manager.shutdown_kernel(now=True)


def errors_in(notebook) -> list[str]:
    """'cell N: Name: message' for every error output of an executed notebook."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"cell {index}: {output.ename}: {output.evalue[:300]}")
    return found


def completed_release(source_notebook, released_notebook):
    """The released notebook with every autograded answer cell filled in with the reference answer:
    the state of a student who has done the exercises."""
    answers = answer_cells(source_notebook)
    for grade_id, cell in answer_cells(released_notebook).items():
        cell.source = without_solution_markers(answers[grade_id].source)
    return released_notebook
