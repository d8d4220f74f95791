"""The checker's side of the conversation with a real student's kernel (jupyter_client, ipykernel).

The checker's client (autograder/checker_kernel.py) runs here, in the test's
process, against a real kernel where "student" code was run: what comes back
is plain data of exact types or a handle, errors keep their type and message,
in-place changes and random generators behave as in one kernel, the test's own
functions can be called back, and nothing the student's kernel does (hostile
return values, endless loops, a huge result, a forged reply, dying) passes a
test or stops the checker. The grader's side (which course code and names a
test needs) is checked on every unit's real notebooks.
"""

from __future__ import annotations

import math
import os
import stat
import textwrap

import nbformat
import numpy as np
import pytest
from jupyter_client.manager import KernelManager

from autograder import cells, checker, checker_kernel, integrity
from autograder.checker_kernel import Handle, StudentKernel, StudentKernelError
from autograder.units import RELEASE, all_units

STUDENT = '''
import numpy as np
from collections import Counter

def double(x, factor=2):
    return x * factor

def appends(items):
    items.append("mine")
    return items

def scales_in_place(values):
    values *= 2
    return None

def empty_mean(values):
    if not values:
        raise ValueError("an empty list has no mean")
    return sum(values) / len(values)

class NotDoneYet(Exception):
    pass

def own_error():
    raise NotDoneYet("my own exception")

def stops():
    raise StopIteration("done")

def draw(rng):
    return int(rng.integers(0, 1000))

def calls_back(model, ids, steps):
    ids = list(ids)
    for _ in range(steps):
        ids.append(int(np.argmax(model(ids))))
    return ids

def total(iterable):
    return sum(iterable)

def counts(words):
    return Counter(words)

class AlwaysEqual:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

class SneakyFloat(float):
    def __eq__(self, other):
        return True

class SneakyArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

def always_equal():
    return AlwaysEqual()

def sneaky_float():
    return SneakyFloat(0.0)

def sneaky_array():
    return np.zeros(3).view(SneakyArray)

def endless():
    def numbers():
        n = 0
        while True:
            yield n
            n += 1
    return numbers()

def ten_gigabytes():
    return np.broadcast_to(np.zeros(1), (10 * 2**30 // 8,))

def forever():
    while True:
        pass

class Layer:
    def __init__(self, width):
        self.width = width
        self.weights = np.ones(width)
    def __call__(self, x):
        return np.asarray(x) * self.weights
'''


