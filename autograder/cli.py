"""course-grader: release, collect and grade the course's units with nbgrader.

    course-grader release [UNIT ...]          student versions into release/ (all units by default)
    course-grader collect UNIT PATH            a folder of notebooks or an LMS zip -> submissions
    course-grader grade UNIT                   autograde every submission, scores CSV, feedback
    course-grader student-pack OUT             what students may see (no source, no hidden tests), to publish

Everything a grading run writes goes to the workspace (``--workspace``, by
default ``grading/``): submissions, autograded copies, feedback, gradebook.
Each submission is graded in its own nbgrader process, so one broken or
hostile notebook is reported and the rest of the class is still graded.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import integrity, sandbox
from .setup_cell import ensure_setup_cell
from .student_pack import PackError, make_student_pack
from .units import REPOSITORY, RELEASE, Unit, UnitError, all_units, find_unit

CONFIG_FOLDER = Path(__file__).resolve().parent
DEFAULT_WORKSPACE = REPOSITORY / "grading"
SUBMISSION_TIMEOUT = 600  # seconds for one whole submission, on top of nbgrader's per-cell limit


def gradebook_url(workspace: Path) -> str:
    """COURSE_GRADEBOOK_URL (a shared database), else SQLite in the workspace, as nbgrader_config.py has it."""
    return os.environ.get("COURSE_GRADEBOOK_URL") or f"sqlite:///{workspace / 'gradebook.db'}"


def submission_timeout() -> float:
    """SUBMISSION_TIMEOUT, or COURSE_SUBMISSION_TIMEOUT (the adversarial tests use a short one)."""
    return float(os.environ.get("COURSE_SUBMISSION_TIMEOUT", SUBMISSION_TIMEOUT))


class GraderError(Exception):
    """A problem the instructor can fix; printed as one clear message."""


@dataclass
class Result:
    student: str
    score: float | None
    max_score: float
    status: str  # "graded" or a short reason it could not be
    to_grade_by_hand: float = 0  # points that wait for the instructor (formgrader)


def nbgrader(args: list[str], workspace: Path, timeout: float | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run one nbgrader command with this course's config and workspace."""
    workspace.mkdir(parents=True, exist_ok=True)
    # nbgrader calls helper programs (alembic) by name: find them beside this Python.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = dict(os.environ, PATH=path, COURSE_GRADING_WORKSPACE=str(workspace),
                       COURSE_SANDBOX_KIND=sandbox.sandbox_kind(), **env)
    command = [sys.executable, "-m", "nbgrader", *args]
    return run_as_group(command, timeout, cwd=CONFIG_FOLDER, env=environment)


