"""Benchmark each unit: running its notebook, and autograding one submission.

    python benchmarks/run_notebooks.py [--units 1 2 ...] [--mode student|fast]
                                       [--skip-grading] [--update-readme]

What is measured, per unit:

1. The source notebook, run top to bottom with nbclient in a temporary copy of
   the unit's folder (nothing is written into source/), with ``COURSE_MODE`` set
   for the kernel and an empty weight cache (``COURSE_CACHE_DIR``), so a unit
   that caches trained weights trains them as on a first run. Wall time runs
   from kernel start to the last cell's end.
   Peak memory is the largest sum of RSS over the kernel process and all its
   children, sampled with psutil every 0.2 s in a background thread. Any cell
   error stops the run and fails the script, naming the cell.
2. Unless ``--skip-grading``: the source notebook, submitted as
   ``solution_<notebook>.ipynb``, is collected and graded with ``course-grader``
   in a temporary workspace. Wall time covers the ``grade`` step (registering
   the unit, one nbgrader autograde subprocess, feedback); peak memory is the
   summed RSS of this script's whole process tree (this process included)
   during that step. The score comes from the workspace's ``scores-UNIT.csv``;
   the points of hand-graded answers, which autograding cannot award, are
   recorded beside it.

Summed RSS counts pages shared between processes more than once, so the peak
errs high. Results go to ``benchmarks/results/<unit>.json`` (student mode) or
``benchmarks/results/fast/<unit>.json`` (fast mode, a smoke run kept out of the
README table). ``--update-readme`` then rewrites README.md's generated tables
(autograder/readme.py; the benchmark table comes from the student-mode
results). Timings are reported, never
enforced: the targets are recorded with pass/fail flags for people to read.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from unittest.mock import patch

import nbformat
import psutil
from nbclient import NotebookClient
from tqdm import tqdm

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from autograder import cells, cli, readme  # noqa: E402
from autograder.units import Unit, UnitError, all_units, find_unit  # noqa: E402
from autograder.workspace import Workspace  # noqa: E402
from course import data, settings  # noqa: E402

RESULTS = readme.BENCHMARK_RESULTS
TARGETS = {"notebook_seconds": 300, "notebook_peak_mib": 2048, "grading_seconds": 60}
CELL_TIMEOUT = 1800  # seconds; a benchmark should report slowness, not cut it short
MIB = 1024 * 1024


class BenchmarkError(Exception):
    """A notebook or grading run that failed; the message says where."""


# --- memory -----------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """Summed RSS in bytes of process ``pid`` and all its descendants (0 if gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


class PeakMemory:
    """Samples ``tree_rss(pid)`` every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss(self.pid))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))

    @property
    def mib(self) -> float:
        return round(self.peak / MIB, 1)


# --- running the notebook ---------------------------------------------------


def kernel_pid(client: NotebookClient) -> int:
    """The kernel's process id (jupyter_client 7+: the provisioner's process)."""
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None) or getattr(client.km, "kernel", None)
    if process is None:
        raise BenchmarkError("cannot find the kernel's process id")
    return process.pid


def describe_cell(cell, index: int) -> str:
    grade_id = cells.grade_id(cell)
    first_line = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
    return f"cell {index}" + (f" ({grade_id})" if grade_id else "") + f": {first_line!r}"


def execute_cells(client: NotebookClient, notebook, label: str) -> None:
    """Run every code cell in order; raise BenchmarkError at the first error."""
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    for index, cell in tqdm(code, desc=label, unit="cell", leave=False):
        client.execute_cell(cell, index)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            raise BenchmarkError(f"{describe_cell(cell, index)} raised {errors[0].ename}: {errors[0].evalue[:300]}")


def run_notebook(unit: Unit, mode: str) -> tuple[float, float, dict]:
    """(seconds, peak MiB, the figures it reported with runtime.report) of running the unit's source notebook
    in a temporary copy."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{unit.name}-") as scratch:
        folder = Path(shutil.copytree(unit.folder, Path(scratch) / unit.name))
        notebook = nbformat.read(folder / unit.notebook.name, as_version=4)
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(folder)}})
        figures_file = Path(scratch) / "figures.jsonl"
        # An empty weight cache: the run trains its model, as a student's first run does.
        with patch.dict(os.environ, **settings.MODE.assign(mode), **settings.CACHE_DIR.assign(Path(scratch) / "cache"),
                         **settings.FIGURES_FILE.assign(figures_file)):
            started = time.perf_counter()
            with client.setup_kernel(), PeakMemory(kernel_pid(client)) as memory:
                execute_cells(client, notebook, f"{unit.name} ({mode})")
            seconds = time.perf_counter() - started
        figures = {}
        if figures_file.exists():
            for line in figures_file.read_text().splitlines():
                figures.update(json.loads(line))
    return round(seconds, 1), memory.mib, figures


# --- grading one submission -------------------------------------------------