@pytest.fixture
def student(tmp_path):
    """A real kernel that ran the 'student' code above, and the checker's client of it."""
    manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(tmp_path / "ipc"))
    manager.start_kernel(cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    reply = client.execute_interactive(STUDENT, timeout=60)
    assert reply["content"]["status"] == "ok"
    connection = dict(manager.get_connection_info(), key=manager.session.key.decode())
    kernel = StudentKernel(connection, timeout=10)
    yield kernel, client, manager
    kernel.close()
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def names(kernel, *wanted):
    found = kernel.resolve(list(wanted))
    return [found[name] for name in wanted]


def test_plain_results_come_back_as_exact_types(student):
    kernel, _, _ = student
    double, = names(kernel, "double")
    assert type(double) is Handle
    assert double(21) == 42 and type(double(21)) is int
    assert double("ab", factor=3) == "ababab"
    result = double(np.arange(3.0))
    assert type(result) is np.ndarray and result.tolist() == [0.0, 2.0, 4.0]
    assert double((1,)) == (1, 1)


def test_tensor_shapes_become_tuples():
    """A Keras variable's shape is TensorFlow's TensorShape, a Torch tensor's a torch.Size: both cross as tuples."""
    import tensorflow as tf
    import torch
    from autograder import student_agent
    assert student_agent.as_shape(tf.TensorShape([3, None, 4])) == (3, None, 4)
    assert student_agent.as_shape(tf.TensorShape(None)) is None  # unknown rank: it stays a handle
    assert student_agent.as_shape(torch.zeros(2, 5).shape) == (2, 5)
    assert student_agent.as_shape((2, 5)) is None and student_agent.as_shape("Size") is None


def test_missing_names_are_not_bound(student):
    kernel, _, _ = student
    assert kernel.resolve(["double", "never_defined"]).keys() == {"double"}


def test_errors_keep_their_builtin_type_and_message(student):
    kernel, _, _ = student
    empty_mean, own_error = names(kernel, "empty_mean", "own_error")
    with pytest.raises(ValueError, match="an empty list has no mean"):
        empty_mean([])
    with pytest.raises(checker_kernel.StudentError, match="NotDoneYet: my own exception"):
        own_error()
    stops, = names(kernel, "stops")
    with pytest.raises(checker_kernel.StudentError, match="StopIteration: done"):  # it would quietly end a loop
        stops()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to other users needs root, as the grader has in CI")
def test_the_student_kernel_opens_only_to_the_checkers_group(tmp_path):
    folder = tmp_path / "course-kernel"
    folder.mkdir()
    for port in range(1, 4):
        (folder / f"ipc-{port}").touch()
    checker.open_to(123456, 123456 + checker.CHECKER_USER_OFFSET, folder)
    for path in [folder, *folder.glob("ipc-*")]:
        status = path.stat()
        assert (status.st_uid, status.st_gid) == (123456, 123456 + checker.CHECKER_USER_OFFSET)
        assert stat.S_IMODE(status.st_mode) == (0o710 if path == folder else 0o660), path


def test_in_place_changes_and_returned_arguments_are_seen(student):
    kernel, _, _ = student
    appends, scales_in_place = names(kernel, "appends", "scales_in_place")
    items = ["a"]
    returned = appends(items)
    assert items == ["a", "mine"] and returned is items, "the student's function changed and returned its input"
    values = np.array([1.0, 2.0])
    assert scales_in_place(values) is None
    assert values.tolist() == [2.0, 4.0]


def test_a_random_generator_advances_as_if_in_one_kernel(student):
    kernel, _, _ = student
    draw, = names(kernel, "draw")
    rng, same = np.random.default_rng(5), np.random.default_rng(5)
    assert [draw(rng) for _ in range(5)] == [int(same.integers(0, 1000)) for _ in range(5)]


def test_the_tests_own_functions_and_iterators_reach_the_students_code(student):
    kernel, _, _ = student
    calls_back, total, counts = names(kernel, "calls_back", "total", "counts")
    calls = []

    def count_up(ids):
        calls.append(list(ids))
        logits = np.zeros(10)
        logits[(ids[-1] + 1) % 10] = 1.0
        return logits

    assert calls_back(count_up, [3], 4) == [3, 4, 5, 6, 7]
    assert calls == [[3], [3, 4], [3, 4, 5], [3, 4, 5, 6]]
    assert total(x / 2 for x in [1, 3]) == 2.0
    assert counts(["a", "b", "a"]) == {"a": 2, "b": 1} and type(counts(["a"])).__name__ == "Counter"


def test_objects_stay_in_the_students_kernel_as_handles(student):
    kernel, _, _ = student
    Layer, = names(kernel, "Layer")
    layer = Layer(3)
    assert type(layer) is Handle and "Layer" in repr(layer)
    assert layer.width == 3
    np.testing.assert_array_equal(layer([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0])
    with pytest.raises(AttributeError):
        layer.no_such_attribute
    assert double_back(kernel, layer) is layer


def double_back(kernel, layer):
    """A handle passed back to the student's code is the student's object there."""
    identity = kernel.resolve(["appends"])["appends"]  # any function that returns its argument
    with pytest.raises(AttributeError):  # a Layer has no append: the object itself reached the function
        identity(layer)
    return layer


@pytest.mark.parametrize("maker", ["always_equal", "sneaky_float", "endless"])
def test_hostile_objects_come_back_as_handles_that_pass_nothing(student, maker):
    kernel, _, _ = student
    function, = names(kernel, maker)
    value = function()
    assert type(value) is Handle
    assert value != 0.0 and not value == value.__class__
    assert not isinstance(value, (float, int))
    with pytest.raises(TypeError):
        math.isclose(value, 0.0)
    with pytest.raises(TypeError):
        iter(value)
    with pytest.raises(TypeError):
        np.testing.assert_allclose(value, 0.0)


def test_an_array_subclass_arrives_as_a_plain_array_compared_by_the_checker(student):
    kernel, _, _ = student
    sneaky_array, = names(kernel, "sneaky_array")
    value = sneaky_array()
    assert type(value) is np.ndarray
    assert not np.all(value == np.ones(3))


def test_a_ten_gigabyte_result_is_refused_with_a_clear_message(student):
    kernel, _, _ = student
    ten_gigabytes, double = names(kernel, "ten_gigabytes", "double")
    with pytest.raises(StudentKernelError, match="10.0 GiB"):
        ten_gigabytes()
    assert double(2) == 4, "the student's kernel still answers"


def test_a_call_over_the_time_limit_fails_and_the_kernel_answers_again(student):
    kernel, _, _ = student
    kernel.timeout = 3
    forever, double = names(kernel, "forever", "double")
    with pytest.raises(checker_kernel.CallTimeout, match="time limit"):
        forever()
    assert double(5) == 10


def test_the_student_kernel_is_free_for_the_next_cell_after_finish(student):
    kernel, client, _ = student
    double, = names(kernel, "double")
    assert double(1) == 2
    kernel.finish()
    reply = client.execute_interactive("after = 'the next cell ran'", timeout=20)
    assert reply["content"]["status"] == "ok"
    assert kernel.resolve(["after"])["after"] == "the next cell ran"


def test_no_test_code_reaches_the_students_input_history(student):
    kernel, client, _ = student
    double, = names(kernel, "double")
    secret_expected_value = 1234.5
    assert double(secret_expected_value / 2) == secret_expected_value
    kernel.finish()
    outputs = []
    client.execute_interactive("print(repr(In) + repr(Out) + repr(_ih))", timeout=20, output_hook=outputs.append)
    shown = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert "def double" in shown and "1234.5" not in shown and "secret" not in shown


FORGERIES = {
    "a reply that is not JSON": "'not json'",
    "a pickle": "'[\"pickle\", \"Y29zCnN5c3RlbQo=\"]'",
    "a float posing as a result of another type": "'[\"list\", [\"ok\", [\"array\", \"|O8\", [1], \"AAAAAAAAAAA=\"], null]]'",
    "a reference to an argument never passed": "'[\"list\", [\"ok\", [\"arg\", 7], null]]'",
}


@pytest.mark.parametrize("forged", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_agent_reply_is_refused(student, forged):
    kernel, client, _ = student
    double, = names(kernel, "double")
    kernel.finish()
    forge = textwrap.dedent(f"""
        import sys
        sys.modules["_course_checker_agent"].Agent.reply_to = lambda self, request: {forged}
    """)
    assert client.execute_interactive(forge, timeout=20)["content"]["status"] == "ok"
    with pytest.raises(StudentKernelError, match="refuses|not one"):
        double(1)


def test_an_oversized_reply_is_dropped_unread(student):
    kernel, client, _ = student
    kernel.timeout = 5
    double, = names(kernel, "double")
    kernel.finish()
    forge = ('import sys\nsys.modules["_course_checker_agent"].Agent.reply_to = '
             'lambda self, request: "x" * (80 * 2**20)')
    assert client.execute_interactive(forge, timeout=20)["content"]["status"] == "ok"
    with pytest.raises(StudentKernelError):
        double(1)


def test_a_kernel_that_dies_during_a_call_fails_that_call(student):
    kernel, _, _ = student
    kernel.timeout = 60
    crash, = names(kernel, "double")
    exiting = kernel.resolve(["np"])["np"]  # a handle to the student's numpy: its attribute reads are calls too
    assert exiting.pi == math.pi
    kernel.finish()
    _, client, _ = student
    client.execute_interactive("import os\ndef crash():\n    os._exit(1)", timeout=20)
    crash, = names(kernel, "crash")
    with pytest.raises(StudentKernelError, match="died"):
        crash()


@pytest.mark.parametrize("unit", all_units(), ids=lambda u: u.name)
def test_the_checker_runs_the_course_definitions_the_tests_need_and_asks_for_the_rest(unit):
    """On each unit's real notebooks: imports and helpers from the release, every answer's name from
    the student, and none of the work the course cells do (data, training, plots)."""
    release = nbformat.read(RELEASE / unit.name / unit.notebook.name, as_version=4)
    source = nbformat.read(unit.notebook, as_version=4)
    tests = list(cells.test_cells(source).values())
    definitions = checker.CourseDefinitions(release, tests)
    answers = {name for c in cells.answer_cells(source).values()
               for name, how in integrity.bindings(integrity.python_of(c.source)).items() if how == "definition"}
    code, asked = "", set()
    for cell in tests:
        more_code, names_ = definitions.before(cell)
        code += more_code + "\n"
        asked |= set(names_)
    assert asked <= answers, f"asks the student for {asked - answers}, which the course defines"
    assert "load_reviews" not in code and ".fit(" not in code and "plots." not in code
    namespace: dict = {}
    exec(compile(code, "<course definitions>", "exec"), namespace)  # the definitions run on their own
    trees = [integrity.python_of(c.source) for c in tests]
    used = set().union(*map(checker.free_names, trees)) - set().union(*map(checker.bound_names, trees))
    assert used - answers - set(namespace) == set(), "every name a test uses is the course's or the student's"
