"""Every setting of the course: its environment variable, its default and what it does.

Settings are read from the environment each time they are asked for, never
cached at import: a grader passes them to the nbgrader processes it starts,
and tests set them per test. Code asks the functions below (``cell_timeout()``),
never ``os.environ`` for a ``COURSE_*`` name. The shell scripts (run-tests.sh,
scripts/venv.sh) read their own, which are declared here too.

An unset variable and an empty one both mean the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PREFIX = "COURSE_"


@dataclass(frozen=True)
class Setting:
    variable: str
    default: str | None
    comment: str
    hidden_from_kernel: bool = False  # the grader's own paths: a student's kernel never sees them
    sent_to_workers: bool = False  # a grading limit: cluster workers grade under the instructor's value

    def raw(self) -> str | None:
        """The variable's value, or the default when it is unset or empty."""
        return os.environ.get(self.variable) or self.default

    def assign(self, value: object) -> dict[str, str]:
        """The environment entry that sets this setting, for a process the course starts."""
        return {self.variable: str(value)}


# --- notebooks --------------------------------------------------------------
MODE = Setting("COURSE_MODE", "student", "student (the full lesson), fast (tiny budgets for CI) or grading")
NBGRADER_EXECUTION = Setting("NBGRADER_EXECUTION", None,
                             "set by nbgrader while it executes a notebook (autograde, validate): grading mode")
DATA_DIR = Setting("COURSE_DATA_DIR", None, "the folder holding wine-reviews/ (default: data/ in the repository)")
DATA_MIRROR = Setting("COURSE_DATA_MIRROR", None, "a server to download the data files from instead of their homes")
CACHE_DIR = Setting("COURSE_CACHE_DIR", None, "where trained weights are kept (default: ~/.cache/genlm-course)")
FIGURES_FILE = Setting("COURSE_FIGURES_FILE", None,
                       "set by benchmarks/run_notebooks.py: a file the notebook appends the figures it reports to "
                       "(runtime.report), which the benchmark records and the README quotes")

# --- grading ----------------------------------------------------------------
GRADING_WORKSPACE = Setting("COURSE_GRADING_WORKSPACE", None,
                            "the workspace nbgrader works in (default: grading/ in the repository)",
                            hidden_from_kernel=True)
GRADER_FOLDERS = Setting("COURSE_GRADER_FOLDERS", None,
                         "set by parallel and cluster grading: the grader's folders (the workspace a worker's private "
                         "copy came from, and on a cluster the grader's course), separated by os.pathsep",
                         hidden_from_kernel=True)
RELEASE_DIRECTORY = Setting("COURSE_RELEASE_DIRECTORY", None,
                            "where nbgrader writes student versions (default: release/; the grader uses a scratch)",
                            hidden_from_kernel=True)
GRADEBOOK_URL = Setting("COURSE_GRADEBOOK_URL", None,
                        "a database URL nbgrader takes, e.g. postgresql://user@host/course "
                        "(default: SQLite in the workspace)", hidden_from_kernel=True)
CELL_TIMEOUT = Setting("COURSE_CELL_TIMEOUT", "120", "seconds a cell may run while grading; then it is interrupted",
                       sent_to_workers=True)
CHECKER = Setting("COURSE_CHECKER", "1",
                  "grading runs every test cell in a kernel of its own, the checker, that the student's code "
                  "never reaches (autograder/checker.py); 0: in the student's kernel, as plain nbgrader does",
                  sent_to_workers=True)
CHECKER_STATISTICS = Setting("COURSE_CHECKER_STATISTICS", None,
                             "a file the grader appends to, one JSON line per graded notebook: how many calls its "
                             "tests made to the student's kernel and how long they took (benchmarks)",
                             hidden_from_kernel=True)
SUBMISSION_TIMEOUT = Setting("COURSE_SUBMISSION_TIMEOUT", "600",
                             "seconds one whole submission may take, on top of the cell limit; then it is stopped",
                             sent_to_workers=True)
GRADING_CLUSTER = Setting("COURSE_GRADING_CLUSTER", None,
                          "a Dask scheduler, tls://host:8786: grade executes each submission on its workers "
                          "(--cluster; deploy/README.md)")
CLUSTER_CERTS = Setting("COURSE_CLUSTER_CERTS", None,
                        "the folder `course-grader cluster-certs` wrote (default: cluster-certs/ in the workspace)",
                        hidden_from_kernel=True)
FEEDBACK_SHOWS_HIDDEN_TESTS = Setting("COURSE_FEEDBACK_SHOWS_HIDDEN_TESTS", None,
                                      "1: nbgrader's full feedback, hidden tests included (never for students)")

# --- the sandbox ------------------------------------------------------------
SANDBOX = Setting("COURSE_SANDBOX", None, "fallback: never use bubblewrap, even where it works (tests)",
                  sent_to_workers=True)
SANDBOX_KIND = Setting("COURSE_SANDBOX_KIND", None,
                       "set by the grader for nbgrader: the sandbox it found, so each kernel need not probe again")
