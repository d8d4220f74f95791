"""deploy/: the JupyterHub image and Helm values, checked without Docker or Kubernetes.

No Docker engine or cluster runs here, so: the Dockerfile is linted (pinned base,
no secrets copied, pip without cache, not root at the end, instructor-only CSP);
its nbgrader switches are run for real against a scratch Jupyter config and a
real JupyterLab must then hide formgrader from students; the Helm values parse,
keep Zero to JupyterHub's structure, agree with ngshare's values, and their
Python snippet picks the right image for students and instructors.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from .conftest import REPOSITORY
from .test_open_course import free_port

DEPLOY = REPOSITORY / "deploy"
SECRET_FOLDERS = ("source", "tests", "grading", "benchmarks", "release")
WORKER_FOLDERS = ("release",)  # the grading cluster's workers compare each submission with its release
# Top-level keys of the Zero to JupyterHub chart's values (chart 3.x and 4.x).
Z2JH_KEYS = {"hub", "proxy", "singleuser", "scheduling", "prePuller", "ingress", "cull", "debug", "global", "rbac",
             "imagePullSecret", "imagePullSecrets", "custom", "fullnameOverride", "nameOverride", "enabled"}
Z2JH_SINGLEUSER_KEYS = {"image", "defaultUrl", "cpu", "memory", "storage", "extraEnv", "profileList", "cmd",
                        "networkPolicy", "extraFiles", "lifecycleHooks", "initContainers", "uid", "fsGid"}


def dockerfile_instructions(path: Path = DEPLOY / "Dockerfile") -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions by stage name."""
    found, current = {}, None
    for instruction, arguments in dockerfile_instructions():
        if instruction == "FROM":
            current = arguments.split(" AS ")[-1].strip()
            found[current] = []
        elif current:
            found[current].append((instruction, arguments))
    return found


def run_commands(stage: str) -> list[str]:
    """The shell commands of a stage's RUN instructions, split at &&."""
    return [command.strip() for instruction, arguments in stages()[stage] if instruction == "RUN"
            for command in arguments.split("&&")]


def test_dockerfile_has_a_student_and_an_instructor_target_on_a_pinned_base():
    assert list(stages()) == ["student", "instructor", "grader-worker"]
    base = re.search(r"ARG BASE_IMAGE=(\S+)", (DEPLOY / "Dockerfile").read_text())
    assert base and ":" in base[1] and not base[1].endswith(":latest"), "pin the base image's tag"
    assert all(instruction != "ADD" for instruction, _ in dockerfile_instructions()), "COPY, not ADD"


def test_dockerfile_copies_nothing_secret_and_only_what_exists():
    for stage, instructions in stages().items():
        secret = set(SECRET_FOLDERS) - set(WORKER_FOLDERS if stage == "grader-worker" else ())
        for instruction, arguments in instructions:
            if instruction != "COPY":
                continue
            sources = [word for word in shlex.split(arguments) if not word.startswith("--")][:-1]
            for source in sources:
                assert (REPOSITORY / source).exists(), f"COPY {source}: no such file in the repository"
                assert source.split("/")[0] not in secret, f"COPY {source} in {stage}: it must never get it"


def test_dockerfile_installs_without_cache_and_ends_as_the_notebook_user():
    for command in run_commands("student"):
        if "pip install" in command:
            assert "--no-cache-dir" in command, command
    for name, instructions in stages().items():
        users = [arguments for instruction, arguments in instructions if instruction == "USER"]
        assert users and users[-1] not in ("root", "0"), f"stage {name} must end as the notebook user"


def test_only_the_instructor_image_relaxes_the_frame_policy_for_formgrader():
    csp = json.loads((DEPLOY / "formgrader-csp.json").read_text())
    assert csp["ServerApp"]["tornado_settings"]["headers"]["Content-Security-Policy"] == "frame-ancestors 'self'"
    copies = {name: " ".join(a for i, a in instructions if i == "COPY") for name, instructions in stages().items()}
    assert "formgrader-csp.json" in copies["instructor"] and "formgrader-csp.json" not in copies["student"]


def nbgrader_plugin_ids() -> set[str]:
    import nbgrader

    bundle = Path(nbgrader.__file__).parent / "labextension" / "static"
    return {match for path in bundle.glob("*.js")
            for match in re.findall(r'"(@jupyter/nbgrader:[\w-]+)"', path.read_text(errors="ignore"))}


