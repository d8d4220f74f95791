"""Grading through a Dask cluster against grading here, and what 1,000 submissions would cost.

    python benchmarks/cluster_grading.py [--unit 3] [--submissions 8]

One class (half the full solution, half the untouched release) is graded three ways, one after
the other on this machine:

- plain ``nbgrader autograde``: serial, nbgrader's own executor (no sandbox, checker or tampering
  checks), in a course folder of its own;
- ``course-grader grade --workers 2``;
- ``course-grader grade --cluster``: a real TLS scheduler and two single-threaded workers on
  127.0.0.1 (the tests' cluster, tests/dask_cluster.py), which hold no source/.

After the cluster run, its serial parts are timed again on their own: registering the unit, and
phase 2 (recording every grade, making the feedback). The cost model then takes each unit's time
for one graded submission (benchmarks/results/<unit>.json, less registering and phase 2) as the
time one 2-core worker executes it, and gives the hours 1,000 submissions need on N such machines,
phase 1 spread over them and phase 2 serial, and where phase 2 becomes the larger part.
Results go to benchmarks/results/cluster_grading.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from autograder import cli, cluster  # noqa: E402
from autograder.units import SOURCE, all_units, find_unit  # noqa: E402
from autograder.workspace import Workspace  # noqa: E402
from benchmarks.grading_throughput import make_class, timed_grading  # noqa: E402
from tests.dask_cluster import tls_cluster  # noqa: E402

RESULTS = REPOSITORY / "benchmarks" / "results"
CLASS_SIZE = 1000
MACHINES = (1, 10, 100)

PLAIN_CONFIG = """c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = {source!r}
c.CourseDirectory.course_id = "plain"
"""


def plain_nbgrader(unit, inbox: Path, root: Path) -> float:
    """Seconds of a plain `nbgrader autograde` of the whole class, in a course folder with nbgrader's defaults."""
    root.mkdir()
    (root / "nbgrader_config.py").write_text(PLAIN_CONFIG.format(root=str(root), source=str(SOURCE)))
    for path in sorted(inbox.glob("*.ipynb")):
        student = path.name.split("_", 1)[0]
        folder = root / "submitted" / student / unit.name
        folder.mkdir(parents=True)
        shutil.copy(path, folder / unit.notebook.name)
    environment = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))

    def run(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=environment, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run("generate_assignment", unit.name, "--force")
    start = time.perf_counter()
    run("autograde", unit.name, "--force")
    return time.perf_counter() - start


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def serial_parts(unit, workspace: Path) -> dict[str, float]:
    """Registering the unit, and phase 2 of a graded workspace again: recording its grades, the feedback."""
    space = Workspace(workspace)

    def succeeds(args):
        assert cli.nbgrader(args, space).returncode == 0, args

    return {"register_s": timed(lambda: cli.register_assignment(unit, space)),
            "record_s": timed(lambda: succeeds(cli.record_command(unit, space))),
            "feedback_s": timed(lambda: succeeds(["generate_feedback", unit.name, "--force"]))}


def cost_model(phase2_per_submission: float, register: float) -> dict[str, dict]:
    """Hours for 1,000 submissions of each unit over N 2-core machines, one worker each."""
    model = {}
    for unit in all_units():
        measured = RESULTS / f"{unit.name}.json"
        if not measured.is_file():
            continue
        one = json.loads(measured.read_text())["grading_seconds"]
        execute = max(one - register - phase2_per_submission, 1.0)
        phase2 = CLASS_SIZE * phase2_per_submission
        model[unit.name] = {
            "execute_s": round(execute, 1),
            "hours": {str(n): round((register + math.ceil(CLASS_SIZE / n) * execute + phase2) / 3600, 2)
                      for n in MACHINES},
            "phase2_hours": round(phase2 / 3600, 2),
            "phase2_larger_from_machines": math.ceil(execute / phase2_per_submission),
        }
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", default="3")
    parser.add_argument("--submissions", type=int, default=8)
    args = parser.parse_args()
    unit = find_unit(args.unit)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        inbox = make_class(unit, scratch, args.submissions)
        certificates = scratch / "certs"
        cluster.make_certificates(certificates)
        os.environ["COURSE_CLUSTER_CERTS"] = str(certificates)
        plain = plain_nbgrader(unit, inbox, scratch / "plain")
        local = timed_grading(unit, inbox, scratch / "workers", 2)
        with tls_cluster(scratch / "dask", certificates) as dask_cluster:
            on_cluster = timed_grading(unit, inbox, scratch / "cluster", 2, "--cluster", dask_cluster.address)
        parts = serial_parts(unit, scratch / "cluster")
    phase2 = (parts["record_s"] + parts["feedback_s"]) / args.submissions
    n = args.submissions
    result = {
        "unit": unit.name, "submissions": n,
        "plain_nbgrader_s": round(plain, 1), "workers_2_s": round(local, 1),
        "cluster_2_workers_s": round(on_cluster, 1),
        "per_minute": {name: round(60 * n / seconds, 2) for name, seconds in
                       (("plain_nbgrader", plain), ("workers_2", local), ("cluster_2_workers", on_cluster))},
        "cluster_overhead_per_submission_s": round((on_cluster - local) / n, 1),
        "serial_parts_s": {name: round(value, 1) for name, value in parts.items()},
        "phase2_per_submission_s": round(phase2, 2),
        "model_1000_submissions": cost_model(phase2, parts["register_s"]),
        "cpu_count": os.cpu_count(), "machine": f"{platform.system()} {platform.machine()}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster_grading.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
