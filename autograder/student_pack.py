"""`course-grader student-pack OUT`: what students may see, ready to publish as its own repository.

The pack holds the student notebooks (release/), the course helpers (course/),
the real data subset the course runs on offline, with its licence and provenance, the licence, environment.yml and a
pyproject.toml that installs the helpers only. It never holds source/, the
hidden tests, the mutants, the grader or the tests. `course.colab.REPOSITORY_URL`
should name the repository the pack is published as: the Colab set-up cell
installs the helpers from it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .units import REPOSITORY

# (repository path, pack path): everything a student's copy needs, nothing else.
PACK_CONTENT = (
    ("release", "release"),
    ("course", "course"),
    ("data/README.md", "data/README.md"),
    ("data/wine-reviews/winemag-subset.jsonl.gz", "data/wine-reviews/winemag-subset.jsonl.gz"),
    ("LICENSE", "LICENSE"),
    ("environment.yml", "environment.yml"),
)
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")

STUDENT_README = """# Generative language models, hands on: the student notebooks

One notebook per unit in `release/`. Fill in each exercise, then run the test cell below it.

## On your computer (Python 3.10 or newer)

```bash
python3 -m venv .venv
.venv/bin/pip install -e .          # Linux: add --extra-index-url https://download.pytorch.org/whl/cpu
.venv/bin/course-data download      # optional: all 129,971 reviews (52 MB); the course ships 6,728 of them
.venv/bin/jupyter lab --notebook-dir=release
```

## In Google Colab

Open a notebook in Colab and run its first cell: it installs the course helpers and fetches the data.
Colab cannot run nbgrader: check your work with the test cells, then download the notebook
(File > Download > Download .ipynb) and hand it in through your course's learning platform.

The data is Kaggle's Wine Reviews, CC BY-NC-SA 4.0: see data/README.md. Code: MIT (LICENSE).
"""


class PackError(RuntimeError):
    """The pack cannot be made; the message says why."""


def student_pyproject(text: str) -> str:
    """The course's pyproject.toml, installing the helpers (course/) and course-data only."""
    replacements = {
        'packages = ["course", "autograder"]': 'packages = ["course"]',
        'course-grader = "autograder.cli:main"\n': "",
    }
    for old, new in replacements.items():
        if old not in text:
            raise PackError(f"pyproject.toml no longer contains {old.strip()!r}: update autograder/student_pack.py")
        text = text.replace(old, new)
    return text


def make_student_pack(out: Path, repository: Path = REPOSITORY) -> list[str]:
    """Write the pack into ``out`` (which must not exist yet); return its files, relative to ``out``."""
    if out.exists():
        raise PackError(f"{out} already exists: give a new folder")
    out.mkdir(parents=True)
    for source, target in PACK_CONTENT:
        origin, destination = repository / source, out / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, destination, ignore=SKIPPED)
        else:
            shutil.copy2(origin, destination)
    (out / "pyproject.toml").write_text(student_pyproject((repository / "pyproject.toml").read_text()))
    (out / "README.md").write_text(STUDENT_README)
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
