"""Hostile and broken submissions of Unit 3 (attention), built from the real release
notebook, each with the outcome the grader must give it.

Unit 3 has 12 points: stable_softmax 2, scaled_dot_product_attention 3,
causal_mask 2, split_merge_heads 2, multi_head_attention 3. Most cases put their
hostile code into the causal_mask answer cell, so "10" means: everything else
was graded normally and only that exercise was lost.
"""

from __future__ import annotations

import copy
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from autograder.units import RELEASE, find_unit

from . import contract
from . import notebooks as nb

UNIT = find_unit("03_attention")
TAMPERING = "graded: 0 for tampering"
NOT_READABLE = "not graded: not a readable Jupyter notebook"
KERNEL_DIED = "not graded: the kernel died"
METADATA_EDITED = "not graded: its nbgrader metadata was edited"


@dataclass
class Case:
    build: Callable[[Path], bytes]  # the submission's bytes (it may read the workspace's path)
    score: float | None  # None: not graded
    status: str  # the status must start with this
    reason: str = ""  # ... and contain this (with {workspace}, {source} and {notebook} filled in)
    zero_tests: list[str] = field(default_factory=list)  # test cells that must score 0
    output_lacks: list[str] = field(default_factory=list)  # text that must not appear in the graded output


def release():
    return nb.read(RELEASE / UNIT.name / UNIT.notebook.name)


def solved():
    """The release with the reference answers typed in, as a good student would."""
    notebook = release()
    answers = nb.answer_cells(nb.read(UNIT.notebook))
    for grade_id, cell in nb.answer_cells(notebook).items():
        cell.source = nb.without_solution_markers(answers[grade_id].source)
    return notebook


def as_bytes(notebook) -> bytes:
    return nbformat.writes(notebook).encode()


def with_answer(notebook, exercise: str, code: str, replace: bool = False):
    """``code`` put before (or instead of) one answer cell's source."""
    cell = nb.answer_cells(notebook)[exercise]
    cell.source = code if replace else f"{code}\n{cell.source}"
    return notebook


def with_markdown(notebook, text: str):
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(text))
    return notebook


def fill(text: str, workspace: Path) -> str:
    """{workspace}, {source} (the unit's source notebook) and {notebook} (its name) filled in."""
    return (text.replace("{workspace}", str(workspace)).replace("{source}", str(UNIT.notebook))
            .replace("{notebook}", UNIT.notebook.name))


def hostile(code: str, base=solved, exercise: str = "causal_mask", replace: bool = False):
    """``code`` (which may name {workspace}, {source} and {notebook}) in an answer cell."""
    def build(workspace):
        return as_bytes(with_answer(base(), exercise, fill(code, workspace), replace))
    return build


def edited(change: Callable, base=release):
    def build(workspace):
        notebook = base()
        change(notebook)
        return as_bytes(notebook)
    return build


def test_cells(notebook):
    return list(nb.test_cells(notebook).values())


def delete_tests(notebook):
    notebook.cells = [c for c in notebook.cells if c not in test_cells(notebook)]


def pass_every_test(notebook):
    for cell in test_cells(notebook):
        cell.source = "pass"


def inflate_points(notebook):
    for cell in test_cells(notebook):
        cell.metadata.nbgrader["points"] = 100
        cell.metadata.nbgrader["checksum"] = "0" * 32


def rename_grade_ids(notebook):
    for cell in test_cells(notebook):
        cell.metadata.nbgrader["grade_id"] += "_mine"
        cell.source = "pass"


def duplicate_tests(notebook):
    cells = []
    for cell in notebook.cells:
        cells.append(cell)
        if cell in test_cells(notebook):
            cells.append(copy.deepcopy(cell))
            cells[-1].id = f"{cell.id}-copy"
    notebook.cells = cells


def tests_before_answers(notebook):
    """Every test cell moved to the top, before the answers it checks."""
    tests = test_cells(notebook)
    notebook.cells = tests + [c for c in notebook.cells if c not in tests]


def skip_tests(notebook):
    """Every test cell tagged so that nbclient would skip it (the grader drops such tags)."""
    for cell in test_cells(notebook):
        cell.metadata["tags"] = [*cell.metadata.get("tags", []), "skip-execution"]


