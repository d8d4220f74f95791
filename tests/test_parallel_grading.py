"""Grading with several workers, here or on a Dask cluster, gives exactly the scores of nbgrader's own serial run.

The cluster is real: a `dask scheduler` and `dask worker` processes over TLS on 127.0.0.1 (tests/dask_cluster.py).
"""

import csv
import re
import runpy
import shutil
import socket
import sqlite3
import ssl
import threading

import dask
import pytest
from distributed import Client

from autograder import cli, cluster, sandbox
from autograder.units import RELEASE, find_unit

from . import adversarial as adv
from . import contract
from . import notebooks as nb
from .dask_cluster import kill_tree, tls_cluster, wait_for

UNIT = find_unit("03_attention")
# One worker of the suite grades them all, so the class is graded serially only once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading-class")]
HOSTILE = ("snoop", "suicide")  # from the adversarial suite: it reads the grader's files; its kernel kills itself


def scores(workspace):
    with (workspace / f"scores-{UNIT.name}.csv").open() as handle:
        return sorted(csv.DictReader(handle), key=lambda row: row["student_id"])


GRADED_PARTS = re.compile(r"Score: [\d.]+ / [\d.]+|\w+Error: [^<\n]*")


def feedback(workspace) -> dict[str, list[str]]:
    """Each feedback page's scores and error messages (timings and widget ids differ from run to run)."""
    folder = workspace / "feedback"
    return {str(p.relative_to(folder)): GRADED_PARTS.findall(p.read_text()) for p in sorted(folder.rglob("*.html"))}


def comparable(workspace) -> list[dict]:
    """The scores CSV's rows without the sandbox column. A hostile submission's status is the one the adversarial
    suite expects, when it says that: the grader's files it names differ from run to run (a private copy's path)."""
    rows = []
    for row in scores(workspace):
        row = {key: value for key, value in row.items() if key != "sandbox"}
        case = adv.CASES.get(row["student_id"]) if row["student_id"] in HOSTILE else None
        if case and row["status"].startswith(case.status) and adv.fill(case.reason, workspace) in row["status"]:
            row["status"] = case.status
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    """The solution, the untouched release and a plausible mistake (attention without the 1/sqrt(d_k) scaling)."""
    folder = tmp_path_factory.mktemp("inbox")
    shutil.copy(UNIT.notebook, folder / "ada_attention.ipynb")
    shutil.copy(RELEASE / UNIT.name / UNIT.notebook.name, folder / "bo_attention.ipynb")
    wrong = nb.read(UNIT.notebook)
    mutants = runpy.run_path(str(UNIT.folder / "mutants.py"))["MUTANTS"]
    cell = nb.answer_cells(wrong)["scaled_dot_product_attention"]
    cell.source = contract.apply_mutant(cell.source, mutants["scaled_dot_product_attention"]["no scaling"])
    nb.nbformat.write(wrong, folder / "cy_attention.ipynb")
    return folder


def graded(workspace, inbox, *options) -> int:
    """Collect and grade the class, with the hostile submissions aimed at this workspace's files."""
    own_inbox = shutil.copytree(inbox, workspace.parent / f"{workspace.name}-inbox")
    for name in HOSTILE:
        (own_inbox / f"{name}_attention.ipynb").write_bytes(adv.CASES[name].build(workspace))
    assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(own_inbox)]) == 0
    return cli.main(["--workspace", str(workspace), "grade", UNIT.name, *options])


@pytest.fixture(scope="module")
def serial(inbox):
    """nbgrader's own order: one submission after another, in the workspace's SQLite gradebook."""
    workspace = inbox.parent / "serial"
    assert graded(workspace, inbox, "--workers", "1") == 1, "the kernel that kills itself is not graded"
    return comparable(workspace), feedback(workspace)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("certs") / "course"
    cluster.make_certificates(folder)
    return folder


