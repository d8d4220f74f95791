"""What the checker costs: hidden tests in a kernel of their own (autograder/checker.py).

For each unit, the source notebook is graded as one submission twice on the same
machine, with the checker off and on (``COURSE_CHECKER``), each with
``run_notebooks.grade_one_submission``: wall time of the grade step, peak memory
of the whole process tree (the grader, the student's kernel and, when on, the
checker's kernel), and the score. With the checker on, the grader appends how
many calls the unit's tests made to the student's kernel, and their round-trip
times, to ``COURSE_CHECKER_STATISTICS``.

Then one proxy call is timed on its own: a real kernel, the checker's client of
it in this process (as in the grader), and a function that returns its argument,
called with an int and with a 1 MB array (median of many calls each).

    .venv/bin/python benchmarks/checker_cost.py [--units 1 2] [--calls 500]

Writes ``benchmarks/results/checker_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from jupyter_client.manager import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_notebooks as bench  # noqa: E402

from autograder.checker_kernel import StudentKernel  # noqa: E402
from autograder.units import find_unit, all_units  # noqa: E402
from course import settings  # noqa: E402

RESULT = bench.RESULTS / "checker_cost.json"
IDENTITY = "def identity(x):\n    return x\n"


def graded_both_ways(unit) -> dict:
    """One submission of the unit graded with the checker off, then on."""
    off = bench.grade_one_submission_with(unit, {settings.CHECKER.variable: "0"})
    with tempfile.TemporaryDirectory(prefix="checker-statistics-") as scratch:
        log = Path(scratch) / "calls.jsonl"
        on = bench.grade_one_submission_with(unit, {settings.CHECKER.variable: "1",
                                                    settings.CHECKER_STATISTICS.variable: str(log)})
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    if not calls:
        raise bench.BenchmarkError(f"{unit.name}: the checker recorded no calls")
    return {"unit": unit.name,
            "off": dict(zip(("seconds", "peak_mib", "score", "max_score"), off)),
            "on": dict(zip(("seconds", "peak_mib", "score", "max_score"), on)),
            "proxy_calls": calls[0]["calls"], "proxy_seconds": calls[0]["total_s"],
            "proxy_median_ms": calls[0]["median_ms"]}


def median_call_ms(calls: int) -> dict:
    """Median round trip of one call through the checker's client of a real kernel, by argument size."""
    with tempfile.TemporaryDirectory(prefix="checker-call-") as scratch:
        manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(scratch) / "ipc"))
        manager.start_kernel(cwd=scratch)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            client.execute_interactive(IDENTITY, timeout=60)
            kernel = StudentKernel(dict(manager.get_connection_info(), key=manager.session.key.decode()), timeout=60)
            identity = kernel.resolve(["identity"])["identity"]
            timings = {}
            for label, argument, repeat in [("int", 7, calls), ("1 MB float32 array", np.zeros(2**18, "float32"),
                                                                 max(20, calls // 10))]:
                seconds = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    identity(argument)
                    seconds.append(time.perf_counter() - started)
                timings[label] = round(1000 * statistics.median(seconds), 3)
            kernel.finish()
            kernel.close()
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", nargs="+", help="units by number or name (default: all)")
    parser.add_argument("--calls", type=int, default=500, help="calls timed for the median (default: 500)")
    args = parser.parse_args(argv)
    units = [find_unit(name) for name in args.units] if args.units else all_units()
    result = {"units": [], "median_call_ms": median_call_ms(args.calls), "machine": bench.machine(),
              "cpu_count": os.cpu_count(), "data": bench.data_used(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for unit in units:
        row = graded_both_ways(unit)
        print(f"{unit.name}: off {row['off']['seconds']} s, {row['off']['peak_mib']} MiB; on {row['on']['seconds']} s, "
              f"{row['on']['peak_mib']} MiB; {row['proxy_calls']} calls, median {row['proxy_median_ms']} ms")
        result["units"].append(row)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"median call: {result['median_call_ms']}; wrote {RESULT.relative_to(bench.REPOSITORY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