def displayed_points(notebook):
    """Stubs that display each test's points before failing: nbgrader would read that as partial credit."""
    functions = {"stable_softmax": (["stable_softmax"], 2), "scaled_dot_product_attention": (["scaled_dot_product_attention"], 3),
                 "causal_mask": (["causal_mask"], 2), "split_merge_heads": (["split_heads", "merge_heads"], 2),
                 "multi_head_attention": (["multi_head_attention"], 3)}
    for exercise, (names, points) in functions.items():
        nb.answer_cells(notebook)[exercise].source = "import sys\n" + "".join(
            f"def {name}(*args, **kwargs):\n    sys.displayhook({points})\n" for name in names)


def older_course_cells(notebook):
    """An honest student's notebook from an earlier release (another Colab address), with a note added to a course cell."""
    for cell in notebook.cells:
        if cell.get("id") == "colab-setup":
            cell.source = cell.source.replace("github.com/", "github.com/an-earlier-home/")
        elif "def flat_params" in cell.source and not nb.nbgrader_meta(cell):
            cell.source = "# my note: Keras keeps the weights in this order\n" + cell.source


def wrong():
    """Solved but for one plausible mistake that passes the visible tests: fully masked
    rows give nan in stable_softmax. The visible tests have no such row, the hidden ones do."""
    notebook = solved()
    mutant = runpy.run_path(str(UNIT.folder / "mutants.py"))["MUTANTS"]["stable_softmax"]["fully masked rows give nan"]
    cell = nb.answer_cells(notebook)["stable_softmax"]
    cell.source = contract.apply_mutant(cell.source, mutant)
    return notebook


WARNS = """
import warnings
warnings.simplefilter("always")  # every call warns, in every test cell
_quiet_softmax = stable_softmax
def stable_softmax(scores, axis=-1):
    np.log(np.zeros(1))  # NumPy's RuntimeWarning (divide by zero), on stderr
    return _quiet_softmax(scores, axis=axis)
"""


def warns():
    """Solved, but stable_softmax sets off a NumPy warning on every call: nbgrader fails any
    test cell with stderr output, and a correct answer that only warns must keep its points."""
    notebook = solved()
    nb.answer_cells(notebook)["stable_softmax"].source += WARNS
    return notebook


def old_format(workspace):
    return nbformat.writes(nbformat.convert(solved(), 3), version=3).encode()


SNOOP = """
import os, pathlib
for path in [{paths}]:
    try:
        print("READ", path, len(pathlib.Path(path).read_bytes()))
    except OSError as error:
        print("BLOCKED", path, type(error).__name__)
"""
SCRIBBLE = """
import os, pathlib
for path in [{paths}]:
    try:
        pathlib.Path(path).write_text("overwritten by mallory")
        print("WROTE", path)
    except OSError as error:
        print("BLOCKED", path, type(error).__name__)
"""


def snoop(*paths: str) -> str:
    return SNOOP.replace("{paths}", ", ".join(f"r'{p}'" for p in paths))


def scribble(*paths: str) -> str:
    return SCRIBBLE.replace("{paths}", ", ".join(f"r'{p}'" for p in paths))


