"""Grading throughput: the same class graded serially and with N workers.

    python benchmarks/grading_throughput.py [--unit 3] [--submissions 8] [--workers 2]

A class of ``--submissions`` notebooks (half the full solution, half the
untouched release) is collected once per run and graded with
``course-grader grade --workers 1`` and ``--workers N`` in fresh workspaces.
Reported: submissions per minute for each, the speed-up, and where one
submission's time goes (kernel start, the first code cell with its imports,
the other cells) measured with nbclient on the solution notebook (the source:
it has no Colab set-up cell, which does nothing outside Colab).
Results go to benchmarks/results/grading_throughput-<submissions>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from autograder import cli  # noqa: E402
from autograder.units import RELEASE, find_unit  # noqa: E402

RESULTS = REPOSITORY / "benchmarks" / "results"


def make_class(unit, folder: Path, size: int) -> Path:
    inbox = folder / "inbox"
    inbox.mkdir()
    for i in range(size):
        template = unit.notebook if i % 2 == 0 else RELEASE / unit.name / unit.notebook.name
        shutil.copy(template, inbox / f"student{i:03d}_{unit.notebook.name}")
    return inbox


def timed_grading(unit, inbox: Path, workspace: Path, workers: int, *options: str) -> float:
    assert cli.main(["--workspace", str(workspace), "collect", unit.name, str(inbox)]) == 0
    start = time.perf_counter()
    assert cli.main(["--workspace", str(workspace), "grade", unit.name, "--workers", str(workers), *options]) == 0
    return time.perf_counter() - start


def where_time_goes(unit) -> dict[str, float]:
    """Kernel start, the first code cell (imports and the environment check),
    and the remaining cells of one run, in grading mode."""
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    notebook = nbformat.read(unit.notebook, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(unit.folder)}})
    start = time.perf_counter()
    with client.setup_kernel():
        started = time.perf_counter()
        code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        for index, cell in code[:1]:
            client.execute_cell(cell, index)
        imported = time.perf_counter()
        for index, cell in code[1:]:
            client.execute_cell(cell, index)
        finished = time.perf_counter()
    del os.environ["NBGRADER_EXECUTION"]
    return {"kernel_start_s": round(started - start, 1), "imports_and_checks_s": round(imported - started, 1),
            "other_cells_s": round(finished - imported, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", default="3")
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    unit = find_unit(args.unit)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        inbox = make_class(unit, scratch, args.submissions)
        serial = timed_grading(unit, inbox, scratch / "serial", 1)
        parallel = timed_grading(unit, inbox, scratch / "parallel", args.workers)
    result = {
        "unit": unit.name, "submissions": args.submissions, "workers": args.workers,
        "serial_seconds": round(serial, 1), "parallel_seconds": round(parallel, 1),
        "serial_per_minute": round(60 * args.submissions / serial, 2),
        "parallel_per_minute": round(60 * args.submissions / parallel, 2),
        "speedup": round(serial / parallel, 2),
        "one_submission": where_time_goes(unit),
        "cpu_count": os.cpu_count(), "machine": f"{platform.system()} {platform.machine()}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"grading_throughput-{args.submissions}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
