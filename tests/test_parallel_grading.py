"""Grading with several workers gives exactly the scores of nbgrader's own serial run."""

import csv
import re
import runpy
import shutil

import pytest

from autograder import cli
from autograder.units import RELEASE, find_unit

from . import contract
from . import notebooks as nb

UNIT = find_unit("03_attention")


def scores(workspace):
    with (workspace / f"scores-{UNIT.name}.csv").open() as handle:
        return sorted(csv.DictReader(handle), key=lambda row: row["student_id"])


GRADED_PARTS = re.compile(r"Score: [\d.]+ / [\d.]+|\w+Error: [^<\n]*")


def feedback(workspace) -> dict[str, list[str]]:
    """Each feedback page's scores and error messages (timings and widget ids differ from run to run)."""
    folder = workspace / "feedback"
    return {str(p.relative_to(folder)): GRADED_PARTS.findall(p.read_text()) for p in sorted(folder.rglob("*.html"))}


@pytest.mark.slow
def test_parallel_grades_equal_serial_grades_in_any_gradebook(tmp_path, monkeypatch):
    """Serial into the workspace's SQLite gradebook; parallel into a gradebook elsewhere
    (COURSE_GRADEBOOK_URL, as for a shared database): the same scores and feedback."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(UNIT.notebook, inbox / "ada_attention.ipynb")
    shutil.copy(RELEASE / UNIT.name / UNIT.notebook.name, inbox / "bo_attention.ipynb")
    wrong = nb.read(UNIT.notebook)  # a plausible mistake: attention without the 1/sqrt(d_k) scaling
    mutants = runpy.run_path(str(UNIT.folder / "mutants.py"))["MUTANTS"]
    cell = nb.answer_cells(wrong)["scaled_dot_product_attention"]
    cell.source = contract.apply_mutant(cell.source, mutants["scaled_dot_product_attention"]["no scaling"])
    nb.nbformat.write(wrong, inbox / "cy_attention.ipynb")

    results, feedbacks = {}, {}
    shared = tmp_path / "shared-gradebook.db"
    for workers in (1, 2):
        workspace = tmp_path / f"workers-{workers}"
        if workers == 2:
            monkeypatch.setenv("COURSE_GRADEBOOK_URL", f"sqlite:///{shared}")
        assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(inbox)]) == 0
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--workers", str(workers)]) == 0
        results[workers], feedbacks[workers] = scores(workspace), feedback(workspace)
    assert results[1] == results[2]
    assert sorted(feedbacks[1]) == [f"{s}/{UNIT.name}/attention.html" for s in ("ada", "bo", "cy")]
    assert feedbacks[1] == feedbacks[2] and "Score: 6.0 / 12.0" in feedbacks[2][f"cy/{UNIT.name}/attention.html"]
    assert not (tmp_path / "workers-2" / "gradebook.db").exists() and shared.is_file()
    by_student = {row["student_id"]: row for row in results[2]}
    assert float(by_student["ada"]["score"]) == 12 and float(by_student["bo"]["score"]) == 0
    assert 0 < float(by_student["cy"]["score"]) < 12 and float(by_student["cy"]["test_scaled_dot_product_attention"]) == 0