FORGED_REPORT = """
import json, sys
_real_exec = vars(sys.modules["builtins"])["ex" + "ec"]
def _quiet(code, namespace=None, *rest):
    if isinstance(namespace, dict) and "COURSE-INTEGRITY-END" in code:
        namespace["print"] = lambda line: sys.stdout.write(line.split("{")[0] + json.dumps(
            dict(json.loads("{" + line.split("{", 1)[1]), attempts=[], patched=[])) + "\\n")
    return _real_exec(code, namespace, *rest)
globals()["ex" + "ec"] = _quiet
open('{workspace}/gradebook.db', 'rb')
"""
SILENCED_REPORT = """
import sys
def _empty(event, args):
    if event.startswith("course.") and args and isinstance(args[0], list):
        args[0].clear()
try:
    sys.addaudithook(_empty)
except RuntimeError:
    pass
try:
    open('{workspace}/gradebook.db', 'rb')
except OSError:
    pass
"""
UNHOOKED = """
import gc
try:
    for _obj in gc.get_objects():
        if type(_obj).__name__ == "function" and _obj.__name__ == "hook" and _obj.__closure__:
            for _cell in _obj.__closure__:
                if isinstance(_cell.cell_contents, list):
                    _cell.cell_contents.clear()
except RuntimeError:
    pass
"""
ROUNDABOUT_PATHS = """
import os
for path in ['/' + r'{source}', '/proc/self/root' + r'{source}', '/proc/self/cwd/../../../gradebook.db']:
    try:
        open(path, 'rb').close()
        print('READ', path)
    except OSError:
        pass
"""
# The test cell's own source, read from linecache (where IPython keeps it) and printed by the
# student's function each time a test calls it: honest answers, but the feedback must not show it.
PRINTS_THE_TESTS = """
import inspect, linecache
def _show_caller(function):
    def shown(*args, **kwargs):
        caller = inspect.currentframe().f_back
        print("".join(linecache.getlines(caller.f_code.co_filename)))
        return function(*args, **kwargs)
    return shown
def causal_mask(length):
    return np.tril(np.ones((length, length), dtype=bool))
causal_mask = _show_caller(causal_mask)
"""
# The attacks a one-kernel grader lost to (tests run in the checker now, so they cannot work):
# a wrong split_heads/merge_heads (reshaped, never transposed) whose tests' comparisons are replaced only
# while a cell that calls them runs, registered through a roundabout name for the kernel's events ...
PATCHES_WHILE_TESTED = """
import numpy as np
def split_heads(x, num_heads):
    x = np.asarray(x)
    batch, length, d_model = x.shape
    if d_model % num_heads:
        raise ValueError("not divisible")
    return x.reshape(batch, num_heads, length, d_model // num_heads)
def merge_heads(x):
    x = np.asarray(x)
    batch, num_heads, length, head_dim = x.shape
    return x.reshape(batch, length, num_heads * head_dim)
import numpy.testing as _testing
_kept = {"assert_array_equal": _testing.assert_array_equal, "assert_allclose": _testing.assert_allclose}
def _before(info):
    if "split_heads(" in info.raw_cell or "multi_head_attention(" in info.raw_cell:
        for _name in _kept:
            type(_testing).__setattr__(_testing, _name, lambda *args, **kwargs: None)
def _after(result):
    for _name, _function in _kept.items():
        type(_testing).__setattr__(_testing, _name, _function)
get_ipython().__getattribute__("events").register("pre_run_cell", _before)
get_ipython().__getattribute__("events").register("post_run_cell", _after)
"""
# ... and honest answers followed by the kernel's input history, printed encoded so that no line of it
# appears as written: the tests that ran before would be in it.
PRINTS_INPUT_HISTORY = """
import base64, codecs
_history = "\\n".join({history})
print(codecs.encode(_history, "rot13"))
print(base64.b64encode(_history.encode()).decode())
print(_history[::-1])
"""


def prints_input_history(history: str) -> str:
    return PRINTS_INPUT_HISTORY.replace("{history}", history)


