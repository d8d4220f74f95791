"""The contract tests must fail when the course is broken: prove it on Unit 1,
sabotaged in the ways that matter (a weakened hidden test, a hand-edited
release, a leaked solution)."""

import runpy
import shutil

import nbformat
import pytest

from autograder.units import RELEASE, find_unit

from . import contract
from . import notebooks as nb

UNIT = find_unit("01_ngrams_rnn")


def test_weakened_hidden_test_lets_mutants_through():
    notebook = nb.read(UNIT.notebook)
    test_cell = nb.tests_of("perplexity", notebook)["test_perplexity"]
    test_cell.source = nb.HIDDEN_REGION.sub("", test_cell.source).replace("### BEGIN HIDDEN TESTS", "")
    mutants = runpy.run_path(str(UNIT.folder / "mutants.py"))["MUTANTS"]
    with nb.live_kernel(notebook, UNIT.folder) as (_, run):
        survivors = contract.mutant_survivors(notebook, run, {"perplexity": mutants["perplexity"]})
    assert survivors, "with its hidden tests gone, test_perplexity should let some mutants live"


def test_hand_edited_release_is_detected(tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(RELEASE / UNIT.name, edited)
    path = edited / UNIT.notebook.name
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source += "\nA hand-made edit."
    nbformat.write(notebook, path)
    assert contract.release_differences(RELEASE / UNIT.name, edited) == [f"differs: {UNIT.notebook.name}"]
    assert contract.release_differences(RELEASE / UNIT.name, RELEASE / UNIT.name) == []


@pytest.mark.parametrize("leak", ["solution line", "marker", "mutants file"])
def test_leaked_solution_is_detected(tmp_path, leak):
    leaky = tmp_path / "leaky"
    shutil.copytree(RELEASE / UNIT.name, leaky)
    source = nb.read(UNIT.notebook)
    path = leaky / UNIT.notebook.name
    notebook = nbformat.read(path, as_version=4)
    if leak == "solution line":
        notebook.cells[-1].source += "\n" + nb.answer_cells(source)["count_ngrams"].source.splitlines()[-3]
    elif leak == "marker":
        notebook.cells[-1].source += "\n### BEGIN HIDDEN TESTS"
    else:
        shutil.copy(UNIT.folder / "mutants.py", leaky)
    nbformat.write(notebook, path)
    assert contract.leaks(source, RELEASE / UNIT.name) == []
    assert contract.leaks(source, leaky) != []