def course_grader(*args: str) -> None:
    """Run ``course-grader`` in this process; its own printout is shown only if it fails."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = cli.main(list(args))
    if status != 0:
        raise BenchmarkError(f"course-grader {' '.join(args[2:])} exited {status}:\n{printed.getvalue()}")


def read_score(scores_csv: Path) -> tuple[float | None, float | None]:
    with scores_csv.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    if row["status"] != "graded":
        raise BenchmarkError(f"the submission was not graded: {row['status']}")
    return float(row["score"]), float(row["max_score"])


def points_by_hand(unit: Unit) -> float:
    """Points of the unit's hand-graded answers: autograding leaves them out of the score."""
    notebook = nbformat.read(unit.notebook, as_version=4)
    return sum(cells.points(c) for c in notebook.cells if cells.is_graded_by_hand(c))


def grade_one_submission(unit: Unit) -> tuple[float, float, float | None, float | None]:
    """(seconds, peak MiB, score, max score) of grading the source notebook as a submission."""
    return grade_one_submission_with(unit, {})


def grade_one_submission_with(unit: Unit, variables: dict[str, str]) -> tuple[float, float, float | None, float | None]:
    """The same, with these environment variables set for the grade step (benchmarks/checker_cost.py)."""
    with patch.dict(os.environ, **variables), tempfile.TemporaryDirectory(prefix=f"bench-grade-{unit.name}-") as scratch:
        inbox, workspace = Path(scratch) / "inbox", Path(scratch) / "workspace"
        inbox.mkdir()
        shutil.copy(unit.notebook, inbox / f"solution_{unit.notebook.name}")
        course_grader("--workspace", str(workspace), "collect", unit.name, str(inbox))
        started = time.perf_counter()
        with PeakMemory(os.getpid()) as memory:
            course_grader("--workspace", str(workspace), "grade", unit.name)
        seconds = time.perf_counter() - started
        score, max_score = read_score(Workspace(workspace).scores_csv(unit))
    return round(seconds, 1), memory.mib, score, max_score


# --- results ----------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine() -> str:
    uname = platform.uname()
    return f"{uname.system} {uname.machine}, {cpu_model()}"


def targets(result: dict) -> dict:
    """Each target with its limit and whether this run met it (None: not measured)."""
    checks = {}
    for key, limit in TARGETS.items():
        value = result.get(key)
        checks[key] = {"limit": limit, "passed": None if value is None else value <= limit}
    return checks


def data_used() -> dict:
    """The Wine Reviews file the notebooks read in this environment, as their environment check names it."""
    path = data.find_reviews_file()
    shown = path.relative_to(REPOSITORY) if path.is_relative_to(REPOSITORY) else path
    return {"file": str(shown), "shipped_subset": path == data.SHIPPED_SUBSET.path, "reviews": data.review_count(path)}


def benchmark(unit: Unit, mode: str, skip_grading: bool) -> dict:
    notebook_seconds, notebook_peak, figures = run_notebook(unit, mode)
    grading = (None, None, None, None) if skip_grading else grade_one_submission(unit)
    result = {
        "unit": unit.name,
        "mode": mode,
        "notebook_seconds": notebook_seconds,
        "notebook_peak_mib": notebook_peak,
        "grading_seconds": grading[0],
        "grading_peak_mib": grading[1],
        "grading_score": grading[2],
        "grading_max_score": grading[3],
        "grading_points_by_hand": None if skip_grading else points_by_hand(unit),
        "figures": figures,
        "data": data_used(),
        "cpu_count": os.cpu_count(),
        "machine": machine(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    result["targets"] = targets(result)
    return result


def results_folder(mode: str) -> Path:
    """Student-mode results feed the README; fast-mode smoke runs go to a subfolder."""
    return RESULTS if mode == "student" else RESULTS / mode


def save(result: dict) -> Path:
    folder = results_folder(result["mode"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result['unit']}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    temporary.replace(path)
    return path


# --- tables -----------------------------------------------------------------


def text_table(results: list[dict]) -> str:
    """The README's benchmark table as plain text, for the terminal."""
    rows = [readme.BENCHMARK_HEADER] + [readme.benchmark_row(r) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


# --- command line -----------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", nargs="+", help="units by number or name (default: all)")
    parser.add_argument("--mode", choices=["student", "fast"], default="student",
                        help="notebook budgets (default: student, the full lesson)")
    parser.add_argument("--skip-grading", action="store_true", help="do not time an autograded submission")
    parser.add_argument("--update-readme", action="store_true",
                        help="then rewrite README.md's generated tables (as python -m autograder.readme)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        units = [find_unit(name) for name in args.units] if args.units else all_units()
    except UnitError as error:
        print(f"run_notebooks: {error}", file=sys.stderr)
        return 2
    results, failed = [], []
    for unit in units:
        try:
            result = benchmark(unit, args.mode, args.skip_grading)
        except BenchmarkError as error:
            print(f"{unit.name}: FAILED: {error}", file=sys.stderr)
            failed.append(unit.name)
            continue
        print(f"{unit.name}: wrote {save(result).relative_to(REPOSITORY)}")
        results.append(result)
    print("\n" + text_table(results))
    if args.update_readme:
        readme.main([])
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
