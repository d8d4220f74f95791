"""course-grader: release, collect and grade the course's units with nbgrader.

    course-grader release [UNIT ...]          student versions into release/ (all units by default)
    course-grader collect UNIT PATH            a folder of notebooks or an LMS zip -> submissions
    course-grader grade UNIT                   autograde every submission, scores CSV, feedback
    course-grader cluster-certs [DIR]          TLS certificates for grading on a Dask cluster (--cluster)
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

from course import settings

from . import cluster, integrity, sandbox
from .outcome import Kind, Outcome
from .student_pack import PackError, make_student_pack
from .units import RELEASE, Unit, UnitError, all_units, find_unit
from .workspace import COURSE_ID, DEFAULT_ROOT, SUBMISSION_FILES, Workspace, sqlite_url

CONFIG_FOLDER = Path(__file__).resolve().parent


class GraderError(Exception):
    """A problem the instructor can fix; printed as one clear message."""


@dataclass
class Result:
    student: str
    score: float | None
    max_score: float
    outcome: Outcome
    to_grade_by_hand: float = 0  # points that wait for the instructor (formgrader)
    sandbox: str = ""  # where the submission ran, when not on this machine (a cluster worker)


def nbgrader(args: list[str], workspace: Workspace, timeout: float | None = None,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run one nbgrader command with this course's config and workspace; ``env``: more settings for it."""
    workspace.root.mkdir(parents=True, exist_ok=True)
    # nbgrader calls helper programs (alembic) by name: find them beside this Python.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    environment = dict(os.environ, PATH=path, **settings.GRADING_WORKSPACE.assign(workspace.root),
                       **settings.SANDBOX_KIND.assign(sandbox.sandbox_kind()), **(env or {}))
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


def release(units: list[Unit], workspace: Workspace, release_directory: Path = RELEASE) -> None:
    """Generate the student version of each unit with nbgrader.

    nbgrader writes into a scratch folder first; a unit's release folder is
    replaced only when its content changed, so readers never see it half-written.
    """
    with tempfile.TemporaryDirectory() as scratch:
        for unit in tqdm(units, desc="release", unit="unit"):
            process = nbgrader(["generate_assignment", unit.name, "--force", "--no-db"], workspace,
                               env=settings.RELEASE_DIRECTORY.assign(scratch))
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


def collect(unit: Unit, path: Path, workspace: Workspace, student_pattern: str | None = None) -> list[str]:
    """File every notebook in ``path`` under its student with nbgrader's zip_collect.

    Returns the names of files that are not readable notebooks (they are skipped).
    """
    if not path.exists():
        raise GraderError(f"{path} does not exist")
    found = notebooks_in(path)
    if not found:
        raise GraderError(f"no .ipynb files in {path}: nothing to collect")
    unreadable = [name for name, content in found if not is_notebook(content)]
    extracted = workspace.extracted(unit)
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


def submitted_students(unit: Unit, workspace: Workspace) -> list[str]:
    students = workspace.students(unit)
    if not students:
        raise GraderError(f"no submissions for {unit.name} in {workspace.submitted}; "
                          f"run `course-grader collect {unit.name} PATH` first")
    return students


def register_assignment(unit: Unit, workspace: Workspace, gradebook_url: str | None = None) -> None:
    """Put the unit's source (with its hidden tests) into the workspace's gradebook, or into ``gradebook_url``."""
    with tempfile.TemporaryDirectory() as scratch_release:
        env = settings.RELEASE_DIRECTORY.assign(scratch_release)
        if gradebook_url:
            env.update(settings.GRADEBOOK_URL.assign(gradebook_url))
        process = nbgrader(["generate_assignment", unit.name, "--force"], workspace, env=env)
    if process.returncode != 0:
        raise GraderError(f"could not register {unit.name} in the gradebook: {nbgrader_error(process)}")


def thread_limits(threads: int) -> dict[str, str]:
    """Environment that keeps BLAS and TensorFlow to ``threads`` threads, so workers do not fight over cores."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    return {name: str(threads) for name in names}


def unreadable(notebook: Path) -> Outcome | None:
    """Not graded, when a submitted file is not a notebook nbgrader can grade; else None."""
    try:
        nbformat.validate(nbformat.read(notebook, as_version=4))
    except Exception as error:  # nbformat raises JSON, validation, version and decoding errors
        return Outcome.not_graded(f"not a readable Jupyter notebook ({type(error).__name__}); ask for the .ipynb again")
    return None


def failure(process: subprocess.CompletedProcess) -> Outcome:
    """Why nbgrader could not grade a submission, in the instructor's terms."""
    message = nbgrader_error(process)
    if "DeadKernel" in message or "Kernel died" in message:
        return Outcome.not_graded(f"the kernel died (the notebook crashed or ended its own kernel): {message}")
    if "CellTimeoutError" in message:
        # nbclient's own message names the seconds it then waited for the kernel's output, not the cell limit
        limit = settings.CELL_TIMEOUT
        return Outcome.not_graded(
            f"a cell ran over its time limit and did not stop when interrupted ({limit.variable}: "
            f"{settings.cell_timeout()} s); grade it again alone, or with a longer {limit.variable}")
    if "nbgrader metadata" in message or "nbgrader update" in message:
        return Outcome.not_graded("its nbgrader metadata was edited (test cells duplicated or their ids changed), "
                                  "which nbgrader refuses; ask for the notebook again or grade it by hand")
    return Outcome.not_graded(message)