def test_the_class_scores_as_expected(serial):
    rows, pages = serial
    by_student = {row["student_id"]: row for row in rows}
    assert float(by_student["ada"]["score"]) == 12 and float(by_student["bo"]["score"]) == 0
    assert 0 < float(by_student["cy"]["score"]) < 12
    assert float(by_student["cy"]["test_scaled_dot_product_attention"]) == 0
    for name in HOSTILE:  # as the adversarial suite expects: tampering, and a kernel that died
        assert by_student[name]["status"] == adv.CASES[name].status, by_student[name]["status"]
    assert float(by_student["snoop"]["score"]) == 0 and by_student["suicide"]["score"] == ""
    assert "Score: 6.0 / 12.0" in pages[f"cy/{UNIT.name}/attention.html"]


def test_parallel_grades_equal_serial_grades_in_any_gradebook(serial, inbox, tmp_path, monkeypatch):
    """Parallel into a gradebook elsewhere (COURSE_GRADEBOOK_URL, as for a shared database): the same scores
    and feedback as the serial run into the workspace's SQLite gradebook."""
    shared = tmp_path / "shared-gradebook.db"
    monkeypatch.setenv("COURSE_GRADEBOOK_URL", f"sqlite:///{shared}")
    workspace = tmp_path / "workers-2"
    assert graded(workspace, inbox, "--workers", "2") == 1
    assert (comparable(workspace), feedback(workspace)) == serial
    assert not (workspace / "gradebook.db").exists() and shared.is_file()


def test_a_class_graded_on_a_tls_cluster_equals_the_serial_run(serial, inbox, certificates, tmp_path, monkeypatch):
    """Two workers that hold no source/: the same scores, statuses and feedback; each row names its worker."""
    monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(certificates))
    workspace = tmp_path / "cluster"
    with tls_cluster(tmp_path / "dask", certificates) as dask_cluster:
        assert graded(workspace, inbox, "--cluster", dask_cluster.address) == 1
    assert (comparable(workspace), feedback(workspace)) == serial
    rows = scores(workspace)
    workers = {re.search(r"\(worker (tls://127\.0\.0\.1:\d+)\)$", row["sandbox"])[1] for row in rows}
    assert len(workers) == 2, "both workers graded"
    line = sandbox.describe(sandbox.sandbox_kind())  # the workers run on this machine: the same sandbox
    assert {row["sandbox"].rsplit(" (worker ", 1)[0] for row in rows} == {line}


def test_a_worker_killed_mid_batch_loses_no_grade(serial, inbox, certificates, tmp_path, monkeypatch):
    """The worker grading ada is killed with every process it started, as if its machine were lost: Dask gives
    ada to the other worker, and every submission is graded once, as in the serial run."""
    monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(certificates))
    workspace = tmp_path / "cluster"
    with tls_cluster(tmp_path / "dask", certificates) as dask_cluster:
        killed = []

        def kill_the_worker_grading_ada():
            worker = wait_for(lambda: dask_cluster.worker_running("ada"), 120, "no worker took ada")
            kill_tree(worker)
            killed.append(worker)

        killer = threading.Thread(target=kill_the_worker_grading_ada)
        killer.start()
        assert graded(workspace, inbox, "--cluster", dask_cluster.address) == 1
        killer.join()
    assert killed and killed[0].returncode is not None
    assert comparable(workspace) == serial[0]
    with sqlite3.connect(workspace / "gradebook.db") as database:
        recorded = [row[0] for row in database.execute("SELECT student_id FROM submitted_assignment")]
    graded_serially = [row["student_id"] for row in serial[0] if row["score"] != ""]
    assert sorted(recorded) == sorted(graded_serially), "each graded submission recorded once"


def test_a_submission_whose_workers_all_die_is_reported_and_the_batch_finishes(inbox, certificates, tmp_path,
                                                                               monkeypatch):
    """With no retry allowed (allowed-failures 0), killing ada's worker leaves ada not graded, saying why."""
    monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(certificates))
    workspace = tmp_path / "cluster"
    two = tmp_path / "two"
    two.mkdir()
    for name in ("ada", "bo"):
        shutil.copy(inbox / f"{name}_attention.ipynb", two)
    assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(two)]) == 0
    with tls_cluster(tmp_path / "dask", certificates, allowed_failures=0) as dask_cluster:
        killer = threading.Thread(target=lambda: kill_tree(
            wait_for(lambda: dask_cluster.worker_running("ada"), 120, "no worker took ada")))
        killer.start()
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--cluster", dask_cluster.address]) == 1
        killer.join()
    by_student = {row["student_id"]: row for row in scores(workspace)}
    assert by_student["ada"]["status"].startswith("not graded: every worker that took it died (1 time:")
    assert by_student["ada"]["score"] == "" and by_student["bo"]["status"] == "graded"


