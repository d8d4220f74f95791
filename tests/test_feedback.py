"""Feedback without the hidden tests: not in the test cells, and not in anything a
student's code printed (it can read them from IPython's input history)."""

from autograder import feedback

from . import notebooks as nb

HIDDEN_LINE = "np.testing.assert_allclose(_secret_case(), 42.0)"
TEST_SOURCE = f"assert f(1) == 2\n### BEGIN HIDDEN TESTS\n{HIDDEN_LINE}\n### END HIDDEN TESTS\n"


def graded_notebook():
    new = nb.nbformat.v4
    test = new.new_code_cell(TEST_SOURCE, metadata={"nbgrader": {"grade": True, "grade_id": "test_f", "points": 2}})
    test.outputs = [new.new_output("stream", text=f"leaked: {HIDDEN_LINE}\nok\n"),
                    new.new_output("error", ename="AssertionError", evalue=f"{HIDDEN_LINE} " + "x" * 5000,
                                   traceback=["Traceback", HIDDEN_LINE])]
    answer = new.new_code_cell("def f(x):\n    return 2 * x")
    answer.outputs = [new.new_output("stream", text=f"mine\n{TEST_SOURCE}"),
                      new.new_output("display_data", data={"text/plain": HIDDEN_LINE, "image/png": "iVBORw0KGgo="}),
                      new.new_output("error", ename="ValueError", evalue="bad", traceback=["in f(x)", HIDDEN_LINE])]
    note = new.new_markdown_cell('My **notes** <script>alert("hi")</script> <img src=x onerror="alert(1)">')
    return new.new_notebook(cells=[note, answer, test])


def test_feedback_keeps_the_message_and_drops_every_hidden_line():
    notebook, _ = feedback.HideHiddenTests().preprocess(graded_notebook(), {})
    note, answer, test = notebook.cells
    assert HIDDEN_LINE not in test.source and "assert f(1) == 2" in test.source
    assert [o.output_type for o in test.outputs] == ["error"], "a test cell shows only its error"
    error = test.outputs[0]
    assert error.ename == "AssertionError" and len(error.evalue) <= feedback.MAX_MESSAGE
    assert error.traceback == [f"AssertionError: {error.evalue}"]
    shown = str(notebook)
    assert HIDDEN_LINE not in shown, "hidden test code printed by the student's code must not reach the feedback"
    assert "mine" in answer.outputs[0].text and answer.outputs[1].data["image/png"] == "iVBORw0KGgo="
    assert answer.outputs[2].traceback[0] == "in f(x)", "the student's own traceback stays, less hidden lines"


def test_feedback_escapes_a_students_script():
    notebook, _ = feedback.HideHiddenTests().preprocess(graded_notebook(), {})
    note = notebook.cells[0].source
    assert "<script>" not in note and "onerror" not in note and "**notes**" in note


def test_one_endless_line_is_cut():
    from autograder import output_limits

    new = nb.nbformat.v4
    cell = new.new_code_cell("print('x' * 10**8)", outputs=[new.new_output("stream", text="x" * 10**6),
                                                            new.new_output("display_data", data={"text/plain": "y" * 10**6})])
    cell, _ = output_limits.LimitCharacters().preprocess_cell(cell, {}, 0)
    assert all(len(str(o.get("text", o.get("data", {}).get("text/plain")))) < output_limits.MAX_TEXT + 200 for o in cell.outputs)
    assert "cut by the grader" in cell.outputs[0].text