def test_the_plugins_the_dockerfile_switches_exist_in_nbgrader():
    switched = {word for command in run_commands("student") + run_commands("instructor")
                for word in command.split() if word.startswith("@jupyter/nbgrader:")}
    assert switched == {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"}
    assert switched <= nbgrader_plugin_ids()


@pytest.fixture(scope="module")
def student_config(tmp_path_factory):
    """A Jupyter config folder with the student image's JupyterLab settings: the Dockerfile's labextension
    commands run for real (at user level instead of the image's environment level)."""
    config = tmp_path_factory.mktemp("student-config")
    environment = dict(os.environ, JUPYTER_CONFIG_DIR=str(config))
    for command in run_commands("student"):
        if command.startswith("jupyter labextension"):
            words = shlex.split(command.replace("--level=sys_prefix", "--level=user"))
            subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", *words[2:]], env=environment,
                           check=True, capture_output=True, timeout=120)
    return config


@pytest.mark.slow
def test_student_jupyterlab_hides_formgrader_and_keeps_the_assignment_list(student_config, tmp_path):
    """A real JupyterLab with those settings: the two instructor plugins off and locked, the rest on."""
    port = free_port()
    token = "deploy-test"
    flags = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        flags.append("--allow-root")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={tmp_path}", *flags],
                              env=dict(os.environ, JUPYTER_CONFIG_DIR=str(student_config),
                                       JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime")),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        from .test_browser_jupyterlab import wait_for_http

        wait_for_http(f"{base}/api/status?token={token}", server, Path(os.devnull))
        page = urllib.request.urlopen(f"{base}/lab?token={token}", timeout=30).read().decode()
        page_config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)[1])
        for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
            assert plugin in page_config["disabledExtensions"] and plugin in page_config["lockedExtensions"]
        for plugin in ("@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"):
            assert plugin not in page_config["disabledExtensions"], plugin
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_student_image_switches_the_formgrader_server_extension_off(tmp_path):
    """jupyter_server's own merge of the image's environment-level config folder: nbgrader's file
    switches formgrader on, the image's file (sorted after it) switches it off. (`jupyter server
    extension disable nbgrader.server_extensions.formgrader` fails nbgrader 0.9's validation.)"""
    from jupyter_server.extension.config import ExtensionConfigManager

    import nbgrader  # noqa: F401  (its config file ships with it)

    folder = tmp_path / "etc-jupyter" / "jupyter_server_config.d"
    folder.mkdir(parents=True)
    nbgrader_file = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "nbgrader.json"
    (folder / "nbgrader.json").write_text(nbgrader_file.read_text())
    manager = ExtensionConfigManager(read_config_path=[str(folder.parent)])
    assert manager.enabled("nbgrader.server_extensions.formgrader"), "nbgrader switches formgrader on"
    target = next(a for i, a in stages()["student"] if i == "COPY" and "student-server-config.json" in a).split()[-1]
    (folder / Path(target).name).write_text((DEPLOY / "student-server-config.json").read_text())
    assert Path(target).parent.name == folder.name, target
    assert not manager.enabled("nbgrader.server_extensions.formgrader")
    assert manager.enabled("nbgrader.server_extensions.assignment_list")


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def test_helm_values_keep_zero_to_jupyterhub_structure(values):
    assert set(values) <= Z2JH_KEYS, set(values) - Z2JH_KEYS
    assert set(values["singleuser"]) <= Z2JH_SINGLEUSER_KEYS, set(values["singleuser"]) - Z2JH_SINGLEUSER_KEYS
    image = values["singleuser"]["image"]
    assert isinstance(image["tag"], str) and image["tag"] not in ("", "latest"), "pin the image tag as a string"
    assert values["hub"]["services"]["ngshare"]["url"].startswith("http://")


def test_helm_values_and_ngshare_values_agree(values):
    ngshare = yaml.safe_load((DEPLOY / "helm" / "ngshare-values.yaml").read_text())["ngshare"]
    service = values["hub"]["services"]["ngshare"]
    assert service["apiToken"] == ngshare["hub_api_token"], "the hub and ngshare must share one token"
    assert values["singleuser"]["extraEnv"]["NGSHARE_URL"] == service["url"] + "/services/ngshare"
    assert values["hub"]["config"]["Authenticator"]["admin_users"] == ngshare["admins"]
    assert "access:services!service=ngshare" in values["hub"]["loadRoles"]["user"]["scopes"]


def test_nbgrader_config_of_the_image_reads_the_exchange_address():
    source = (DEPLOY / "nbgrader_config.py").read_text()
    compile(source, "nbgrader_config.py", "exec")
    assert 'os.environ["NGSHARE_URL"]' in source and "configureExchange" in source


def test_instructors_get_the_instructor_image_and_students_do_not(values):
    from traitlets.config import Config

    c = Config()
    for name, snippet in values["hub"]["extraConfig"].items():
        exec(compile(snippet, name, "exec"), {"c": c})
    profiles = c.KubeSpawner.profile_list

    def images_for(*groups):
        spawner = SimpleNamespace(user=SimpleNamespace(groups=[SimpleNamespace(name=g) for g in groups]))
        return [p["kubespawner_override"]["image"] for p in profiles(spawner)]

    student_image = f"{values['singleuser']['image']['name']}:{values['singleuser']['image']['tag']}"
    assert images_for() == [student_image] == images_for("other-class")
    instructor = images_for("instructors")
    assert instructor[0] == student_image and instructor[1].endswith("genlm-course-instructor:0.1.0")