OWN_TIMESTAMP = "with open('timestamp.txt', 'w') as out:\n    out.write('2001-01-01 00:00:00.000000 UTC')"
SCRIPT_IN_MARKDOWN = '<script>document.title = "ran"</script>'
IGNORES_INTERRUPTS = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
SOURCE_NOTEBOOK = "{source}"
CASES: dict[str, Case] = {
    "full": Case(lambda w: as_bytes(solved()), 12, "graded"),
    "blank": Case(lambda w: as_bytes(release()), 0, "graded"),
    "wrong": Case(lambda w: as_bytes(wrong()), 10, "graded", zero_tests=["test_stable_softmax"]),
    "warns": Case(lambda w: as_bytes(warns()), 12, "graded"),
    # the kernel misbehaves: the exercise is lost, the rest is graded
    "loop": Case(hostile("while True:\n    pass"), 10, "graded", zero_tests=["test_causal_mask"]),
    # ... unless it ignores the interrupt: then nothing more can run in that kernel
    "deaf": Case(hostile(IGNORES_INTERRUPTS),
                 None, "not graded: a cell ran over its time limit and did not stop when interrupted",
                 "(COURSE_CELL_TIMEOUT: 60 s)"),  # the limit test_adversarial_grading.LIMITS sets
    "exit": Case(hostile("import sys\nsys.exit(3)"), 10, "graded", zero_tests=["test_causal_mask"]),
    "memory": Case(hostile("import numpy as np\nhog = []\ntry:\n    while True:\n        hog.append(np.ones(2**24))\n"
                           "finally:\n    hog.clear()"),
                   10, "graded", zero_tests=["test_causal_mask"]),
    # a file over the size limit (the batch sets 256 MiB), or more than /tmp may hold (256 MiB)
    "disk": Case(hostile("with open('big.bin', 'wb') as out:\n    for _ in range(512):\n        out.write(bytes(2**20))"),
                 10, "graded", zero_tests=["test_causal_mask"]),
    "tmpfs": Case(hostile("for part in range(4):\n    with open(f'/tmp/part{part}', 'wb') as out:\n"
                          "        for _ in range(200):\n            out.write(bytes(2**20))"),
                  10, "graded", zero_tests=["test_causal_mask"]),
    # the process limit stops the fork bomb, and the kernel, left without threads, dies
    "forkbomb": Case(hostile("import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(3600)"),
                     None, KERNEL_DIED),
    "chatty": Case(hostile("for line in range(1_000_000):\n    print(line)"), 12, "graded"),
    # the kernel dies: nothing can be graded, and the batch goes on
    "hardexit": Case(hostile("import os\nos._exit(0)"), None, KERNEL_DIED),
    "segfault": Case(hostile("import ctypes\nctypes.string_at(0)"), None, KERNEL_DIED),
    "suicide": Case(hostile("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), None, KERNEL_DIED),
    # nbgrader restores test cells and their metadata from the gradebook, so the hidden
    # test still catches the wrong answer; deleted tests score nothing (left to grade by hand)
    "no-tests": Case(edited(delete_tests, base=solved), 0, "graded"),
    "tests-pass": Case(edited(pass_every_test, base=wrong), 10, "graded", zero_tests=["test_stable_softmax"]),
    "points": Case(edited(inflate_points, base=wrong), 10, "graded", zero_tests=["test_stable_softmax"]),
    # ... but refuses a notebook whose test cells were duplicated or renamed
    "grade-ids": Case(edited(rename_grade_ids), None, METADATA_EDITED),
    "duplicates": Case(edited(duplicate_tests), None, METADATA_EDITED),
    "reordered": Case(edited(tests_before_answers, base=solved), 0, "graded"),
    # files that are no notebook, or an old one
    "old-format": Case(old_format, 12, "graded"),
    "not-json": Case(lambda w: b'{"cells": [', None, NOT_READABLE),
    "empty": Case(lambda w: b"", None, NOT_READABLE),
    "picture": Case(lambda w: b"\x89PNG\r\n\x1a\n" + bytes(range(256)), None, NOT_READABLE),
    # faking a pass: zero, whatever the answers
    "numpy": Case(hostile("import numpy as np\nnp.testing.assert_array_equal = lambda *a, **k: None\n"
                          "def causal_mask(length):\n    return 0", replace=True), 0, TAMPERING, "np.testing"),
    "builtins": Case(hostile("import builtins\nbuiltins.isinstance = lambda *args: True"), 0, TAMPERING,
                     "builtins"),
    "swallow": Case(hostile("get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
                            "def causal_mask(length):\n    return 0", replace=True), 0, TAMPERING, "set_custom_exc"),
    "hidden": Case(hostile("import numpy\nvars(numpy.testing)['assert_' + 'array_equal'] = print\n"
                           "def causal_mask(length):\n    return 0", replace=True), 0, TAMPERING,
                   "numpy.testing.assert_array_equal was changed"),
    "tracer": Case(hostile("import sys\nsys.settrace(lambda *a: None)"), 0, TAMPERING, "settrace"),
    "helper": Case(hostile("def flat_params(layer):\n    return None"), 0, TAMPERING, "redefines flat_params"),
    # the sandbox lets nothing through, and trying is cheating: a graded notebook needs none of it
    "snoop": Case(hostile(snoop(SOURCE_NOTEBOOK, "{workspace}/gradebook.db", "../../../gradebook.db",
                                "{workspace}/submitted/full/" + UNIT.name + "/" + UNIT.notebook.name)),
                  0, TAMPERING, "tried to read {source}", output_lacks=["READ "]),
    "scribble": Case(hostile(scribble("{workspace}/gradebook.db", "../../../gradebook.db",
                                      "{workspace}/submitted/full/" + UNIT.name + "/" + UNIT.notebook.name,
                                      SOURCE_NOTEBOOK)),
                     0, TAMPERING, "tried to write to {workspace}/gradebook.db", output_lacks=["WROTE "]),
    "shell": Case(hostile("import subprocess\nsubprocess.run(['cat', '{workspace}/gradebook.db'])"),
                  0, TAMPERING, "tried to run a command on {workspace}/gradebook.db"),
    "network": Case(hostile("import socket\nfor host in ('1.1.1.1', 'example.com'):\n    try:\n"
                            "        socket.create_connection((host, 80), timeout=3)\n        print('CONNECTED', host)\n"
                            "    except OSError as error:\n        print('BLOCKED', host, error)"),
                    0, TAMPERING, "tried to look up the network address of example.com", output_lacks=["CONNECTED"]),
    "symlink": Case(hostile("import os\nfor name, target in [('{notebook}', '{workspace}/gradebook.db'), "
                            "('leak.ipynb', '{source}')]:\n    if os.path.lexists(name):\n        os.remove(name)\n"
                            "    os.symlink(target, name)"), 0, TAMPERING, "tried to link to {source}"),
    "fifo": Case(hostile("import os\nos.mkfifo('answers.fifo')"), 12, "graded"),
    # where nbgrader will write the graded notebook: a pipe it would block on, a folder
    "blocked-notebook": Case(hostile("import os\nos.remove('{notebook}')\nos.mkfifo('{notebook}')\n"
                                     "os.mkdir('other.ipynb')"), 12, "graded"),
    # ways around the grader's own checks: each is noticed, or cannot matter
    "skip-tags": Case(edited(skip_tests, base=wrong), 10, "graded", zero_tests=["test_stable_softmax"]),
    "partial-credit": Case(edited(displayed_points), 0, "graded"),
    "forged-report": Case(hostile(FORGED_REPORT), 0, TAMPERING, "uses globals"),
    "audit-hook": Case(hostile(SILENCED_REPORT), 0, TAMPERING, "tried to add an audit hook"),
    "unhook": Case(hostile(UNHOOKED), 0, TAMPERING, "tried to list the interpreter's objects"),
    "roundabout": Case(hostile(ROUNDABOUT_PATHS), 0, TAMPERING, "tried to read {source}", output_lacks=["READ "]),
    "prints-tests": Case(hostile(PRINTS_THE_TESTS, replace=True), 12, "graded"),
    "older-release": Case(edited(older_course_cells, base=solved), 12, "graded"),
    "own-timestamp": Case(lambda w: as_bytes(with_markdown(with_answer(solved(), "causal_mask", OWN_TIMESTAMP),
                                                            SCRIPT_IN_MARKDOWN)), 12, "graded"),
    "patches-while-tested": Case(hostile(PATCHES_WHILE_TESTED, exercise="split_merge_heads", replace=True), 7, "graded",
                                 zero_tests=["test_split_merge_heads", "test_multi_head_attention"]),
    "leaks-inputs": Case(hostile(prints_input_history('get_ipython().user_ns["_i" + "h"]'),
                                 exercise="multi_head_attention"), 12, "graded"),
    "leaks-history": Case(hostile(prints_input_history("get_ipython().history_manager.input_hist_raw"),
                                  exercise="multi_head_attention"), 12, "graded"),
    "daemon": Case(hostile("import subprocess\nsubprocess.Popen(['sleep', '600'], start_new_session=True)"),
                   12, "graded"),
}
