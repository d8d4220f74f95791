"""course-grader: collecting from folders and LMS zips, bad input, and a batch
in which one submission is broken."""

import csv
import json
import shutil
import zipfile

import pytest

from autograder import cli
from autograder.collector import student_id_from
from autograder.outcome import Outcome
from autograder.units import RELEASE, UnitError, find_unit

UNIT = find_unit("1")
NOTEBOOK = UNIT.notebook.name
RELEASED = RELEASE / UNIT.name / NOTEBOOK


def grader(workspace, *args):
    return cli.main(["--workspace", str(workspace), *args])


def submitted(workspace):
    return sorted(p.relative_to(workspace / "submitted").as_posix()
                  for p in (workspace / "submitted").rglob("*.ipynb"))


@pytest.mark.parametrize("name", ["1", "01", "01_ngrams_rnn", "ngrams_rnn", " 1 "])
def test_units_are_found_by_number_or_name(name):
    assert find_unit(name).name == "01_ngrams_rnn"


def test_unknown_unit_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    assert grader(tmp_path, "grade", "99") == 2
    error = capsys.readouterr().err
    assert "Unknown unit '99'" in error and "01_ngrams_rnn" in error
    assert "Traceback" not in error
    with pytest.raises(UnitError):
        find_unit("pink_elephant")


@pytest.mark.parametrize("filename, student", [
    ("doejane_12345_67890_ngrams_rnn.ipynb", "doejane"),
    ("Jane Doe_12345_assignsubmission_file_ngrams_rnn.ipynb", "jane-doe"),
    ("alice.ipynb", "alice"),
    ("bob_ngrams_rnn (1).ipynb", "bob"),
])
def test_student_ids_come_from_lms_file_names(filename, student):
    assert student_id_from(filename) == student


def test_collect_from_a_folder_renames_notebooks_for_nbgrader(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(RELEASED, inbox / "alice_my copy.ipynb")
    (inbox / "bob").mkdir()
    shutil.copy(RELEASED, inbox / "bob" / "Untitled.ipynb")
    assert grader(tmp_path / "ws", "collect", "1", str(inbox)) == 0
    assert submitted(tmp_path / "ws") == [f"alice/{UNIT.name}/{NOTEBOOK}", f"bob/{UNIT.name}/{NOTEBOOK}"]


def test_collect_from_an_lms_zip(tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as lms:
        lms.write(RELEASED, "doejane_12345_67890_ngrams_rnn.ipynb")
        lms.write(RELEASED, "Max Mustermann_4242_assignsubmission_file_/ngrams_rnn.ipynb")
        lms.writestr("__MACOSX/._doejane_12345_67890_ngrams_rnn.ipynb", b"\x00\x05")
        lms.writestr("readme.txt", "not a notebook")
    assert grader(tmp_path / "ws", "collect", "ngrams_rnn", str(archive)) == 0
    assert submitted(tmp_path / "ws") == [f"doejane/{UNIT.name}/{NOTEBOOK}", f"max-mustermann/{UNIT.name}/{NOTEBOOK}"]


def test_collect_reports_unreadable_notebooks_and_keeps_the_rest(tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(RELEASED, inbox / "alice_ngrams_rnn.ipynb")
    (inbox / "carol_ngrams_rnn.ipynb").write_text("{ this is not json")
    (inbox / "dave_ngrams_rnn.ipynb").write_text("")
    assert grader(tmp_path / "ws", "collect", "1", str(inbox)) == 1
    error = capsys.readouterr().err
    assert "carol_ngrams_rnn.ipynb: not a readable Jupyter notebook" in error
    assert "dave_ngrams_rnn.ipynb" in error
    assert submitted(tmp_path / "ws") == [f"alice/{UNIT.name}/{NOTEBOOK}"]


@pytest.mark.parametrize("make_input, message", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .ipynb files"),
    (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "neither a folder nor a zip"),
])
def test_collect_bad_input_is_a_clear_error(tmp_path, capsys, make_input, message):
    assert grader(tmp_path / "ws", "collect", "1", str(make_input(tmp_path))) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_grade_without_submissions_says_to_collect_first(tmp_path, capsys):
    assert grader(tmp_path, "grade", "1") == 2
    assert "course-grader collect" in capsys.readouterr().err


def test_each_outcome_reads_in_the_status_column_as_before():
    stopped = Outcome.not_graded("ran over 40 s (its kernel was stopped)")
    assert [Outcome.graded().status, stopped.status, Outcome.tampering(["cell 3: uses exec", "cell 4: imports gc"]).status,
            Outcome.tampering(["cell 3: uses exec"], unfinished=stopped).status] == [
        "graded", "not graded: ran over 40 s (its kernel was stopped)",
        "graded: 0 for tampering (cell 3: uses exec; cell 4: imports gc)",
        "graded: 0 for tampering (cell 3: uses exec); nbgrader could not finish (ran over 40 s (its kernel was stopped))",
    ]
    assert stopped.failed and not Outcome.tampering(["x"]).failed and not Outcome.tampering(["x"]).is_graded


@pytest.mark.parametrize("place", ["before", "after"])
def test_the_workspace_option_works_before_or_after_the_command(tmp_path, capsys, place):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(RELEASED, inbox / "alice_ngrams_rnn.ipynb")
    workspace = ["--workspace", str(tmp_path / "ws")]
    in_place = (lambda *args: [*workspace, *args]) if place == "before" else (lambda *args: [*args, *workspace])
    assert cli.main(in_place("collect", "1", str(inbox))) == 0
    assert submitted(tmp_path / "ws") == [f"alice/{UNIT.name}/{NOTEBOOK}"]
    empty = ["--workspace", str(tmp_path / "empty")]
    assert cli.main(["grade", "1", *empty] if place == "after" else [*empty, "grade", "1"]) == 2
    assert f"{tmp_path / 'empty' / 'submitted'}" in capsys.readouterr().err, "the workspace given is the one used"


def test_the_workspace_option_after_the_command_wins_over_the_one_before(tmp_path):
    args = cli.parse_args(["--workspace", str(tmp_path / "a"), "grade", "1", "--workspace", str(tmp_path / "b")])
    assert args.workspace == tmp_path / "b"
    assert cli.parse_args(["grade", "1"]).workspace == cli.DEFAULT_ROOT


@pytest.mark.slow
def test_a_broken_submission_does_not_stop_the_batch(tmp_path, capsys):
    """A notebook that is not JSON, slipped into submitted/, is reported; the others are graded."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(RELEASED, inbox / "alice_ngrams_rnn.ipynb")
    workspace = tmp_path / "ws"
    assert grader(workspace, "collect", "1", str(inbox)) == 0
    broken = workspace / "submitted" / "mallory" / UNIT.name
    broken.mkdir(parents=True)
    (broken / NOTEBOOK).write_text(json.dumps({"not": "a notebook"}))

    assert grader(workspace, "grade", "1") == 1
    output = capsys.readouterr()
    assert "1 submission(s) could not be graded" in output.err
    with (workspace / f"scores-{UNIT.name}.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["score"]) == 0
    assert rows["mallory"]["status"].startswith("not graded")
    assert float(rows["alice"]["lstm_memory_explanation"]) == 0, "nbgrader scores an unchanged answer 0"
    assert (workspace / "feedback" / "alice" / UNIT.name / NOTEBOOK.replace(".ipynb", ".html")).is_file()
