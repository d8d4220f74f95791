"""The contract tests must fail when the course is broken: prove it on Unit 1,
sabotaged in the ways that matter (a weakened hidden test, a hand-edited
release, a leaked solution, a helper that re-implements an answer)."""

import runpy
import shutil
import textwrap

import nbformat
import pytest

from autograder.units import RELEASE, REPOSITORY, find_unit

from . import contract
from . import notebooks as nb

UNIT = find_unit("01_ngrams_rnn")


def test_weakened_hidden_test_lets_mutants_through():
    notebook = nb.read(UNIT.notebook)
    test_cell = nb.tests_of("perplexity", notebook)["test_perplexity"]
    test_cell.source = nb.HIDDEN_REGION.sub("", test_cell.source).replace("### BEGIN HIDDEN TESTS", "")
    mutants = runpy.run_path(str(UNIT.folder / "mutants.py"))["MUTANTS"]
    release = nb.read(RELEASE / UNIT.name / UNIT.notebook.name)
    with nb.live_kernel(notebook, UNIT.folder) as (client, run), \
            nb.checker_beside(client, release, list(nb.test_cells(notebook).values())) as run_test:
        survivors = contract.mutant_survivors(notebook, run, {"perplexity": mutants["perplexity"]}, run_test)
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


# Unit 1's count_ngrams, renamed and reworded as a helper might have it: no line of the
# solution and no def count_ngrams( in it, so only a comparison by shape finds it.
RENAMED_COUNT_NGRAMS = textwrap.dedent("""
    from collections import Counter

    def window_tally(sequences, width, start="<s>", end="</s>"):
        tally = Counter()
        for sequence in sequences:
            framed = [start] * (width - 1) + list(sequence) + [end]
            for left in range(len(framed) - width + 1):
                tally[tuple(framed[left:left + width])] += 1
        return tally
""")
# Unit 4's shift, inside a helper as course/gpt_lab.py had it before (issue 13).
SHIFT_INSIDE_A_LOSS = textwrap.dedent("""
    def mean_loss(model, token_ids):
        rows = token_ids[:64]
        inputs, targets = rows[:, :-1], rows[:, 1:]
        return float(model(inputs, targets))
""")


def test_helper_that_re_implements_an_answer_under_another_name_is_caught():
    source = nb.read(UNIT.notebook)
    assert "def count_ngrams(" not in RENAMED_COUNT_NGRAMS
    assert [line for line in nb.private_lines(source) if line in RENAMED_COUNT_NGRAMS] == [], "no solution line"
    found = contract.reimplementations(source, {"fake_lab.py": RENAMED_COUNT_NGRAMS})
    assert [problem.split(" (")[0] for problem in found] == [
        "fake_lab.py: window_tally re-implements count_ngrams of the answer count_ngrams"]
    shift = contract.reimplementations(nb.read(find_unit("04").notebook), {"old_gpt_lab.py": SHIFT_INSIDE_A_LOSS})
    assert [problem.split(" (")[0] for problem in shift] == [
        "old_gpt_lab.py: mean_loss re-implements shift_inputs_targets of the answer shift_inputs_targets"]
    course = {path.name: path.read_text() for path in sorted((REPOSITORY / "course").rglob("*.py"))}
    assert contract.reimplementations(source, course) == []


def test_helper_that_defines_an_answers_name_is_caught():
    """Unit 3's exercise split_merge_heads defines split_heads and merge_heads: both names count."""
    unit3 = nb.read(find_unit("03").notebook)
    found = contract.reimplementations(unit3, {"fake_lab.py": "def merge_heads(x):\n    return x\n"})
    assert found == ["fake_lab.py defines merge_heads, which the answer split_merge_heads defines"]