SANDBOX_MEMORY_MB = Setting("COURSE_SANDBOX_MEMORY_MB", "6144", "a kernel's address space (TensorFlow maps ~1 GiB)",
                            sent_to_workers=True)
SANDBOX_PROCESSES = Setting("COURSE_SANDBOX_PROCESSES", "256", "processes and threads of a kernel's user",
                            sent_to_workers=True)
SANDBOX_CPU_SECONDS = Setting("COURSE_SANDBOX_CPU_SECONDS", "1200", "CPU seconds a kernel may use",
                              sent_to_workers=True)
SANDBOX_FILE_MB = Setting("COURSE_SANDBOX_FILE_MB", "1024", "the largest file a kernel may write",
                          sent_to_workers=True)
SANDBOX_TMP_MB = Setting("COURSE_SANDBOX_TMP_MB", "1024",
                         "a kernel's in-memory /tmp and /dev/shm, each (they count against the machine's memory)",
                         sent_to_workers=True)

# --- tests and scripts --------------------------------------------------------
REQUIRE_BUBBLEWRAP = Setting("COURSE_REQUIRE_BUBBLEWRAP", None,
                             "1: the sandbox tests fail, not skip, without bubblewrap (run-tests.sh sets it in CI)")
CHROMIUM = Setting("COURSE_CHROMIUM", "/usr/bin/chromium", "the Chromium binary of the browser tests")
NO_BROWSER = Setting("COURSE_NO_BROWSER", None,
                     "set by run-tests.sh where Chromium cannot be installed: why the browser tests are skipped")
TORCH_INDEX = Setting("COURSE_TORCH_INDEX", None,
                      "scripts/venv.sh: the index PyTorch is installed from (default: the CPU wheels on Linux)")

SETTINGS = tuple(value for value in dict(globals()).values() if isinstance(value, Setting))


def _number(setting: Setting) -> float:
    return float(setting.raw())


def _path(setting: Setting) -> Path | None:
    value = setting.raw()
    return Path(value) if value else None


def mode() -> str:
    """The mode asked for, lower case (course.runtime checks it)."""
    return MODE.raw().strip().lower() or MODE.default


def nbgrader_execution() -> str | None:
    return NBGRADER_EXECUTION.raw()


def data_dir() -> Path | None:
    return _path(DATA_DIR)


def figures_file() -> Path | None:
    return _path(FIGURES_FILE)


def data_mirror() -> str | None:
    return DATA_MIRROR.raw()


def cache_dir() -> Path:
    return _path(CACHE_DIR) or Path.home() / ".cache" / "genlm-course"


def grading_workspace() -> Path | None:
    return _path(GRADING_WORKSPACE)


def grader_folders() -> list[Path]:
    value = GRADER_FOLDERS.raw()
    return [Path(folder) for folder in value.split(os.pathsep) if folder] if value else []


def release_directory() -> Path | None:
    return _path(RELEASE_DIRECTORY)


def gradebook_url() -> str | None:
    return GRADEBOOK_URL.raw()


def cell_timeout() -> int:
    return int(_number(CELL_TIMEOUT))


def submission_timeout() -> float:
    return _number(SUBMISSION_TIMEOUT)


def checker_enabled() -> bool:
    return CHECKER.raw() == "1"


def grading_cluster() -> str | None:
    return GRADING_CLUSTER.raw()


def cluster_certs() -> Path | None:
    return _path(CLUSTER_CERTS)


def sent_to_workers() -> dict[str, str]:
    """The grading limits set here, as environment entries: a cluster worker grades under them (where one is
    not set, the worker's own setting or default holds)."""
    return {s.variable: os.environ[s.variable] for s in SETTINGS if s.sent_to_workers and os.environ.get(s.variable)}


def feedback_shows_hidden_tests() -> bool:
    return FEEDBACK_SHOWS_HIDDEN_TESTS.raw() == "1"


def sandbox_forced_to_fall_back() -> bool:
    return SANDBOX.raw() == "fallback"


def sandbox_kind() -> str | None:
    return SANDBOX_KIND.raw()


def sandbox_limits() -> dict[str, int]:
    """The kernel limits, by name: memory_mb, processes, cpu_seconds, file_mb, tmp_mb."""
    limits = (SANDBOX_MEMORY_MB, SANDBOX_PROCESSES, SANDBOX_CPU_SECONDS, SANDBOX_FILE_MB, SANDBOX_TMP_MB)
    return {s.variable.removeprefix(f"{PREFIX}SANDBOX_").lower(): int(_number(s)) for s in limits}


def require_bubblewrap() -> bool:
    return REQUIRE_BUBBLEWRAP.raw() == "1"


def chromium() -> Path:
    return Path(CHROMIUM.raw())


def no_browser() -> str | None:
    return NO_BROWSER.raw()


def hidden_from_kernel() -> set[str]:
    return {s.variable for s in SETTINGS if s.hidden_from_kernel}
