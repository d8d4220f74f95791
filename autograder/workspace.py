"""A grading workspace: every path a grading run reads or writes, named in one place.

nbgrader's course directory layout, under the workspace's root::

    downloaded/UNIT/extracted/      what `collect` unpacked, before nbgrader files it
    submitted/STUDENT/UNIT/NOTEBOOK  each student's submission (and its timestamp.txt)
    autograded/STUDENT/UNIT/         the graded copy nbgrader executed
    executed/STUDENT/UNIT/           parallel grading: executed copies, for the phase that records them
    feedback/STUDENT/UNIT/           the HTML feedback
    scratch/                         parallel grading: one private workspace per submission
    gradebook.db                     the SQLite gradebook (unless COURSE_GRADEBOOK_URL names another)
    scores-UNIT.csv                  the scores `grade` exports

The grader (cli.py) and nbgrader's configuration (nbgrader_config.py) both ask
this object, so the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from course import settings

from .units import REPOSITORY, Unit

COURSE_ID = "genlm-course"  # nbgrader's course id, in the gradebook
DEFAULT_ROOT = REPOSITORY / "grading"
SUBMISSION_FILES = ("timestamp.txt",)  # besides the notebook, what nbgrader reads of a submission


def sqlite_url(database: Path) -> str:
    return f"sqlite:///{database}"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def from_settings(cls) -> "Workspace":
        """The workspace nbgrader runs in: COURSE_GRADING_WORKSPACE, else grading/ (resolved)."""
        return cls((settings.grading_workspace() or DEFAULT_ROOT).resolve())

    @property
    def gradebook_file(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def own_gradebook_url(self) -> str:
        """The workspace's own SQLite gradebook, whatever the settings say."""
        return sqlite_url(self.gradebook_file)

    @property
    def gradebook_url(self) -> str:
        """COURSE_GRADEBOOK_URL (a shared database), else the workspace's own SQLite gradebook."""
        return settings.gradebook_url() or self.own_gradebook_url

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def executed(self) -> Path:
        return self.root / "executed"

    @property
    def feedback(self) -> Path:
        return self.root / "feedback"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    def extracted(self, unit: Unit) -> Path:
        return self.root / "downloaded" / unit.name / "extracted"

    def submission_folder(self, student: str, unit: Unit) -> Path:
        return self.submitted / student / unit.name

    def submission(self, student: str, unit: Unit) -> Path:
        return self.submission_folder(student, unit) / unit.notebook.name

    def autograded_folder(self, student: str, unit: Unit | None = None) -> Path:
        """A student's autograded folder: of one unit, or all of them (``unit`` None)."""
        folder = self.root / "autograded" / student
        return folder / unit.name if unit else folder

    def autograded(self, student: str, unit: Unit) -> Path:
        return self.autograded_folder(student, unit) / unit.notebook.name

    def executed_folder(self, student: str, unit: Unit) -> Path:
        return self.executed / student / unit.name

    def scores_csv(self, unit: Unit) -> Path:
        return self.root / f"scores-{unit.name}.csv"

    def students(self, unit: Unit) -> list[str]:
        """Students with a submission of ``unit``, sorted."""
        return sorted(p.parent.name for p in self.submitted.glob(f"*/{unit.name}") if p.is_dir())
