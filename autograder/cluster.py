"""Grading's phase 1 on a Dask cluster: each submission executed on a worker, as a local worker would.

A task carries all one submission needs, as bytes: its files, the gradebook template that
holds the unit's hidden tests, and the grading limits in force on the instructor's machine.
It returns the executed notebook and its outcome; phase 2 (recording grades, feedback) stays
on the instructor's machine (``cli.record_executed``). A worker runs the course package and
release/ (deploy/Dockerfile's ``grader-worker``), never source/ or the gradebook, and keeps the
task's files in a private folder that the submission's sandbox does not show.

Faults: Dask gives the task of a worker that died (killed, out of memory, its machine lost)
to another worker, up to the scheduler's ``distributed.scheduler.allowed-failures`` times (3
unless configured); after that the submission is reported not graded, with the reason. A
submission whose kernel dies is that submission's outcome, returned by its task: no retry.

Security: ``course-grader cluster-certs DIR`` makes a certificate authority and one course
certificate signed by it. Scheduler, workers and grader all present that certificate over TLS,
and each refuses a peer without one signed by the same authority.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import uuid
import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest.mock import patch

import nbformat
from tqdm import tqdm

from course import settings

from . import integrity, sandbox
from .outcome import Kind, Outcome
from .units import RELEASE, REPOSITORY, Unit
from .workspace import SUBMISSION_FILES, Workspace

CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "course.pem", "course-key.pem"
INSTALL_HINT = "install the cluster extra: pip install -e '.[cluster]'"


class ClusterError(Exception):
    """A cluster the grader cannot use, said so that the instructor can fix it."""


def certificates_folder(workspace: Workspace) -> Path:
    return settings.cluster_certs() or workspace.root / "cluster-certs"


def make_certificates(folder: Path, days: int = 365) -> list[Path]:
    """A certificate authority (``ca.pem``) and one course certificate it signed (``course.pem``,
    key ``course-key.pem``). The authority's own key is not kept: no one can sign another."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ModuleNotFoundError as error:
        raise ClusterError(f"making certificates needs the cryptography package: {INSTALL_HINT}") from error

    paths = [folder / name for name in (CA_FILE, CERT_FILE, KEY_FILE)]
    if any(path.exists() for path in paths):
        raise ClusterError(f"{folder} already holds course certificates; choose a new folder (the cluster's "
                           "scheduler and workers must all get the new ones)")
    now = datetime.now(timezone.utc)

    def certificate(subject: str, key, issuer, issuer_key, is_authority: bool):
        uses = dict(digital_signature=not is_authority, key_cert_sign=is_authority, crl_sign=is_authority,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=not is_authority, encipher_only=False, decipher_only=False)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=is_authority, path_length=0 if is_authority else None),
                                  critical=True)
                   .add_extension(x509.KeyUsage(**uses), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if not is_authority:
            usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        return builder

    authority_key, course_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genlm-course grading authority")])
    authority = certificate("genlm-course grading authority", authority_key, authority_name, authority_key, True)
    course = certificate("genlm-course grading", course_key, authority_name, authority_key, False)
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    paths[0].write_bytes(authority.sign(authority_key, hashes.SHA256()).public_bytes(pem))
    paths[1].write_bytes(course.sign(authority_key, hashes.SHA256()).public_bytes(pem))
    key_bytes = course_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with os.fdopen(os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
        handle.write(key_bytes)
    return paths


def security(folder: Path):
    """Dask's TLS settings for every role (grader, scheduler, worker): the course certificate, and only
    peers that the same authority signed."""
    from distributed.security import Security

    missing = [name for name in (CA_FILE, CERT_FILE, KEY_FILE) if not (folder / name).is_file()]
    if missing:
        raise ClusterError(f"no course certificate in {folder} (missing {', '.join(missing)}): run "
                           f"`course-grader cluster-certs {folder}` and start the scheduler and workers with "
                           "its files (deploy/README.md), or set COURSE_CLUSTER_CERTS to where they are")
    certificate, key = str(folder / CERT_FILE), str(folder / KEY_FILE)
    return Security(tls_ca_file=str(folder / CA_FILE), tls_client_cert=certificate, tls_client_key=key,
                    tls_scheduler_cert=certificate, tls_scheduler_key=key, tls_worker_cert=certificate,
                    tls_worker_key=key, require_encryption=True)


def course_digest(unit_name: str) -> str:
    """What a worker must share with the grader to grade a unit as it would: the hash of the unit's
    release/ and of the grader's and the helpers' code."""
    files = [p for p in (RELEASE / unit_name).rglob("*") if p.is_file()]
    files += [*(REPOSITORY / "autograder").glob("*.py"), *(REPOSITORY / "course").glob("*.py")]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(REPOSITORY)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def worker_problem(unit_name: str, digest: str, weaker_sandbox_allowed: bool, dask_worker=None) -> str | None:
    """Run on a worker (``dask_worker``, as Client.run names it): why it cannot grade ``unit_name`` as the
    grader would, or None."""
    from distributed import get_worker

    if (dask_worker or get_worker()).state.nthreads != 1:
        return "it runs several threads: start each worker with --nthreads 1 (one submission at a time)"
    if not (RELEASE / unit_name).is_dir() or course_digest(unit_name) != digest:
        return ("its course differs from the grader's (release/ or the grader's code): build the worker image "
                "from the grader's checkout")
    kind = sandbox.sandbox_kind()
    if kind != sandbox.BUBBLEWRAP and not weaker_sandbox_allowed:
        return (f"{sandbox.describe(kind)}; a student's code could reach the worker's files and network. Let "
                "the worker's pods or jobs use user namespaces, or set COURSE_SANDBOX=fallback to accept it")
    return None


def check_workers(client, unit: Unit, address: str) -> None:
    """Refuse a cluster before sending it anything, when no worker is there or one cannot grade."""
    problems = client.run(worker_problem, unit.name, course_digest(unit.name), settings.sandbox_forced_to_fall_back())
    if not problems:
        raise ClusterError(f"the cluster at {address} has no workers: start them (deploy/README.md), then grade again")
    found = [f"{worker}: {problem}" for worker, problem in sorted(problems.items()) if problem]
    if found:
        raise ClusterError("these workers cannot grade:\n  " + "\n  ".join(found))


def task_for(unit: Unit, student: str, workspace: Workspace, gradebook: bytes) -> dict:
    """Everything a worker needs to grade one submission, as plain data; ``gradebook``: the compressed
    template. Each task carries its own, so that no task depends on another: the scheduler then hands
    them out one at a time to whichever worker is free, and a worker that dies takes only its own."""
    folder = workspace.submission_folder(student, unit)
    files = {name: (folder / name).read_bytes() for name in (unit.notebook.name, *SUBMISSION_FILES)
             if (folder / name).is_file() and not (folder / name).is_symlink()}
    return {"unit": unit.name, "student": student, "files": files, "gradebook": gradebook,
            "digest": course_digest(unit.name), "limits": settings.sent_to_workers(),
            "grader_folders": os.pathsep.join([*integrity.protected_folders(), str(workspace.root)])}


_ENVIRONMENT = threading.Lock()


@contextmanager
def grading_environment(values: dict[str, str]):
    """The instructor's limits in this worker's environment while one task runs (one task at a time)."""
    with _ENVIRONMENT, patch.dict(os.environ, values):
        yield


def outcome_data(outcome: Outcome) -> dict:
    return {"kind": outcome.kind.value, "reason": outcome.reason, "findings": list(outcome.findings)}


def outcome_from(data: dict) -> Outcome:
    return Outcome(Kind(data["kind"]), data["reason"], tuple(data["findings"]))


def execute_task(task: dict) -> dict:
    """Run on a worker: grade one submission in a private folder, exactly as a local worker does.

    Returns the outcome, the executed notebook's files and which sandbox ran it. Whatever goes
    wrong here is the submission's outcome; only the worker's death makes Dask retry.
    """
    import dask.system
    from distributed import get_worker

    from . import cli

    worker = get_worker()
    with grading_environment(task["limits"]):
        line = f"{sandbox.describe(sandbox.sandbox_kind())} (worker {worker.address})"
        problem = worker_problem(task["unit"], task["digest"], settings.sandbox_forced_to_fall_back())
    if problem:  # a worker that joined after the check
        return {"student": task["student"], "outcome": outcome_data(Outcome.not_graded(
            f"worker {worker.address} cannot grade it: {problem}")), "files": {}, "sandbox": line}
    unit = Unit(task["unit"], RELEASE / task["unit"])
    # dask's count respects the CPU quota of a pod or job; one task at a time gets them all
    threads = max(1, dask.system.cpu_count())
    secrets = [str(Path(path).resolve().parent) for path in worker.security.get_tls_config_for_role("worker").values()
               if path and Path(path).is_file()]
    try:
        with grading_environment(task["limits"]), tempfile.TemporaryDirectory(
                prefix="course-task-", dir=worker.local_directory, ignore_cleanup_errors=True) as root:
            scratch = Workspace(Path(root))
            scratch.gradebook_file.write_bytes(zlib.decompress(task["gradebook"]))
            folder = scratch.submission_folder(task["student"], unit)
            folder.mkdir(parents=True)
            for name, content in task["files"].items():
                (folder / name).write_bytes(content)
            env = {**settings.GRADER_FOLDERS.assign(os.pathsep.join([task["grader_folders"], *secrets])),
                   **settings.GRADEBOOK_URL.assign(scratch.own_gradebook_url), **cli.thread_limits(threads)}
            outcome = cli.autograde_one(unit, task["student"], scratch, env=env)
            executed = scratch.autograded(task["student"], unit)
            files = {unit.notebook.name: executed.read_bytes()} if outcome.is_graded else {}
    except Exception as error:  # the batch goes on; this submission says what happened
        outcome, files = Outcome.not_graded(f"the worker failed on this submission ({type(error).__name__}: "
                                            f"{error}); grade it again"), {}
    return {"student": task["student"], "outcome": outcome_data(outcome), "files": files, "sandbox": line}


def lost(error: BaseException) -> Outcome:
    """Not graded, when the cluster returned no result for a submission."""
    from distributed.scheduler import KilledWorker

    if isinstance(error, KilledWorker):
        deaths = error.allowed_failures + 1
        return Outcome.not_graded(
            f"every worker that took it died ({deaths} time{'s' * (deaths > 1)}: killed, out of memory, or its "
            "machine lost); the cluster's logs say why. Grade it again alone")
    return Outcome.not_graded(f"the cluster returned no result ({type(error).__name__}: {error}); grade it again")


def connect(address: str, workspace: Workspace):
    from distributed import Client

    if not address.startswith("tls://"):
        raise ClusterError(f"the cluster's address must start with tls:// (the course grades only over TLS), "
                           f"not {address!r}")
    try:
        return Client(address, security=security(certificates_folder(workspace)), set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterError(f"could not reach the Dask scheduler at {address} ({type(error).__name__}: {error}); "
                           "is it running, with TLS and this course's certificate?") from error


def execute_on_cluster(unit: Unit, students: list[str], workspace: Workspace, template: Path,
                       address: str) -> dict[str, tuple[Outcome, str]]:
    """Phase 1 on the cluster: each student's outcome and sandbox line; executed notebooks go to
    ``workspace.executed`` for phase 2, with the submission time collect saw."""
    try:
        from distributed import as_completed
    except ModuleNotFoundError as error:
        raise ClusterError(f"grading on a cluster needs Dask's distributed package: {INSTALL_HINT}") from error
    batch = uuid.uuid4().hex[:8]
    results = {}
    with connect(address, workspace) as client:
        check_workers(client, unit, address)
        gradebook = zlib.compress(template.read_bytes())  # some 20 KB: a template that knows only the unit
        futures = {client.submit(execute_task, task_for(unit, student, workspace, gradebook), pure=False,
                                 key=f"grade-{unit.name}-{student}-{batch}"): student for student in students}
        finished = as_completed(futures, loop=client.loop)
        for future in tqdm(finished, total=len(futures), desc=f"grade {unit.name} (cluster)", unit="notebook"):
            student = futures[future]
            try:
                results[student] = accepted(unit, student, workspace, future.result())
            except Exception as error:  # KilledWorker, a lost scheduler, a result not as sent: not graded
                results[student] = (lost(error), "no result from the cluster")
    return results


def accepted(unit: Unit, student: str, workspace: Workspace, result: dict) -> tuple[Outcome, str]:
    """A task's result, checked (it is this student's, and holds just the executed notebook) and saved."""
    outcome = outcome_from(result["outcome"])
    if result["student"] != student:
        raise ValueError(f"a result for {result['student']!r} came back for {student!r}")
    if outcome.is_graded:
        if set(result["files"]) != {unit.notebook.name}:
            raise ValueError(f"the worker sent back {sorted(result['files'])}, not {unit.notebook.name}")
        nbformat.reads(result["files"][unit.notebook.name].decode(), as_version=4)
        save_executed(unit, student, workspace, result["files"][unit.notebook.name])
    return outcome, result["sandbox"]


def save_executed(unit: Unit, student: str, workspace: Workspace, notebook: bytes) -> None:
    executed = workspace.executed_folder(student, unit)
    shutil.rmtree(executed, ignore_errors=True)
    executed.mkdir(parents=True)
    (executed / unit.notebook.name).write_bytes(notebook)
    submitted = workspace.submission_folder(student, unit)
    for name in SUBMISSION_FILES:  # the time collect saw, not the kernel's
        if (submitted / name).is_file():
            shutil.copyfile(submitted / name, executed / name)