def test_the_kubernetes_grading_cluster_starts_with_its_own_arguments_over_tls(tmp_path):
    """deploy/dask/grading-cluster.yaml (the dask-kubernetes operator's DaskCluster): its scheduler's and worker's
    command lines, with the secret's folder pointed at real certificates, start a real scheduler and a worker that
    registers with it, over TLS."""
    from autograder import cluster, sandbox

    from .dask_cluster import DASK, kill_tree, wait_for

    resource = yaml.safe_load((DEPLOY / "dask" / "grading-cluster.yaml").read_text())
    assert (resource["apiVersion"], resource["kind"]) == ("kubernetes.dask.org/v1", "DaskCluster")
    name, namespace = resource["metadata"]["name"], resource["metadata"]["namespace"]
    pods = {role: resource["spec"][role]["spec"] for role in ("scheduler", "worker")}
    containers = {role: pod["containers"][0] for role, pod in pods.items()}
    mount = "/run/grading-tls"
    bound = [Path(arg) for arg in sandbox.system_binds() if arg.startswith("/")]
    assert not [folder for folder in bound if Path(mount).is_relative_to(folder)], "a kernel would see the key"
    for role, pod in pods.items():
        assert containers[role]["image"].endswith("/genlm-course-grader-worker:0.1.0"), "the Dockerfile's worker"
        assert containers[role]["volumeMounts"][0]["mountPath"] == mount
        assert pod["volumes"][0]["secret"]["secretName"] == "grading-tls"
    assert "kubectl create secret generic grading-tls" in (DEPLOY / "README.md").read_text()
    worker_args = containers["worker"]["args"]
    assert worker_args[2] == f"tls://{name}-scheduler.{namespace}.svc.cluster.local:8786", "the operator's service"
    assert worker_args[worker_args.index("--nthreads") + 1] == "1"

    certificates = tmp_path / "certs"
    cluster.make_certificates(certificates)
    port = str(free_port())

    def here(args: list[str]) -> list[str]:
        replaced = [arg.replace(mount, str(certificates)).replace("8786", port) for arg in args[2:]]
        return [DASK, args[1], *[arg.replace("$(DASK_WORKER_NAME)", "worker-0") for arg in replaced]]

    logs = {role: (tmp_path / f"{role}.log").open("w") for role in containers}
    scheduler = subprocess.Popen(here(containers["scheduler"]["args"]), stdout=logs["scheduler"],
                                 stderr=subprocess.STDOUT, cwd=tmp_path)
    worker_command = here(worker_args)
    worker_command[2] = f"tls://127.0.0.1:{port}"
    worker = subprocess.Popen(worker_command, stdout=logs["worker"], stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_for(lambda: "Registered to" in (tmp_path / "worker.log").read_text(), 60, "the worker did not register")
        assert re.search(r"Scheduler at: +tls://", (tmp_path / "scheduler.log").read_text())
    finally:
        kill_tree(worker)
        kill_tree(scheduler)


def test_the_slurm_cluster_gives_its_workers_the_course_certificate(tmp_path):
    """deploy/slurm_cluster.py with dask-jobqueue: each job asks Slurm for the cores, runs one single-threaded worker
    with the course certificate, and that job's command, run here, registers with the scheduler over TLS."""
    import importlib.util

    from distributed import Client

    from autograder import cluster

    from .dask_cluster import kill_tree, wait_for

    spec = importlib.util.spec_from_file_location("slurm_cluster", DEPLOY / "slurm_cluster.py")
    slurm_cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slurm_cluster)
    certificates = tmp_path / "certs"
    cluster.make_certificates(certificates)
    with slurm_cluster.slurm_cluster(certificates, partition="short", cores=2, memory="8GB") as slurm:
        script = slurm.job_script()
        assert "#SBATCH -p short" in script and "#SBATCH --cpus-per-task=2" in script
        command = shlex.split(script.strip().splitlines()[-1])
        assert command[command.index("--nthreads") + 1] == "1"
        for option, name in (("--tls-ca-file", cluster.CA_FILE), ("--tls-cert", cluster.CERT_FILE),
                             ("--tls-key", cluster.KEY_FILE)):
            assert command[command.index(option) + 1] == str(certificates / name)
        assert slurm.scheduler_address.startswith("tls://")
        worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        try:
            with Client(slurm.scheduler_address, security=cluster.security(certificates), timeout="20s") as client:
                wait_for(lambda: client.scheduler_info()["workers"], 60, "the job's worker did not register")
        finally:
            kill_tree(worker)
