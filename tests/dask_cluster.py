"""A real Dask cluster on 127.0.0.1 for the grading tests: `dask scheduler` and `dask worker` processes over TLS.

The workers run from a folder that holds what a worker image holds (course/, autograder/, release/) and no
source/, so a test shows that grading on them needs nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from autograder import cluster
from autograder.units import REPOSITORY
from course import data, settings

DASK = str(Path(sys.executable).parent / "dask")
WORKER_IMAGE_FOLDERS = ("course", "autograder", "release")


@dataclass
class Cluster:
    address: str
    workers: list[subprocess.Popen]
    folder: Path

    def worker_running(self, student: str) -> subprocess.Popen | None:
        """The worker whose private task folder holds ``student``'s submission now, if any."""
        for index, worker in enumerate(self.workers):
            tasks = (self.folder / f"worker-{index}").glob(f"**/course-task-*/submitted/{student}")
            if worker.poll() is None and any(tasks):
                return worker
        return None


def kill_tree(process: subprocess.Popen) -> None:
    """Kill a process and everything it started, as when its machine is lost."""
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait(timeout=30)


def worker_image(folder: Path) -> Path:
    for name in WORKER_IMAGE_FOLDERS:
        shutil.copytree(REPOSITORY / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def tls_options(certs: Path) -> list[str]:
    return ["--tls-ca-file", str(certs / cluster.CA_FILE), "--tls-cert", str(certs / cluster.CERT_FILE),
            "--tls-key", str(certs / cluster.KEY_FILE)]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what} within {timeout} s")


@contextmanager
def tls_cluster(folder: Path, certs: Path, workers: int = 2, allowed_failures: int = 3, nthreads: int = 1):
    """A scheduler and ``workers`` workers (single-threaded, as the course's are), each with the course
    certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    image = worker_image(folder / "worker-image")
    scheduler_file = folder / "scheduler.json"
    # One submission at a time per worker thread: a queued task waits on the scheduler, not on a worker.
    scheduler_env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=str(allowed_failures),
                         DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION="1.0")
    data_folder = data.find_reviews_file().parents[1]
    worker_env = dict(os.environ, PYTHONPATH=str(image), **settings.DATA_DIR.assign(data_folder))
    processes = []
    try:
        processes.append(subprocess.Popen(
            [DASK, "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file), *tls_options(certs)],
            env=scheduler_env, stdout=(folder / "scheduler.log").open("w"), stderr=subprocess.STDOUT))
        address = json.loads(wait_for(lambda: scheduler_file.is_file() and scheduler_file.read_text(), 60,
                                      "the scheduler did not start"))["address"]
        started = [subprocess.Popen(
            [DASK, "worker", address, "--nthreads", str(nthreads), "--no-nanny", "--no-dashboard",
             "--local-directory", str(folder / f"worker-{index}"), *tls_options(certs)],
            cwd=image, env=worker_env, stdout=(folder / f"worker-{index}.log").open("w"), stderr=subprocess.STDOUT)
            for index in range(workers)]
        processes += started
        wait_for(lambda: all("Registered to" in (folder / f"worker-{i}.log").read_text() for i in range(workers)),
                 120, "the workers did not register")
        yield Cluster(address, started, folder)
    finally:
        for process in reversed(processes):
            kill_tree(process)
