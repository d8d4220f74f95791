"""The static tampering check: it flags the ways a cell can fake a pass, and
leaves the reference solutions and ordinary student code alone."""

import os
import socket

import pytest

from autograder import integrity, kernel_guard, kernel_probe
from autograder.setup_cell import with_setup_cell
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
    ('globals()["ex" + "ec"] = print', "uses globals"),
    ('getattr(get_ipython(), "set_custom" + "_exc")', "uses getattr with a computed name"),
    ('import sys\nsys.modules["numpy"].allclose', "uses modules"),
    ("import sys\nsys.addaudithook(print)", "uses addaudithook"),
    ("print(In[-1])", "reads In, the notebook's input history"),
    ("def exec(code, namespace=None):\n    pass", "redefines exec, which the grader uses"),
    ("def get_ipython():\n    return None", "redefines get_ipython, which the grader uses"),
    ('setattr(type(get_ipython()), "run_cell", print)', "changes type(get_ipython()) with setattr"),
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


def test_a_course_cell_the_student_touched_is_still_the_courses():
    """A comment added to a course cell, or the Colab cell of an earlier release (another
    repository address), is not the student's code; a line the student added to it is."""
    release = nb.read(RELEASE / UNIT.name / UNIT.notebook.name)
    notebook = nb.read(UNIT.notebook)
    with_setup_cell(notebook)  # the student's copy came from the release, which has it
    cells = {cell.get("id"): cell for cell in notebook.cells}
    cells["colab-setup"].source = cells["colab-setup"].source.replace("github.com/", "github.com/someone-else/")
    helpers = next(c for c in notebook.cells if "def flat_params" in c.source and not nb.nbgrader_meta(c))
    helpers.source = "# my notes: the weights come out in this order\n" + helpers.source
    assert integrity.static_findings(notebook, release) == []
    helpers.source += "\nnp.allclose = lambda *a, **k: True"
    assert any("changes np.allclose" in f for f in integrity.static_findings(notebook, release))


def test_a_test_cell_earns_all_or_nothing_and_must_run():
    """A result a test cell displayed would be read by nbgrader as partial credit, before the error after it;
    a warning on stderr, as failure although no test failed. Only the error decides."""
    new = nb.nbformat.v4
    outputs = [new.new_output("execute_result", data={"text/plain": "2"}), new.new_output("display_data", data={}),
               new.new_output("stream", text="checked\n"), new.new_output("stream", name="stderr", text="Warning\n"),
               new.new_output("error", ename="E", evalue="", traceback=[])]
    kept = integrity.all_or_nothing(outputs)
    assert [(o.output_type, o.get("name")) for o in kept] == [("stream", "stdout"), ("error", None)]
    test = new.new_code_cell("assert False", metadata={"nbgrader": {"grade": True, "grade_id": "test_x", "points": 1}})
    assert integrity.tests_not_run(new.new_notebook(cells=[test])) == ["at run time: test cell test_x did not run"]
    test.execution_count = 3
    assert integrity.tests_not_run(new.new_notebook(cells=[test])) == []


def guard_attempts(tmp_path, monkeypatch, *events) -> list[str]:
    """What the kernel guard notes for ``events``, watching a workspace from a student's folder in it."""
    own = tmp_path / "workspace" / "autograded" / "ada" / UNIT.name
    own.mkdir(parents=True)
    monkeypatch.chdir(own)
    hook = kernel_guard.make_hook([str(tmp_path / "workspace"), str(tmp_path / "source")], str(own))
    for event, args in events:
        hook(event, args)
    box = []
    hook(kernel_guard.REPORT_EVENT, (box,))
    return box


def test_the_kernel_guard_notes_reaching_for_the_graders_files(tmp_path, monkeypatch):
    gradebook = tmp_path / "workspace" / "gradebook.db"
    other = tmp_path / "workspace" / "submitted" / "bo" / UNIT.name / "attention.ipynb"
    attempts = guard_attempts(
        tmp_path, monkeypatch,
        ("open", (str(gradebook), "rb", 0)),
        ("open", ("../../../gradebook.db", None, os.O_WRONLY | os.O_CREAT)),
        ("open", (bytes(other), "r", 0)),
        ("open", (str(tmp_path / "source" / "attention.ipynb"), "r", 0)),
        ("os.symlink", ("../../../gradebook.db", "attention.ipynb", None)),
        ("os.remove", (str(other), None)),
        ("subprocess.Popen", ("cat", ["cat", str(gradebook)], None, None)),
        ("os.system", (b"cp ../../bo/x.ipynb .",)),
    )
    assert attempts == [
        f"tried to read {gradebook}",
        f"tried to write to {gradebook}",
        f"tried to read {other}",
        f"tried to read {tmp_path / 'source' / 'attention.ipynb'}",
        f"tried to link to {gradebook}",
        f"tried to delete {other}",
        f"tried to run a command on {gradebook}",
        f"tried to run a command on {tmp_path / 'workspace' / 'autograded' / 'bo' / 'x.ipynb'}",
    ]


