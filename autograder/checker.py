"""The checker: test cells run in a kernel of their own, which the student's code never reaches.

Grading (unless ``COURSE_CHECKER=0``) drives two sandboxed
kernels in step, cell by cell. The student's kernel runs the course cells and
the answer cells, as before. Every test cell, its visible and its hidden part,
runs in the checker kernel instead; before it, the checker gets

- the course's own definitions the tests use, from the release notebook (never
  the student's copy): its imports, and the functions, classes and constants
  the tests name, each once, in the course's order (``CourseDefinitions``);
- every other name the test uses, bound to what the student's kernel holds
  then: plain data copied, anything else a proxy (autograder/checker_kernel.py,
  answered in the student's kernel by autograder/student_agent.py).

Points come from the checker: nbgrader reads the test cell's outputs, which
are the checker's. The hidden tests' source and their expected values exist
only there: the student's kernel receives the inputs of the calls the tests
make, never their code, so its input history, outputs and files cannot hold
them. The checker kernel has the sandbox's limits too, a user of its own, a
private empty folder to work in, and, beyond what a student's kernel may read,
only autograder/ (its own code) and the student kernel's sockets.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import shutil
import tempfile
from pathlib import Path

from jupyter_core.utils import ensure_async

from course import settings

from . import cells, integrity, sandbox

AUTOGRADER = Path(__file__).resolve().parent
CHECKER_USER_OFFSET = 50000  # the checker's uid: its student kernel's + this
BUILTIN_NAMES = set(dir(builtins))
MODULE = "autograder.checker_kernel"


def bound_names(tree: ast.AST) -> set[str]:
    """Every name a piece of code binds anywhere (assignments, loops, definitions, arguments, imports)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def free_names(tree: ast.AST) -> set[str]:
    """The names a piece of code reads and does not bind itself, builtins left out."""
    return integrity.loaded_names(tree) - bound_names(tree) - BUILTIN_NAMES


class CourseDefinitions:
    """The statements of the course's cells that the tests need, and the names they leave to the student.

    The course cells are the release's; the tests, the notebook's being graded
    (nbgrader has put their hidden parts back). A top-level statement of a course
    cell is kept when it binds a name that a test, or a statement already kept, reads: ``import numpy as np``, ``def
    context_totals``, ``BOS, EOS = ...``. Statements that do work (load data,
    train, plot) are never kept: the checker needs definitions, not results.
    """

    def __init__(self, release, tests: list):
        self.test_positions = {cells.grade_id(c): i for i, c in enumerate(release.cells) if cells.is_test(c)}
        statements = [(i, node) for i, cell in enumerate(release.cells)
                      if cells.is_course_code(cell)
                      for node in (integrity.python_of(cell.source) or ast.Module([], [])).body]
        tests = [integrity.python_of(c.source) or ast.Module([], []) for c in tests]
        needed = set().union(*map(free_names, tests)) - set().union(*map(bound_names, tests))
        kept: dict[int, tuple[int, ast.stmt]] = {}
        while True:
            more = {n: (i, node) for n, (i, node) in enumerate(statements)
                    if n not in kept and bound_names(node) & needed and not isinstance(node, ast.Expr)}
            if not more:
                break
            kept.update(more)
            needed |= set().union(*(free_names(node) for _, node in more.values()))
        self.kept = [kept[n] for n in sorted(kept)]
        self.done = 0  # statements of self.kept sent to the checker so far
        self.checker_names: set[str] = set()  # what the checker's own code has bound so far
        self.student_names_of_course: set[str] = set()  # student names the kept statements read

    def before(self, cell) -> tuple[str, list[str]]:
        """(course code to run now, names to ask the student's kernel for) before one test cell."""
        position = self.test_positions.get(cells.grade_id(cell), len(self.kept) + 10**9)
        due = [node for i, node in self.kept[self.done:] if i < position]
        self.done += len(due)
        for node in due:
            self.checker_names |= bound_names(node)
            self.student_names_of_course |= free_names(node)
        tree = integrity.python_of(cell.source) or ast.Module([], [])
        wanted = (free_names(tree) | self.student_names_of_course) - self.checker_names
        self.checker_names |= bound_names(tree)  # what the test binds is the checker's from now on
        return "\n".join(ast.unparse(node) for node in due), sorted(wanted)


def open_to(student: int, checker: int, kernel_folder: Path) -> None:
    """Let the checker's user, and no one else, connect to a student kernel's sockets (both kernels run as
    users of their own, each with a group of the same number): the folder and sockets go to the checker's group."""
    for path, mode in [(kernel_folder, 0o710), *((socket, 0o660) for socket in kernel_folder.glob("ipc-*"))]:
        os.chown(path, student, checker, follow_symlinks=False)
        path.chmod(mode)