def run_as_group(command: list[str], timeout: float | None, **popen) -> subprocess.CompletedProcess:
    """subprocess.run, but a timeout kills the whole session, not only its first process."""
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True, **popen) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def nbgrader_error(process: subprocess.CompletedProcess) -> str:
    """The most useful line of nbgrader's log: its last error, else its last line."""
    lines = [line for line in (process.stderr + process.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "[ERROR]" in line or "Error" in line]
    return (errors or lines or ["nbgrader failed without a message"])[-1].strip()


def release(units: list[Unit], release_directory: Path = RELEASE, workspace: Path = DEFAULT_WORKSPACE) -> None:
    """Generate the student version of each unit with nbgrader.

    nbgrader writes into a scratch folder first; a unit's release folder is
    replaced only when its content changed, so readers never see it half-written.
    """
    with tempfile.TemporaryDirectory() as scratch:
        for unit in tqdm(units, desc="release", unit="unit"):
            process = nbgrader(["generate_assignment", unit.name, "--force", "--no-db"], workspace,
                               COURSE_RELEASE_DIRECTORY=scratch)
            if process.returncode != 0:
                raise GraderError(f"release of {unit.name} failed: {nbgrader_error(process)}")
            replace_if_changed(Path(scratch) / unit.name, release_directory / unit.name)


def folder_content(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def replace_if_changed(fresh: Path, target: Path) -> None:
    if folder_content(fresh) != folder_content(target):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(fresh, target)


def flat_name(relative: str) -> str:
    """``alice/ngrams_rnn.ipynb`` -> ``alice_ngrams_rnn.ipynb``: a folder per student names the student."""
    return "_".join(Path(relative).parts)


def notebooks_in(path: Path) -> list[tuple[str, bytes]]:
    """(flat file name, bytes) of every .ipynb in a folder or a zip, skipping system clutter."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".ipynb") and "__MACOSX" not in n
                     and ".ipynb_checkpoints" not in n]
            return [(flat_name(n), archive.read(n)) for n in sorted(names)]
    if path.is_dir():
        files = [p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
        return [(flat_name(str(p.relative_to(path))), p.read_bytes()) for p in files]
    raise GraderError(f"{path} is neither a folder nor a zip file of notebooks")


def is_notebook(content: bytes) -> bool:
    """Whether nbformat reads it as a notebook (any version it can convert: v3 too)."""
    try:
        nbformat.reads(content.decode("utf-8"), as_version=4)
    except Exception:  # nbformat raises JSON, version, decoding and key errors
        return False
    return True


def collect(unit: Unit, path: Path, workspace: Path, student_pattern: str | None = None) -> list[str]:
    """File every notebook in ``path`` under its student with nbgrader's zip_collect.

    Returns the names of files that are not readable notebooks (they are skipped).
    """
    if not path.exists():
        raise GraderError(f"{path} does not exist")
    found = notebooks_in(path)
    if not found:
        raise GraderError(f"no .ipynb files in {path}: nothing to collect")
    unreadable = [name for name, content in found if not is_notebook(content)]
    extracted = workspace / "downloaded" / unit.name / "extracted"
    shutil.rmtree(extracted, ignore_errors=True)
    extracted.mkdir(parents=True)
    for name, content in found:
        if name not in unreadable:
            (extracted / name).write_bytes(content)
    args = ["zip_collect", unit.name, "--force", "--collector=autograder.collector.SubmissionCollector",
            f"--SubmissionCollector.notebook_name={unit.notebook.name}"]
    if student_pattern:
        args.append(f"--SubmissionCollector.student_pattern={student_pattern}")
    process = nbgrader(args, workspace)
    if process.returncode != 0:
        raise GraderError(f"collect failed: {nbgrader_error(process)}")
    return unreadable


def submitted_students(unit: Unit, workspace: Path) -> list[str]:
    submitted = workspace / "submitted"
    students = sorted(p.parent.name for p in submitted.glob(f"*/{unit.name}") if p.is_dir())
    if not students:
        raise GraderError(
            f"no submissions for {unit.name} in {submitted}; run `course-grader collect {unit.name} PATH` first"
        )
    return students


def register_assignment(unit: Unit, workspace: Path, **env: str) -> None:
    """Put the unit's source (with its hidden tests) into the gradebook."""
    with tempfile.TemporaryDirectory() as scratch_release:
        process = nbgrader(["generate_assignment", unit.name, "--force"], workspace,
                           COURSE_RELEASE_DIRECTORY=scratch_release, **env)
    if process.returncode != 0:
        raise GraderError(f"could not register {unit.name} in the gradebook: {nbgrader_error(process)}")


def thread_limits(threads: int) -> dict[str, str]:
    """Environment that keeps BLAS and TensorFlow to ``threads`` threads, so workers do not fight over cores."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    return {name: str(threads) for name in names}


def unreadable_reason(notebook: Path) -> str | None:
    """Why a submitted file is not a notebook nbgrader can grade, or None."""
    try:
        nbformat.validate(nbformat.read(notebook, as_version=4))
    except Exception as error:  # nbformat raises JSON, validation, version and decoding errors
        return f"not graded: not a readable Jupyter notebook ({type(error).__name__}); ask for the .ipynb again"
    return None


def failure(process: subprocess.CompletedProcess) -> str:
    message = nbgrader_error(process)
    if "DeadKernel" in message or "Kernel died" in message:
        return f"not graded: the kernel died (the notebook crashed or ended its own kernel): {message}"
    if "CellTimeoutError" in message:
        return ("not graded: a cell ran over its time limit and did not stop when interrupted "
                f"({message}); grade it again alone, or with a longer COURSE_CELL_TIMEOUT")
    if "nbgrader metadata" in message or "nbgrader update" in message:
        return ("not graded: its nbgrader metadata was edited (test cells duplicated or their ids changed), "
                "which nbgrader refuses; ask for the notebook again or grade it by hand")
    return f"not graded: {message}"


def autograde_one(unit: Unit, student: str, workspace: Path, *extra: str, **env: str) -> Result:
    """Autograde one submission with nbgrader, in its own process.

    Whatever the submission left running (the kernel of a killed nbgrader, or
    processes it started) is killed afterwards: they all work in its folder.
    """
    problem = unreadable_reason(workspace / "submitted" / student / unit.name / unit.notebook.name)
    if problem:
        return Result(student, None, 0, problem)
    timeout = submission_timeout()
    try:
        process = nbgrader(["autograde", unit.name, f"--student={student}", "--force", *extra], workspace,
                           timeout=timeout, **env)
    except subprocess.TimeoutExpired:
        return unfinished(unit, student, workspace, f"not graded: ran over {timeout:g} s (its kernel was stopped)")
    finally:
        sandbox.kill_processes_inside(workspace / "autograded" / student)
    if process.returncode != 0:
        return unfinished(unit, student, workspace, failure(process))
    return Result(student, None, 0, "graded")


def unfinished(unit: Unit, student: str, workspace: Path, reason: str) -> Result:
    """A submission nbgrader could not finish: not graded, or 0 if its code tampers with the tests."""
    notebook = workspace / "submitted" / student / unit.name / unit.notebook.name
    findings = integrity.submission_findings(notebook, unit.name)
    if findings:
        return Result(student, 0, 0, f"graded: 0 for tampering ({'; '.join(findings)}); nbgrader could not finish "
                                     f"({reason.removeprefix('not graded: ')})")
    return Result(student, None, 0, reason)


def copy_graded_files(source: Path, target: Path, names: list[str]) -> None:
    """The files ``names`` of a submission folder that are plain files, and nothing else.

    A student's kernel writes into the folder it runs in: whatever else is there
    (pipes, links, huge files, a timestamp of its own) is not needed to record
    the grades, and not copied.
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = source / name
        if path.is_file() and not path.is_symlink():
            shutil.copyfile(path, target / name)


def scratch_gradebook(unit: Unit, workspace: Path) -> Path:
    """The SQLite gradebook each worker copies: the workspace's own, which ``grade`` has just
    registered ``unit`` in, or, when the gradebook is elsewhere (COURSE_GRADEBOOK_URL), a new
    one that knows only ``unit``."""
    template = workspace / "scratch" / "gradebook-template.db"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.unlink(missing_ok=True)
    if os.environ.get("COURSE_GRADEBOOK_URL"):
        register_assignment(unit, workspace, COURSE_GRADEBOOK_URL=f"sqlite:///{template}")
    else:
        shutil.copy(workspace / "gradebook.db", template)
    return template


def execute_in_scratch(unit: Unit, student: str, workspace: Path, template: Path, threads: int) -> Result:
    """Phase 1 of parallel grading: run one submission in a private copy of the workspace.

    The scratch gets a gradebook of its own (a copy of ``template``), so no two
    processes ever write to one database; its autograded notebook (with outputs)
    goes to ``executed/`` for the single writer of phase 2. Whatever goes wrong
    with one submission is that submission's result: the rest of the class is
    still graded.
    """
    try:
        with tempfile.TemporaryDirectory(prefix=f"{student}-", dir=workspace / "scratch",
                                         ignore_cleanup_errors=True) as scratch_name:
            scratch = Path(scratch_name)
            shutil.copy(template, scratch / "gradebook.db")
            submitted = workspace / "submitted" / student / unit.name
            graded_files = [unit.notebook.name, "timestamp.txt"]
            copy_graded_files(submitted, scratch / "submitted" / student / unit.name, graded_files)
            result = autograde_one(unit, student, scratch, COURSE_MAIN_WORKSPACE=str(workspace),
                                   COURSE_GRADEBOOK_URL=f"sqlite:///{scratch / 'gradebook.db'}",
                                   **thread_limits(threads))
            if result.status == "graded":
                executed = workspace / "executed" / student / unit.name
                shutil.rmtree(executed, ignore_errors=True)
                copy_graded_files(scratch / "autograded" / student / unit.name, executed, [unit.notebook.name])
                copy_graded_files(submitted, executed, ["timestamp.txt"])  # the time collect saw, not the kernel's
    except Exception as error:  # the batch goes on; this submission says what happened
        return Result(student, None, 0, f"not graded: the grader failed on this submission "
                                        f"({type(error).__name__}: {error}); grade it again alone")
    return result


def grade_in_parallel(unit: Unit, students: list[str], workspace: Path, workers: int) -> list[Result]:
    """Execute submissions concurrently, then record every grade from one process.

    Phase 2 re-runs nbgrader's autograde without executing anything: it reads the
    executed notebooks and saves their grades, exactly as a serial run would.
    No student code runs in it, so it has no time limit.
    """
    shutil.rmtree(workspace / "executed", ignore_errors=True)
    template = scratch_gradebook(unit, workspace)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        threads = max(1, (os.cpu_count() or 1) // workers)
        futures = [pool.submit(execute_in_scratch, unit, student, workspace, template, threads) for student in students]
        results = [f.result() for f in tqdm(as_completed(futures), total=len(futures),
                                             desc=f"grade {unit.name} ({workers} workers)", unit="notebook")]
    template.unlink()
    record = ["autograde", unit.name, "--force", "--no-execute",
              f"--CourseDirectory.submitted_directory={(workspace / 'executed').resolve()}"]
    executed = [r for r in results if r.status == "graded"]
    if executed and nbgrader(record, workspace).returncode != 0:
        for result in executed:  # find out which one failed, student by student
            result.status = autograde_one(unit, result.student, workspace, *record[3:]).status
    return sorted(results, key=lambda r: r.student)


def read_scores(unit: Unit, results: list[Result], workspace: Path) -> list[dict]:
    """Fill in each result's score from the gradebook; one CSV row per student."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(gradebook_url(workspace), "genlm-course") as gradebook:
        assignment = gradebook.find_assignment(unit.name)
        for result in results:
            result.max_score = assignment.max_score
            row = {"student_id": result.student, "unit": unit.name, "status": result.status,
                   "sandbox": sandbox.describe(sandbox.sandbox_kind())}
            if result.status == "graded":
                try:
                    submission = gradebook.find_submission(unit.name, result.student)
                except MissingEntry:
                    result.status = "not graded: no gradebook entry"
                else:
                    result.score = submission.score
                    result.status = integrity_status(unit, result.student, workspace)
                    for notebook in submission.notebooks:
                        for grade in notebook.grades:
                            if grade.needs_manual_grade:
                                result.to_grade_by_hand += grade.max_score
                                row[grade.name] = "to grade by hand"
                            else:
                                row[grade.name] = grade.score
            row.update(score=result.score, max_score=result.max_score, status=result.status)
            rows.append(row)
    return rows


def integrity_status(unit: Unit, student: str, workspace: Path) -> str:
    """'graded', or why the notebook scored 0 for tampering with its tests."""

    autograded = workspace / "autograded" / student / unit.name / unit.notebook.name
    findings = integrity.findings_of(nbformat.read(autograded, as_version=4)) if autograded.is_file() else []
    return f"graded: 0 for tampering ({'; '.join(findings)})" if findings else "graded"


def write_csv(rows: list[dict], path: Path) -> None:
    columns = ["student_id", "unit", "score", "max_score", "status", "sandbox"]
    columns += sorted({key for row in rows for key in row} - set(columns))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def grade(unit: Unit, workspace: Path, workers: int = 1) -> tuple[list[Result], Path]:
    """Autograde every submission of ``unit``, export scores and generate feedback."""
    students = submitted_students(unit, workspace)
    register_assignment(unit, workspace)
    if workers > 1:
        results = grade_in_parallel(unit, students, workspace, workers)
    else:
        results = [autograde_one(unit, student, workspace)
                   for student in tqdm(students, desc=f"grade {unit.name}", unit="notebook")]
    rows = read_scores(unit, results, workspace)
    scores_csv = workspace / f"scores-{unit.name}.csv"
    write_csv(rows, scores_csv)
    feedback = nbgrader(["generate_feedback", unit.name, "--force"], workspace)
    if feedback.returncode != 0:
        print(f"warning: feedback not generated: {nbgrader_error(feedback)}", file=sys.stderr)
    return results, scores_csv


def summary_table(results: list[Result]) -> str:
    width = max([len("student")] + [len(r.student) for r in results])
    lines = [f"{'student':<{width}}  {'score':>11}  status", f"{'-' * width}  {'-' * 11}  ------"]
    for r in results:
        score = f"{r.score:g} / {r.max_score:g}" if r.score is not None else f"- / {r.max_score:g}"
        by_hand = f" ({r.to_grade_by_hand:g} points to grade by hand)" if r.to_grade_by_hand else ""
        lines.append(f"{r.student:<{width}}  {score:>11}  {r.status}{by_hand}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="course-grader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE,
                        help="where submissions, grades and feedback go (default: grading/)")
    commands = parser.add_subparsers(dest="command", required=True)
    release_parser = commands.add_parser("release", help="generate student versions into release/")
    release_parser.add_argument("units", nargs="*", help="units to release (default: all)")
    collect_parser = commands.add_parser("collect", help="file submitted notebooks under their students")
    collect_parser.add_argument("unit")
    collect_parser.add_argument("path", type=Path, help="a folder of .ipynb files or an LMS zip download")
    collect_parser.add_argument("--student-pattern", help="regex with a (?P<student_id>...) group, matched on file names")
    pack_parser = commands.add_parser("student-pack", help="what students may see, into a new folder")
    pack_parser.add_argument("out", type=Path, help="a folder that does not exist yet")
    grade_parser = commands.add_parser("grade", help="autograde, export scores, generate feedback")
    grade_parser.add_argument("unit")
    grade_parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                              help="submissions graded at once (default: the number of cores)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    workspace = args.workspace.resolve()
    workspace.mkdir(parents=True, exist_ok=True)
    if args.command == "release":
        units = [find_unit(name) for name in args.units] if args.units else all_units()
        for unit in units:  # a new unit gets the Colab set-up cell without anyone adding it by hand
            if ensure_setup_cell(unit.notebook):
                print(f"Added the Colab set-up cell to {unit.notebook.relative_to(REPOSITORY)}")
        release(units, workspace=workspace)
        print(f"Released {', '.join(u.name for u in units)} into {RELEASE}")
        return 0
    if args.command == "student-pack":
        files = make_student_pack(args.out.resolve())
        print(f"Wrote the student pack ({len(files)} files) to {args.out}: release/, course/, README.md, "
              "pyproject.toml, environment.yml, LICENSE, data/README.md")
        return 0
    unit = find_unit(args.unit)
    if args.command == "collect":
        unreadable = collect(unit, args.path, workspace, args.student_pattern)
        students = submitted_students(unit, workspace)
        print(f"Collected {len(students)} submissions of {unit.name} into {workspace / 'submitted'}")
        for name in unreadable:
            print(f"skipped {name}: not a readable Jupyter notebook (ask the student to submit the .ipynb again)",
                  file=sys.stderr)
        return 1 if unreadable else 0
    if args.workers < 1:
        raise GraderError(f"--workers must be at least 1, not {args.workers}")
    kind = sandbox.sandbox_kind()
    print(sandbox.describe(kind), file=sys.stderr if kind != sandbox.BUBBLEWRAP else sys.stdout)
    results, scores_csv = grade(unit, workspace, args.workers)
    print(summary_table(results))
    print(sandbox.describe(kind))
    print(f"\nScores: {scores_csv}\nFeedback: {workspace / 'feedback'}")
    failed = [r for r in results if r.status.startswith("not graded")]
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see the status column.", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (GraderError, UnitError, PackError) as error:
        print(f"course-grader: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