def autograde_one(unit: Unit, student: str, workspace: Workspace, *extra: str,
                  env: dict[str, str] | None = None) -> Outcome:
    """Autograde one submission with nbgrader, in its own process.

    Whatever the submission left running (the kernel of a killed nbgrader, or
    processes it started) is killed afterwards: they all work in its folder.
    """
    problem = unreadable(workspace.submission(student, unit))
    if problem:
        return problem
    timeout = settings.submission_timeout()
    try:
        process = nbgrader(["autograde", unit.name, f"--student={student}", "--force", *extra], workspace,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return unfinished(unit, student, workspace, Outcome.not_graded(f"ran over {timeout:g} s (its kernel was stopped)"))
    finally:
        sandbox.kill_processes_inside(workspace.autograded_folder(student))
    if process.returncode != 0:
        return unfinished(unit, student, workspace, failure(process))
    return Outcome.graded()


def unfinished(unit: Unit, student: str, workspace: Workspace, outcome: Outcome) -> Outcome:
    """A submission nbgrader could not finish: not graded, or 0 if its code tampers with the tests."""
    findings = integrity.submission_findings(workspace.submission(student, unit), unit.name)
    return Outcome.tampering(findings, unfinished=outcome) if findings else outcome


def result_of(student: str, outcome: Outcome, sandbox_line: str = "") -> Result:
    """A result before the gradebook is read: tampering scores 0 even where nbgrader recorded nothing."""
    return Result(student, 0 if outcome.kind is Kind.TAMPERING else None, 0, outcome, sandbox=sandbox_line)


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


def scratch_gradebook(unit: Unit, workspace: Workspace, fresh: bool = False) -> Path:
    """The SQLite gradebook each worker copies: the workspace's own, which ``grade`` has just
    registered ``unit`` in, or a new one that knows only ``unit``: when the gradebook is elsewhere
    (COURSE_GRADEBOOK_URL), or ``fresh`` (it travels in every cluster task, without other grades)."""
    template = workspace.scratch / "gradebook-template.db"
    template.parent.mkdir(parents=True, exist_ok=True)
    template.unlink(missing_ok=True)
    if fresh or settings.gradebook_url():
        register_assignment(unit, workspace, gradebook_url=sqlite_url(template))
    else:
        shutil.copy(workspace.gradebook_file, template)
    return template


def execute_in_scratch(unit: Unit, student: str, workspace: Workspace, template: Path, threads: int) -> Outcome:
    """Phase 1 of parallel grading: run one submission in a private copy of the workspace.

    The scratch gets a gradebook of its own (a copy of ``template``), so no two
    processes ever write to one database; its autograded notebook (with outputs)
    goes to ``executed/`` for the single writer of phase 2. Whatever goes wrong
    with one submission is that submission's result: the rest of the class is
    still graded.
    """
    try:
        with tempfile.TemporaryDirectory(prefix=f"{student}-", dir=workspace.scratch,
                                         ignore_cleanup_errors=True) as scratch_name:
            scratch = Workspace(Path(scratch_name))
            shutil.copy(template, scratch.gradebook_file)
            submitted = workspace.submission_folder(student, unit)
            copy_graded_files(submitted, scratch.submission_folder(student, unit),
                              [unit.notebook.name, *SUBMISSION_FILES])
            env = {**settings.GRADER_FOLDERS.assign(workspace.root),
                   **settings.GRADEBOOK_URL.assign(scratch.own_gradebook_url), **thread_limits(threads)}
            outcome = autograde_one(unit, student, scratch, env=env)
            if outcome.is_graded:
                executed = workspace.executed_folder(student, unit)
                shutil.rmtree(executed, ignore_errors=True)
                copy_graded_files(scratch.autograded_folder(student, unit), executed, [unit.notebook.name])
                copy_graded_files(submitted, executed, SUBMISSION_FILES)  # the time collect saw, not the kernel's
    except Exception as error:  # the batch goes on; this submission says what happened
        return Outcome.not_graded(f"the grader failed on this submission ({type(error).__name__}: {error}); "
                                  "grade it again alone")
    return outcome


def grade_in_parallel(unit: Unit, students: list[str], workspace: Workspace, workers: int) -> list[Result]:
    """Execute submissions concurrently, then record every grade from one process.

    Phase 2 re-runs nbgrader's autograde without executing anything: it reads the
    executed notebooks and saves their grades, exactly as a serial run would.
    No student code runs in it, so it has no time limit.
    """
    shutil.rmtree(workspace.executed, ignore_errors=True)
    template = scratch_gradebook(unit, workspace)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        threads = max(1, (os.cpu_count() or 1) // workers)
        futures = {pool.submit(execute_in_scratch, unit, student, workspace, template, threads): student
                   for student in students}
        results = [result_of(futures[f], f.result()) for f in tqdm(
            as_completed(futures), total=len(futures), desc=f"grade {unit.name} ({workers} workers)", unit="notebook")]
    template.unlink()
    return record_executed(unit, results, workspace)


def grade_on_cluster(unit: Unit, students: list[str], workspace: Workspace, address: str) -> list[Result]:
    """Phase 1 as tasks on the Dask cluster at ``address`` (autograder/cluster.py), phase 2 here."""
    shutil.rmtree(workspace.executed, ignore_errors=True)
    template = scratch_gradebook(unit, workspace, fresh=True)
    try:
        executed = cluster.execute_on_cluster(unit, students, workspace, template, address)
    finally:
        template.unlink()
    results = [result_of(student, *executed[student]) for student in students]
    return record_executed(unit, results, workspace)


def record_command(unit: Unit, workspace: Workspace) -> list[str]:
    """nbgrader's autograde of the executed notebooks, executing nothing: it saves their grades."""
    return ["autograde", unit.name, "--force", "--no-execute",
            f"--CourseDirectory.submitted_directory={workspace.executed.resolve()}"]


def record_executed(unit: Unit, results: list[Result], workspace: Workspace) -> list[Result]:
    """Phase 2: record the grades of the notebooks phase 1 executed, from this one process."""
    record = record_command(unit, workspace)
    executed = [r for r in results if r.outcome.is_graded]
    if executed and nbgrader(record, workspace).returncode != 0:
        for result in executed:  # find out which one failed, student by student
            result.outcome = autograde_one(unit, result.student, workspace, *record[3:])
    return sorted(results, key=lambda r: r.student)


def read_scores(unit: Unit, results: list[Result], workspace: Workspace) -> dict[str, dict]:
    """Fill in each graded result's score and outcome from the gradebook; return each student's grades
    by test and answer (a score, or "to grade by hand")."""
    from nbgrader.api import Gradebook, MissingEntry

    grades = {}
    with Gradebook(workspace.gradebook_url, COURSE_ID) as gradebook:
        assignment = gradebook.find_assignment(unit.name)
        for result in results:
            result.max_score = assignment.max_score
            grades[result.student] = {}
            if not result.outcome.is_graded:
                continue
            try:
                submission = gradebook.find_submission(unit.name, result.student)
            except MissingEntry:
                result.outcome = Outcome.not_graded("no gradebook entry")
                continue
            result.score = submission.score
            result.outcome = integrity_outcome(unit, result.student, workspace)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.needs_manual_grade:
                        result.to_grade_by_hand += grade.max_score
                        grades[result.student][grade.name] = "to grade by hand"
                    else:
                        grades[result.student][grade.name] = grade.score
    return grades


def integrity_outcome(unit: Unit, student: str, workspace: Workspace) -> Outcome:
    """Graded, or scored 0 for tampering with its tests (what RecordIntegrity found)."""
    autograded = workspace.autograded(student, unit)
    findings = integrity.findings_of(nbformat.read(autograded, as_version=4)) if autograded.is_file() else []
    return Outcome.tampering(findings) if findings else Outcome.graded()


def csv_rows(unit: Unit, results: list[Result], grades: dict[str, dict]) -> list[dict]:
    """One row of the scores CSV per student, from its result and its grades."""
    sandbox_line = sandbox.describe(sandbox.sandbox_kind())
    return [{"student_id": r.student, "unit": unit.name, "status": r.outcome.status,
             "sandbox": r.sandbox or sandbox_line,
             **grades.get(r.student, {}), "score": r.score, "max_score": r.max_score} for r in results]


def write_csv(rows: list[dict], path: Path) -> None:
    columns = ["student_id", "unit", "score", "max_score", "status", "sandbox"]
    columns += sorted({key for row in rows for key in row} - set(columns))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def grade(unit: Unit, workspace: Workspace, workers: int = 1,
          cluster_address: str | None = None) -> tuple[list[Result], Path]:
    """Autograde every submission of ``unit``, export scores and generate feedback; execute them
    with ``workers`` processes here, or on the Dask cluster at ``cluster_address``."""
    students = submitted_students(unit, workspace)
    register_assignment(unit, workspace)
    if cluster_address:
        results = grade_on_cluster(unit, students, workspace, cluster_address)
    elif workers > 1:
        results = grade_in_parallel(unit, students, workspace, workers)
    else:
        results = [result_of(student, autograde_one(unit, student, workspace))
                   for student in tqdm(students, desc=f"grade {unit.name}", unit="notebook")]
    grades = read_scores(unit, results, workspace)
    scores_csv = workspace.scores_csv(unit)
    write_csv(csv_rows(unit, results, grades), scores_csv)
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
        lines.append(f"{r.student:<{width}}  {score:>11}  {r.outcome.status}{by_hand}")
    return "\n".join(lines)


def workspace_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--workspace", type=Path, default=default,
                        help="where submissions, grades and feedback go (default: grading/)")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; ``--workspace`` may come before the command or after it."""
    parser = argparse.ArgumentParser(prog="course-grader", description=__doc__.split("\n\n")[0])
    workspace_option(parser, DEFAULT_ROOT)
    # After the command, the option must not reset what was given before it: no default there.
    after_command = argparse.ArgumentParser(add_help=False)
    workspace_option(after_command, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[after_command])

    release_parser = command("release", "generate student versions into release/")
    release_parser.add_argument("units", nargs="*", help="units to release (default: all)")
    collect_parser = command("collect", "file submitted notebooks under their students")
    collect_parser.add_argument("unit")
    collect_parser.add_argument("path", type=Path, help="a folder of .ipynb files or an LMS zip download")
    collect_parser.add_argument("--student-pattern", help="regex with a (?P<student_id>...) group, matched on file names")
    pack_parser = command("student-pack", "what students may see, into a new folder")
    pack_parser.add_argument("out", type=Path, help="a folder that does not exist yet")
    grade_parser = command("grade", "autograde, export scores, generate feedback")
    grade_parser.add_argument("unit")
    grade_parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                              help="submissions graded at once (default: the number of cores)")
    grade_parser.add_argument("--cluster", metavar="ADDRESS", default=settings.grading_cluster(),
                              help="a Dask scheduler (tls://host:8786) whose workers execute the submissions "
                                   "(default: COURSE_GRADING_CLUSTER; an empty value grades here; deploy/README.md)")
    certs_parser = command("cluster-certs", "TLS certificates for the grading cluster's scheduler, workers and grader")
    certs_parser.add_argument("folder", type=Path, nargs="?",
                              help="where to write them (default: COURSE_CLUSTER_CERTS, else cluster-certs/ "
                                   "in the workspace)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace.resolve())
    workspace.root.mkdir(parents=True, exist_ok=True)
    if args.command == "release":
        units = [find_unit(name) for name in args.units] if args.units else all_units()
        release(units, workspace)
        print(f"Released {', '.join(u.name for u in units)} into {RELEASE}")
        return 0
    if args.command == "student-pack":
        files = make_student_pack(args.out.resolve())
        print(f"Wrote the student pack ({len(files)} files) to {args.out}: release/, course/, README.md, "
              "pyproject.toml, environment.yml, LICENSE, data/README.md")
        return 0
    if args.command == "cluster-certs":
        folder = (args.folder or cluster.certificates_folder(workspace)).resolve()
        paths = cluster.make_certificates(folder)
        print(f"Wrote {', '.join(p.name for p in paths)} to {folder}. The scheduler, every worker and the grader "
              f"need all three; keep {paths[-1].name} secret (deploy/README.md).")
        return 0
    unit = find_unit(args.unit)
    if args.command == "collect":
        unreadable_files = collect(unit, args.path, workspace, args.student_pattern)
        students = submitted_students(unit, workspace)
        print(f"Collected {len(students)} submissions of {unit.name} into {workspace.submitted}")
        for name in unreadable_files:
            print(f"skipped {name}: not a readable Jupyter notebook (ask the student to submit the .ipynb again)",
                  file=sys.stderr)
        return 1 if unreadable_files else 0
    if args.workers < 1:
        raise GraderError(f"--workers must be at least 1, not {args.workers}")
    kind = sandbox.sandbox_kind()
    print(sandbox.describe(kind), file=sys.stderr if kind != sandbox.BUBBLEWRAP else sys.stdout)
    if args.cluster:
        print(f"Executing on the Dask cluster at {args.cluster}; recording grades here", file=sys.stderr)
    results, scores_csv = grade(unit, workspace, args.workers, args.cluster)
    print(summary_table(results))
    print(sandbox.describe(kind) if not args.cluster else "Sandboxes: see the sandbox column (one per worker)")
    print(f"\nScores: {scores_csv}\nFeedback: {workspace.feedback}")
    failed = [r for r in results if r.outcome.failed]
    if failed:
        print(f"{len(failed)} submission(s) could not be graded; see the status column.", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (GraderError, UnitError, PackError, cluster.ClusterError) as error:
        print(f"course-grader: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
