"""Grading with several workers gives exactly the scores of nbgrader's own serial run."""

import csv
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


@pytest.mark.slow
def test_parallel_scores_equal_serial_scores(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(UNIT.notebook, inbox / "ada_attention.ipynb")
    shutil.copy(RELEASE / UNIT.name / UNIT.notebook.name, inbox / "bo_attention.ipynb")
    wrong = nb.read(UNIT.notebook)  # a plausible mistake: attention without the 1/sqrt(d_k) scaling
    mutants = runpy.run_path(str(UNIT.folder / "mutants.py"))["MUTANTS"]
    cell = nb.answer_cells(wrong)["scaled_dot_product_attention"]
    cell.source = contract.apply_mutant(cell.source, mutants["scaled_dot_product_attention"]["no scaling"])
    nb.nbformat.write(wrong, inbox / "cy_attention.ipynb")

    results = {}
    for workers in (1, 2):
        workspace = tmp_path / f"workers-{workers}"
        assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(inbox)]) == 0
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--workers", str(workers)]) == 0
        results[workers] = scores(workspace)
        assert (workspace / "feedback" / "cy" / UNIT.name / "attention.html").is_file()
    assert results[1] == results[2]
    by_student = {row["student_id"]: row for row in results[2]}
    assert float(by_student["ada"]["score"]) == 12 and float(by_student["bo"]["score"]) == 0
    assert 0 < float(by_student["cy"]["score"]) < 12 and float(by_student["cy"]["test_scaled_dot_product_attention"]) == 0
