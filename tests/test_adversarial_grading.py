"""A class of hostile and broken submissions (tests/adversarial.py), graded in one
batch with a full solution and an untouched release: each gets its expected score
and reason, the others are graded as if alone, the gradebook and the course are
intact, and no process of any submission outlives the batch.

Every notebook arrives renamed ("<student>_Untitled (1).ipynb"), as from an LMS.
Short limits keep this file to a few minutes: 60 s per cell (a legitimate cell of
Unit 3 takes at most 5 s alone and about 12 s on a machine loaded twice over, as CI
is while the other test worker runs), 4 GiB per kernel, 256 MiB per file and in /tmp.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import hashlib
import html
import re
import sqlite3

import pytest

from autograder import cli, sandbox
from course import settings

from . import adversarial as adv
from . import notebooks as nb

# The batch's setup counts against one test: allow it more than the suite's 15 minutes.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial"), pytest.mark.timeout(1800)]
UNIT = adv.UNIT
UNIT_POINTS = 12
LIMITS = {"COURSE_CELL_TIMEOUT": "60", "COURSE_SUBMISSION_TIMEOUT": "300", "COURSE_SANDBOX_MEMORY_MB": "4096",
          "COURSE_SANDBOX_FILE_MB": "256", "COURSE_SANDBOX_TMP_MB": "256"}


def require_bubblewrap():
    """Skip without bubblewrap, unless run-tests.sh installed it (as in CI): then fail, with the reason."""
    kind = sandbox.sandbox_kind()
    if kind != sandbox.BUBBLEWRAP:
        message = f"these checks need the bubblewrap sandbox: {kind}"
        if settings.require_bubblewrap():
            pytest.fail(f"{message} (set COURSE_REQUIRE_BUBBLEWRAP=0 to skip them on this machine)")
        pytest.skip(message)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scores(workspace) -> dict[str, dict]:
    with (workspace / f"scores-{UNIT.name}.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def collect(workspace, cases: dict[str, adv.Case]) -> None:
    """Readable notebooks through `collect`; the rest straight into submitted/, as if an LMS let them through."""
    inbox = workspace.parent / "inbox"
    inbox.mkdir()
    broken = {name: case for name, case in cases.items() if case.status == adv.NOT_READABLE}
    for name, case in cases.items():
        if name not in broken:
            (inbox / f"{name}_Untitled (1).ipynb").write_bytes(case.build(workspace))
    assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(inbox)]) == 0
    for name, case in broken.items():
        folder = workspace / "submitted" / name / UNIT.name
        folder.mkdir(parents=True)
        (folder / UNIT.notebook.name).write_bytes(case.build(workspace))


def grade_the_class(workspace) -> tuple[int, dict[str, dict], dict[str, str]]:
    """Collect and grade every case in one batch: (exit status, CSV rows, digests taken before)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LIMITS.items():
            patch.setenv(name, value)
        collect(workspace, adv.CASES)
        before = {"source": digest(UNIT.notebook), "full": digest(submitted(workspace, "full"))}
        exit_code = cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--workers", "2"])
    return exit_code, scores(workspace), before


def submitted(workspace, student):
    return workspace / "submitted" / student / UNIT.name / UNIT.notebook.name


def graded_output(workspace, student) -> str:
    notebook = nb.read(workspace / "autograded" / student / UNIT.name / UNIT.notebook.name)
    return "\n".join(str(output.get("text", "")) for cell in notebook.cells for output in cell.get("outputs", []))


def wrong_outcome(name: str, row: dict, workspace) -> str | None:
    """What is wrong with one submission's row of the scores CSV, or None."""
    case = adv.CASES[name]
    reason = adv.fill(case.reason, workspace)
    if not row["status"].startswith(case.status) or reason not in row["status"]:
        return f"status {row['status']!r}, expected {case.status!r} with {reason!r}"
    if float(row["max_score"]) != UNIT_POINTS:
        return f"max score {row['max_score']}, expected {UNIT_POINTS}: points were inflated"
    if (row["score"] == "") != (case.score is None) or (case.score is not None and float(row["score"]) != case.score):
        return f"score {row['score']!r}, expected {case.score}"
    if [test for test in case.zero_tests if float(row[test]) != 0]:
        return f"{case.zero_tests} should score 0: {[row[t] for t in case.zero_tests]}"
    leaked = [text for text in case.output_lacks if text in graded_output(workspace, name)]
    return f"its output shows {leaked}: the sandbox let it through" if leaked else None


def readings(page: str) -> list[str]:
    """A feedback page as written, and decoded each way a student might have encoded what they printed:
    rot13, reversed, and every run of base64 in it."""
    decoded = []
    for run in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", page):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except binascii.Error:
            pass
    return [page, codecs.decode(page, "rot13"), page[::-1], *decoded]


