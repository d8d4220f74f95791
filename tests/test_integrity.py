"""The static tampering check: it flags the ways a cell can fake a pass, and
leaves the reference solutions and ordinary student code alone."""

import pytest

from autograder import integrity
from autograder.units import RELEASE, all_units, find_unit

from . import notebooks as nb

UNIT = find_unit("03_attention")


def findings_with(code: str) -> tuple[list[str], int]:
    """Findings for the Unit 3 release with ``code`` in the causal_mask answer cell,
    and that cell's number as Jupyter shows it (counting from 1)."""
    release = nb.read(RELEASE / UNIT.name / UNIT.notebook.name)
    notebook = nb.read(UNIT.notebook)  # its test cells hold the hidden tests, as when graded
    answer = nb.answer_cells(notebook)["causal_mask"]
    answer.source = code
    return integrity.static_findings(notebook, release), notebook.cells.index(answer) + 1


@pytest.mark.parametrize("unit", all_units(), ids=lambda u: u.name)
def test_reference_solutions_and_releases_pass(unit):
    release = nb.read(RELEASE / unit.name / unit.notebook.name)
    assert integrity.static_findings(nb.read(unit.notebook), release) == []
    assert integrity.static_findings(release, release) == []


@pytest.mark.parametrize("code, reason", [
    ("get_ipython().set_custom_exc((AssertionError,), lambda *a: None)", "set_custom_exc"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "changes np.allclose"),
    ("np.testing.assert_allclose = print", "changes np.testing.assert_allclose"),
    ("import builtins\nbuiltins.len = lambda x: 0", "imports builtins"),
    ("setattr(np, 'allclose', print)", "changes np with setattr"),
    ("import sys\nsys.settrace(print)", "settrace"),
    ("exec('np.allclose = print')", "uses exec"),
    ("__import__('numpy').allclose = print", "uses __import__"),
    ("def isinstance(*args):\n    return True", "redefines isinstance"),
    ("def flat_params(layer):\n    return None", "redefines flat_params"),
    ("%%capture\nget_ipython().events.register('post_run_cell', print)", "uses events"),
])
def test_tampering_is_found(code, reason):
    found, number = findings_with(code)
    assert any(reason in finding for finding in found), found
    assert all(finding.startswith(f"cell {number}: ") for finding in found), "findings name the cell as Jupyter numbers it"


@pytest.mark.parametrize("code", [
    "import numpy as np\n\ndef causal_mask(length):\n    return np.tril(np.ones((length, length), dtype=bool))",
    "q = np.ones(3)\nsum = 0\nprint(causal_mask)",
    "%timeit np.ones(3)",
    "this is not Python (",
])
def test_ordinary_code_is_not_tampering(code):
    assert findings_with(code)[0] == []