def test_only_the_course_certificate_reaches_the_cluster(certificates, tmp_path, monkeypatch, capsys):
    """The course's certificate is let in; no client certificate, another course's certificate, or no TLS are
    refused, and the grader says why."""
    other = tmp_path / "other-course"
    cluster.make_certificates(other)
    workspace = tmp_path / "cluster"
    shutil.copytree(RELEASE / UNIT.name, workspace / "submitted" / "ada" / UNIT.name)
    with tls_cluster(tmp_path / "dask", certificates, workers=0) as dask_cluster, \
            dask.config.set({"distributed.comm.timeouts.connect": "3s"}):
        with Client(dask_cluster.address, security=cluster.security(certificates), timeout="10s") as client:
            assert client.scheduler_info()["address"] == dask_cluster.address, "the course certificate is let in"
        host, port = dask_cluster.address.removeprefix("tls://").rsplit(":", 1)
        trusting = ssl.create_default_context(cafile=str(certificates / cluster.CA_FILE))
        trusting.check_hostname = False
        with socket.create_connection((host, int(port)), timeout=10) as raw, trusting.wrap_socket(raw) as tls:
            with pytest.raises((ssl.SSLError, ConnectionError)):  # TLS 1.3: the refusal comes after the handshake
                tls.recv(1)
        plain = dask_cluster.address.replace("tls://", "tcp://")
        with pytest.raises(OSError):
            Client(plain, timeout="3s")
        monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(certificates))
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--cluster", dask_cluster.address]) == 2
        assert "has no workers" in capsys.readouterr().err, "the course's certificate connects; no worker is there"
        monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(other))
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--cluster", dask_cluster.address]) == 2
        assert "could not reach the Dask scheduler" in capsys.readouterr().err
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--cluster", plain]) == 2
        assert "must start with tls://" in capsys.readouterr().err


def test_a_worker_keeps_its_own_key_from_the_submissions(inbox, certificates, tmp_path, monkeypatch):
    """A submission that reads the key the worker presents gets nothing, and 0 for trying."""
    monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(certificates))
    key = certificates / cluster.KEY_FILE
    thief = adv.hostile(adv.snoop(str(key)))
    workspace = tmp_path / "cluster"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mallory_attention.ipynb").write_bytes(thief(workspace))
    assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(tmp_path / "in")]) == 0
    with tls_cluster(tmp_path / "dask", certificates, workers=1) as dask_cluster:
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--cluster", dask_cluster.address]) == 0
    (row,) = scores(workspace)
    assert row["status"].startswith(adv.TAMPERING) and f"tried to read {key}" in row["status"], row["status"]
    graded = (workspace / "autograded" / "mallory" / UNIT.name / UNIT.notebook.name).read_text()
    assert key.read_text().splitlines()[1] not in graded and "READ " not in graded


def test_a_worker_that_runs_several_threads_is_refused_before_anything_is_sent(inbox, certificates, tmp_path,
                                                                              monkeypatch, capsys):
    monkeypatch.setenv("COURSE_CLUSTER_CERTS", str(certificates))
    workspace = tmp_path / "cluster"
    assert cli.main(["--workspace", str(workspace), "collect", UNIT.name, str(inbox)]) == 0
    with tls_cluster(tmp_path / "dask", certificates, workers=1, nthreads=2) as dask_cluster:
        assert cli.main(["--workspace", str(workspace), "grade", UNIT.name, "--cluster", dask_cluster.address]) == 2
    assert "start each worker with --nthreads 1" in capsys.readouterr().err
    assert not (workspace / "executed").exists() or not any((workspace / "executed").iterdir())
