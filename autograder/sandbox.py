"""Sandboxed kernels for grading: what a student's code may see and use.

nbgrader runs a submission's kernel with the grader's rights (jupyter/nbgrader#483).
Here only the *kernel* is confined; nbgrader itself, which holds the hidden tests
and writes the gradebook, stays outside. With bubblewrap (``bwrap``) the kernel
gets:

- no network (its own network namespace; the kernel talks to nbgrader over Unix
  sockets, ``ipc`` transport, in a folder bound into the sandbox);
- a read-only view of the system, the Python environment, ``course/`` and the
  data, and nothing else of the repository or the workspace: no ``source/``,
  no gradebook, no other student;
- two writable folders: the notebook's own folder and the kernel's sockets;
- its own process namespace, killed with nbgrader (``--die-with-parent``);
- a user id of its own (when the grader runs as root) and ``prlimit`` limits on
  memory, processes and CPU time.

Without a working bubblewrap the grader falls back to the limits, a separate
session (and a user id of its own where that user can reach Python), and says
so: that kernel can use the network and read what its user can read.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbclient.util import run_sync
from nbgrader.preprocessors import Execute

import course
from course import data, settings

BUBBLEWRAP = "bubblewrap"
FIRST_SANDBOX_UID = 100000  # kernels of a root grader run as 100000 + n, users that own nothing
COURSE_PACKAGE = Path(course.__file__).resolve().parent
KEPT_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "NBGRADER_EXECUTION", "MPLBACKEND",
                  "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
KEPT_PREFIXES = ("LC_", "TF_", settings.PREFIX)


@dataclass(frozen=True)
class Limits:
    """Per-kernel resource limits (course.settings: the COURSE_SANDBOX_* settings; tests use small ones)."""

    memory_mb: int
    processes: int
    cpu_seconds: int
    file_mb: int
    tmp_mb: int

    @classmethod
    def from_environment(cls) -> "Limits":
        return cls(**settings.sandbox_limits())

    def prlimit(self) -> list[str]:
        return ["prlimit", f"--as={self.memory_mb * 2**20}", f"--nproc={self.processes}",
                f"--cpu={self.cpu_seconds}", f"--fsize={self.file_mb * 2**20}", "--core=0", "--"]


def sandbox_user() -> int | None:
    """The uid a kernel runs as when the grader is root, else None (it keeps the grader's).

    RLIMIT_NPROC does not bind root, and it counts all processes of a uid: each
    kernel gets a uid of its own (from its nbgrader's pid), so one student's fork
    bomb cannot starve another student's kernel graded at the same time.
    """
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    return FIRST_SANDBOX_UID + os.getpid() % 50000


def as_user(uid: int | None) -> list[str]:
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--inh-caps=-all", "--bounding-set=-all"]


def system_binds() -> list[str]:
    """Read-only system folders; merged-/usr links (/bin -> usr/bin) stay links."""
    args = []
    for folder in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"):
        path = Path(folder)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), folder]
        elif path.exists():
            args += ["--ro-bind", folder, folder]
    return args


def read_only(paths: list[Path]) -> list[str]:
    """Bind each path read-only where it is; a path reached through a link is bound at both names."""
    args = []
    for path in paths:
        real = path.resolve()
        if real.exists():
            args += ["--ro-bind", str(real), str(real)]
            if str(path) != str(real):
                args += ["--ro-bind", str(real), str(path)]
    return args


def readable_course() -> list[Path]:
    """What a kernel needs: Python (the environment and its base), the course helpers, the data."""
    paths = [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}]
    paths.append(COURSE_PACKAGE)
    paths += data.readable_folders()
    return sorted(set(paths))


def namespaces() -> list[str]:
    """As root, bwrap mounts with the grader's rights and the kernel then becomes a plain user
    (``as_user``); otherwise a user namespace is needed, and nested ones are refused."""
    shared = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    if os.geteuid() == 0:
        return shared
    return [*shared, "--unshare-user", "--disable-userns", "--cap-drop", "ALL"]


def parent_folders(paths: list[Path]) -> list[str]:
    """Folders bwrap must create, readable by all (it makes them 0700), to reach each bound path."""
    parents = {str(parent) for path in paths for parent in path.parents if str(parent) not in ("/", "/tmp")}
    args = []
    for parent in sorted(parents, key=lambda p: p.count("/")):
        args += ["--perms", "0755", "--dir", parent]
    return args


def in_memory(folder: str, size: int) -> list[str]:
    """A writable folder for everyone, in memory, of at most ``size`` bytes."""
    return ["--size", str(size), "--perms", "1777", "--tmpfs", folder]


def bubblewrap(writable: list[Path], also_readable: list[Path] = (), also_bound: list[Path] = ()) -> list[str]:
    readable = [*readable_course(), *also_readable]
    tmp_bytes = Limits.from_environment().tmp_mb * 2**20
    destinations = [*readable, *(p.resolve() for p in readable), *writable, *also_bound]
    # JPY_PARENT_PID (set by jupyter_client) names a pid outside the sandbox's pid
    # namespace: ipykernel would take it for a dead parent and exit.
    args = ["bwrap", *namespaces(), "--die-with-parent", "--unsetenv", "JPY_PARENT_PID", *system_binds(),
            "--proc", "/proc", "--dev", "/dev", *in_memory("/tmp", tmp_bytes), *in_memory("/dev/shm", tmp_bytes),
            *parent_folders(destinations), *read_only(readable)]
    for folder in [*writable, *also_bound]:
        args += ["--bind", str(folder), str(folder)]
    return args


@lru_cache(maxsize=1)
def bubblewrap_problem() -> str | None:
    """Why bubblewrap cannot confine a kernel here, or None when it can."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    with tempfile.TemporaryDirectory() as folder:
        probe = [*bubblewrap([Path(folder)]), *as_user(sandbox_user()), "true"]
        try:
            process = subprocess.run(probe, capture_output=True, text=True, timeout=60, cwd=folder)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap does not start: {error}"
    if process.returncode != 0:
        reason = (process.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bwrap cannot create namespaces here ({reason})"
    return None


def sandbox_kind() -> str:
    """'bubblewrap', or 'fallback: <why>'. COURSE_SANDBOX=fallback forces the fallback (tests)."""
    if settings.sandbox_forced_to_fall_back():
        return f"fallback: forced by {settings.SANDBOX.variable}=fallback"
    problem = bubblewrap_problem()
    return f"fallback: {problem}" if problem else BUBBLEWRAP


def describe(kind: str) -> str:
    """One line for the grader's output and the scores CSV."""
    if kind == BUBBLEWRAP:
        return "sandbox: bubblewrap (no network, read-only course, private scratch, limits)"
    reason = kind.split(": ", 1)[1]
    return (f"sandbox: WEAKER fallback ({reason}): limits and a separate session only; "
            "the kernel can use the network and read world-readable files")


@lru_cache(maxsize=1)
def python_runs_unprivileged() -> bool:
    """Outside a sandbox a plain user may not reach this Python (e.g. under /root/.pyenv)."""
    probe = [*as_user(sandbox_user()), *limits(), sys.executable, "-c", "pass"]
    return subprocess.run(probe, capture_output=True, cwd="/").returncode == 0


def kernel_user(kind: str) -> int | None:
    """The uid for a kernel, or None when it keeps the grader's (not root, or a fallback that cannot)."""
    if kind != BUBBLEWRAP and not python_runs_unprivileged():
        return None
    return sandbox_user()


def limits() -> list[str]:
    return Limits.from_environment().prlimit() if shutil.which("prlimit") else []


def kernel_command(command: list[str], writable: list[Path], kind: str, user: int | None,
                   also_readable: list[Path] = (), also_bound: list[Path] = ()) -> list[str]:
    sandbox = bubblewrap(writable, also_readable, also_bound) if kind == BUBBLEWRAP else []
    return [*sandbox, *as_user(user), *limits(), *command]


def kernel_environment(environment: dict[str, str], kind: str, home: Path) -> dict[str, str]:
    """Only what a notebook needs: no tokens or paths of the grader's own environment."""
    hidden = settings.hidden_from_kernel()
    kept = {name: value for name, value in environment.items()
            if (name in KEPT_VARIABLES or name.startswith(KEPT_PREFIXES)) and name not in hidden}
    home = "/tmp" if kind == BUBBLEWRAP else str(home)
    kept.update(HOME=home, TMPDIR=home, MPLCONFIGDIR=os.path.join(home, "matplotlib"))
    return kept


def give_to(user: int | None, folders: list[Path]) -> None:
    """Let the kernel's own user write its folders."""
    if user is None:
        return
    for folder in folders:
        for root, directories, files in os.walk(folder):
            for name in [root, *(os.path.join(root, n) for n in directories + files)]:
                os.chown(name, user, user, follow_symlinks=False)


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel inside the sandbox, talking over Unix sockets in a private folder.

    The checker's kernel (autograder/checker.py) is one too, with a few more folders
    (``also_readable``, ``also_bound``) and a user of its own (``user_offset``)."""

    also_readable: list[Path] = []
    also_bound: list[Path] = []  # bound as they are, not given to the kernel's user
    user_offset = 0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = settings.sandbox_kind() or sandbox_kind()
        self.transport = "ipc"
        self.kernel_folder = Path(tempfile.mkdtemp(prefix="course-kernel-"))
        self.connection_file = str(self.kernel_folder / "connection.json")
        self.ip = str(self.kernel_folder / "ipc")  # sockets: ipc-<port>

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        notebook_folder = Path(kw.get("cwd") or os.getcwd()).resolve()
        writable = [notebook_folder, self.kernel_folder]
        user = kernel_user(self.sandbox)
        user = None if user is None else user + self.user_offset
        give_to(user, writable)
        kw["env"] = kernel_environment(kw.get("env") or dict(os.environ), self.sandbox, self.kernel_folder)
        self.log.info(describe(self.sandbox))
        # A signal to bwrap's process group does not reach the kernel in its pid namespace:
        # interrupt over the control channel instead (ipykernel then signals itself).
        self.kernel_spec.interrupt_mode = "message"
        command = kernel_command(kernel_cmd, writable, self.sandbox, user, self.also_readable, self.also_bound)
        await super()._async_launch_kernel(command, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.kernel_folder, ignore_errors=True)


class SandboxedExecute(Execute):
    """nbgrader's Execute with the sandboxed kernel (nbgrader passes its kernel manager class explicitly)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kwargs)

    checker = None

    def preprocess(self, nb, resources=None, km=None):
        """Execute, then clear the kernel's folder for nbgrader (``clear_way``)."""
        from . import checker

        self.checker = checker.for_notebook(nb, resources, self.timeout)
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            if self.checker is not None:
                run_sync(self.checker.stop)(self.log)
            clear_way(Path((resources or {}).get("metadata", {}).get("path") or "."))

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        """A test cell runs in the checker's kernel when there is one (autograder/checker.py)."""
        from .cells import is_test

        run = super().async_execute_cell
        if self.checker is None or cell.cell_type != "code" or not is_test(cell) or not cell.source.strip():
            return await run(cell, cell_index, *args, **kwargs)
        return await self.checker.run_test(self, run, cell, cell_index, *args, **kwargs)

    execute_cell = run_sync(async_execute_cell)


def clear_way(folder: Path) -> None:
    """Drop what the kernel left in its folder that nbgrader, which writes the graded notebook
    there from outside the sandbox, must not meet: links it would follow, pipes it would
    block on, folders where it writes notebooks."""
    for path in sorted(folder.rglob("*"), reverse=True):  # what is inside a folder before the folder
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            path.unlink()
        elif path.is_dir() and path.suffix == ".ipynb":
            shutil.rmtree(path)


def processes_inside(folder: Path) -> list[int]:
    """Pids of processes whose working folder is in ``folder`` (Linux /proc; empty elsewhere)."""
    folder = folder.resolve()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == folder or folder in cwd.parents:
            found.append(int(entry.name))
    return found


def kill_processes_inside(folder: Path) -> None:
    """Kill what a submission left running: a kernel whose nbgrader was killed, or its children."""
    for pid in processes_inside(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