def test_the_kernel_guard_sees_through_extra_slashes_and_proc_links(tmp_path, monkeypatch):
    gradebook = tmp_path / "workspace" / "gradebook.db"
    source = tmp_path / "source" / "attention.ipynb"
    attempts = guard_attempts(
        tmp_path, monkeypatch,
        ("open", ("/" + str(source), "rb", 0)),
        ("open", ("/proc/self/root" + str(gradebook), "rb", 0)),
        ("open", ("/proc/self/cwd/../../../gradebook.db", "r", 0)),
    )
    assert attempts == [f"tried to read {source}", f"tried to read {gradebook}"]


def test_the_kernel_guard_refuses_what_would_reach_its_own_state(tmp_path):
    hook = kernel_guard.make_hook([str(tmp_path / "source")], str(tmp_path))
    for event in ("sys.addaudithook", "gc.get_objects", "gc.get_referrers"):
        with pytest.raises(kernel_guard.Refused):
            hook(event, ())
    box = []
    hook(kernel_guard.REPORT_EVENT, (box,))
    assert box == ["tried to add an audit hook (refused)", "tried to list the interpreter's objects (refused)"]


def test_the_kernel_guard_notes_the_network(tmp_path, monkeypatch):
    with socket.socket(socket.AF_INET) as internet, socket.socket(socket.AF_UNIX) as local:
        attempts = guard_attempts(
            tmp_path, monkeypatch,
            ("socket.getaddrinfo", ("example.com", 80, 0, 0, 0)),
            ("socket.getaddrinfo", ("localhost", 80, 0, 0, 0)),
            ("socket.connect", (internet, ("1.1.1.1", 443))),
            ("socket.connect", (local, "/tmp/kernel.sock")),
        )
    assert attempts == ["tried to look up the network address of example.com",
                        "tried to open a network connection to ('1.1.1.1', 443)"]


def test_the_kernel_guard_leaves_ordinary_work_alone_and_never_raises(tmp_path, monkeypatch):
    attempts = guard_attempts(
        tmp_path, monkeypatch,
        ("open", ("answers.npy", "wb", 0)),  # its own folder
        ("open", (str(tmp_path / "data" / "reviews.jsonl.gz"), "rb", 0)),  # the data, the course, Python
        ("open", (3, "r", 0)),  # a file descriptor
        ("os.listdir", (str(tmp_path / "workspace"),)),  # listing is not reading
        ("open", ()), ("os.symlink", (None,)), ("socket.connect", ("not a socket",)),  # garbage
        *[("open", (str(tmp_path / "workspace" / f"gradebook-{i}.db"), "r", 0)) for i in range(30)],
    )
    assert len(attempts) == kernel_guard.MAX_ATTEMPTS and all("gradebook-" in a for a in attempts)


def test_a_second_integrity_report_is_taken_for_a_forgery():
    report = f"{kernel_probe.END_MARK}{{}}"
    cell = nb.nbformat.v4.new_code_cell(outputs=[nb.nbformat.v4.new_output("stream", text=f"{report}\n{report}\n")])
    assert integrity.marked_output(cell, kernel_probe.END_MARK) is None


def test_the_grader_cells_report_from_a_real_kernel(tmp_path):
    """kernel_guard.py and kernel_probe.py, read as files and run in a live kernel as the grader runs them:
    an honest cell leaves the reports equal; one that patches numpy and reads the sources is caught."""
    honest = "import numpy as np\nx = np.ones(3)"
    patching = f"import numpy as np\nnp.allclose = lambda *a, **k: True\nopen({str(UNIT.notebook)!r}).read()"
    found = {}
    for name, code in (("honest", honest), ("patching", patching)):
        first, last = integrity.first_cell([str(UNIT.folder)]), integrity.last_cell()
        notebook = nb.nbformat.v4.new_notebook(cells=[first, nb.nbformat.v4.new_code_cell(code), last])
        with nb.live_kernel(notebook, tmp_path, timeout=120):
            pass
        found[name] = integrity.runtime_findings(first, last)
    assert found["honest"] == []
    assert "at run time: numpy.allclose was changed" in found["patching"]
    assert "at run time: numpy.allclose was replaced by a function written in the notebook" in found["patching"]
    assert f"at run time: tried to read {UNIT.notebook}" in found["patching"]