class Checker:
    """The grader's side: starts the checker kernel, prepares it before each test cell, and hands
    it to nbclient for the cell (so its outputs, timeout and interrupt work as for any cell)."""

    def __init__(self, release, tests: list, timeout: float, label: str):
        self.definitions = CourseDefinitions(release, tests)
        self.label = label
        self.timeout = timeout
        self.km = None
        self.kc = None
        self.folder = Path(tempfile.mkdtemp(prefix="course-checker-"))

    async def start(self, executor) -> None:
        student = executor.km
        self.km = sandbox.SandboxedKernelManager(kernel_name=executor.kernel_name)
        self.km.also_readable = [AUTOGRADER]
        self.km.also_bound = [student.kernel_folder]
        self.km.user_offset = CHECKER_USER_OFFSET
        student_user = sandbox.kernel_user(student.sandbox)
        if student_user is not None:  # else both kernels run as the grader's user
            open_to(student_user, student_user + CHECKER_USER_OFFSET, student.kernel_folder)
        await ensure_async(self.km.start_kernel(cwd=str(self.folder)))
        self.kc = self.km.client()
        self.kc.allow_stdin = False
        await ensure_async(self.kc.start_channels())
        await ensure_async(self.kc.wait_for_ready(timeout=executor.startup_timeout))
        connection = dict(student.get_connection_info(), key=student.session.key.decode())
        await self.run_quietly(f"__import__({MODULE!r}, fromlist=['connect']).connect({connection!r}, "
                               f"{self.timeout!r})", executor.log)

    async def run_quietly(self, code: str, log, expressions: dict | None = None) -> dict:
        """Run the checker's own code in its kernel, outside any cell; its errors go to the grader's log
        (the test that follows fails with its own message). The reply's content."""
        msg_id = self.kc.execute(code, silent=True, store_history=False, user_expressions=expressions or {},
                                 stop_on_error=False)  # an error here must not abort the test cell after it
        while True:
            reply = await ensure_async(self.kc.get_shell_msg(timeout=self.timeout + 30))
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        if reply["content"].get("status") != "ok":
            log.warning("the checker: %s: %s", reply["content"].get("ename"), reply["content"].get("evalue"))
        return reply["content"]

    async def record_statistics(self, log) -> None:
        """Append how many calls the tests made to the student's kernel, and their cost, to
        ``COURSE_CHECKER_STATISTICS`` when it is set (benchmarks/)."""
        path = settings.CHECKER_STATISTICS.raw()
        if not path or self.kc is None:
            return
        reply = await self.run_quietly("", log, {"statistics": f"__import__({MODULE!r}, fromlist=['statistics'])"
                                                              ".statistics()"})
        found = reply.get("user_expressions", {}).get("statistics", {})
        figures = ast.literal_eval(found.get("data", {}).get("text/plain", "{}")) if found.get("status") == "ok" else {}
        with open(path, "a") as out:
            out.write(json.dumps({"notebook": self.label, **figures}) + "\n")

    async def run_test(self, executor, run_cell, cell, *args, **kwargs):
        """Run one test cell in the checker with nbclient's ``run_cell``, then give the student's kernel back."""
        if self.km is None:
            await self.start(executor)
        code, names = self.definitions.before(cell)
        await self.run_quietly(f"__import__({MODULE!r}, fromlist=['prepare']).prepare({code!r}, {names!r})",
                               executor.log)
        student = executor.kc, executor.km
        executor.kc, executor.km = self.kc, self.km
        try:
            return await run_cell(cell, *args, **kwargs)
        finally:
            executor.kc, executor.km = student
            await self.run_quietly(f"__import__({MODULE!r}, fromlist=['finish']).finish()", executor.log)

    async def stop(self, log) -> None:
        try:
            await self.record_statistics(log)
            if self.kc is not None:
                await ensure_async(self.kc.stop_channels())
            if self.km is not None and await ensure_async(self.km.is_alive()):
                await ensure_async(self.km.shutdown_kernel(now=True))
            if self.km is not None:
                await ensure_async(self.km.cleanup_resources())
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def for_notebook(nb, resources: dict, timeout: float) -> Checker | None:
    """A checker for the notebook nbgrader is grading, or None when the checker is off."""
    info = (resources or {}).get("nbgrader") or {}
    if not settings.checker_enabled() or "assignment" not in info:
        return None
    release = integrity.release_notebook(info["assignment"], f"{info['notebook']}.ipynb")
    return Checker(release, list(cells.test_cells(nb).values()), timeout, label=f"{info['assignment']}/{info['notebook']}")