def test_a_hostile_class_is_graded_in_one_batch(tmp_path):
    """One test, not one per case: the batch is graded once, whichever worker runs it."""
    require_bubblewrap()
    workspace = tmp_path / "workspace"
    exit_code, rows, before = grade_the_class(workspace)

    assert set(rows) == set(adv.CASES)
    problems = {name: wrong_outcome(name, row, workspace) for name, row in rows.items()}
    assert {name: problem for name, problem in problems.items() if problem} == {}
    assert exit_code == 1, "submissions that cannot be graded make the exit status 1"
    assert {row["sandbox"] for row in rows.values()} == {sandbox.describe(sandbox.BUBBLEWRAP)}

    with sqlite3.connect(workspace / "gradebook.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        students = {row[0] for row in database.execute("SELECT student_id FROM submitted_assignment")}
        stamps = dict(database.execute("SELECT student_id, timestamp FROM submitted_assignment"))
    assert not str(stamps.get("own-timestamp") or "").startswith("2001"), "the kernel set its own submission time"
    assert students >= {name for name, row in rows.items() if row["test_causal_mask"] != ""}
    assert digest(UNIT.notebook) == before["source"], "a submission changed source/"
    assert digest(submitted(workspace, "full")) == before["full"], "a submission changed another student's work"
    assert sandbox.processes_inside(workspace) == [], "processes of the batch survived it"

    page = html.unescape((workspace / "feedback" / "numpy" / UNIT.name / f"{UNIT.notebook.stem}.html").read_text())
    assert "Scored 0 by the grader" in page and "np.testing.assert_array_equal" in page
    hidden = nb.hidden_test_lines(nb.read(UNIT.notebook))
    # Decoded, a page holds what the student printed of their own code: a hidden line that is also an answer's
    # line (`if mask is not None:`) is theirs to print.
    own = {line.strip() for cell in adv.solved().cells for line in cell.source.splitlines()}
    for page_path in (workspace / "feedback").glob(f"*/{UNIT.name}/*.html"):
        shown, *decoded = readings(html.unescape(page_path.read_text()))
        assert not [line for line in hidden if line in shown], f"{page_path} shows hidden test code"
        assert not [line for line in hidden - own for text in decoded if line in text], \
            f"{page_path} shows hidden test code, encoded"
    for name in ("leaks-inputs", "leaks-history"):  # they did print the history: the answers before are in it
        page = html.unescape((workspace / "feedback" / name / UNIT.name / f"{UNIT.notebook.stem}.html").read_text())
        assert "def split_heads(" in codecs.decode(page, "rot13"), f"{name} printed no input history"
    own_page = (workspace / "feedback" / "own-timestamp" / UNIT.name / f"{UNIT.notebook.stem}.html").read_text()
    assert adv.SCRIPT_IN_MARKDOWN not in own_page, "a student's script must not reach the feedback page"


@pytest.mark.parametrize("kind", [sandbox.BUBBLEWRAP, "fallback"])
def test_a_notebook_over_its_time_limit_is_stopped_with_all_its_processes(tmp_path, monkeypatch, capsys, kind):
    """A kernel that ignores interrupts outlives its nbgrader unless the grader kills it too."""
    if kind == sandbox.BUBBLEWRAP:
        require_bubblewrap()
    else:
        monkeypatch.setenv("COURSE_SANDBOX", "fallback")
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "600")
    monkeypatch.setenv("COURSE_SUBMISSION_TIMEOUT", "40")
    workspace = tmp_path / "workspace"
    collect(workspace, {"stuck": adv.Case(adv.hostile(adv.IGNORES_INTERRUPTS), None, "not graded: ran over 40 s")})
    assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--workers", "1"]) == 1
    row = scores(workspace)["stuck"]
    assert row["status"].startswith("not graded: ran over 40 s"), row["status"]
    assert sandbox.processes_inside(workspace) == []
    announced = sandbox.describe(sandbox.sandbox_kind())
    assert row["sandbox"] == announced and announced in capsys.readouterr().out
    assert ("WEAKER fallback" in announced) == (kind == "fallback")


def test_a_cell_that_ignores_its_interrupt_is_reported_with_the_cell_limit_in_force(tmp_path, monkeypatch):
    """nbclient's own message names the 30 s it then waits for the kernel's output; the status names the limit."""
    monkeypatch.setenv("COURSE_SANDBOX", "fallback")
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "7")
    workspace = tmp_path / "workspace"
    collect(workspace, {"deaf": adv.CASES["deaf"]})
    assert cli.main(["grade", UNIT.name, "--workers", "1", "--workspace", str(workspace)]) == 1
    status = scores(workspace)["deaf"]["status"]
    assert status.startswith(adv.CASES["deaf"].status) and "(COURSE_CELL_TIMEOUT: 7 s)" in status, status
    assert "30 seconds" not in status, status


def test_the_weaker_fallback_still_grades_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_SANDBOX", "fallback")
    workspace = tmp_path / "workspace"
    collect(workspace, {"full": adv.CASES["full"]})
    assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--workers", "1"]) == 0
    row = scores(workspace)["full"]
    assert (float(row["score"]), row["status"]) == (12, "graded")
    assert row["sandbox"].startswith("sandbox: WEAKER fallback (forced by COURSE_SANDBOX=fallback)")
    assert "WEAKER fallback" in capsys.readouterr().out
