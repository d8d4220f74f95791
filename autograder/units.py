"""The course's units: one folder in source/ each, holding one notebook.

A unit is named by its folder (``01_ngrams_rnn``); instructors may also type
its number (``1``, ``01``) or the part after the number (``ngrams_rnn``).
Its title and points are read from its notebook, so nothing else lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPOSITORY = Path(__file__).resolve().parent.parent
SOURCE = REPOSITORY / "source"
RELEASE = REPOSITORY / "release"


class UnitError(ValueError):
    """A unit name that does not match a folder in source/."""


@dataclass(frozen=True)
class Points:
    """What a unit's source notebook grades, read from its nbgrader metadata."""

    autograded: float  # points of the test cells
    by_hand: float  # points of the answers an instructor reads (formgrader)
    exercises: int  # autograded answer cells

    @property
    def total(self) -> float:
        return self.autograded + self.by_hand


def _role(cell) -> str | None:
    """'test', 'by hand', 'answer' or None, as nbgrader's metadata says."""
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade"):
        return "by hand" if meta.get("solution") else "test"
    return "answer" if meta.get("solution") and cell.cell_type == "code" else None


@dataclass(frozen=True)
class Unit:
    name: str  # the folder name, e.g. "01_ngrams_rnn"
    folder: Path

    @property
    def notebook(self) -> Path:
        notebooks = sorted(self.folder.glob("*.ipynb"))
        if len(notebooks) != 1:
            raise UnitError(f"{self.folder} must hold exactly one notebook, found {len(notebooks)}")
        return notebooks[0]

    @property
    def number(self) -> int:
        return int(self.name.split("_", 1)[0])

    def read_notebook(self):
        return nbformat.read(self.notebook, as_version=4)

    @property
    def title(self) -> str:
        """The notebook's first heading without its "Unit N —" prefix: ``n-grams and the limits of RNNs``."""
        for cell in self.read_notebook().cells:
            heading = re.search(r"^#+\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
            if heading:
                return re.sub(r"^Unit\s+\d+\s*[—:–-]\s*", "", heading[1]).strip()
        raise UnitError(f"{self.notebook} has no markdown heading to take the unit's title from")

    @property
    def points(self) -> Points:
        cells = self.read_notebook().cells
        roles = [(_role(cell), float(cell.metadata.get("nbgrader", {}).get("points", 0))) for cell in cells]
        return Points(autograded=sum(p for role, p in roles if role == "test"),
                      by_hand=sum(p for role, p in roles if role == "by hand"),
                      exercises=sum(role == "answer" for role, _ in roles))

    def released_notebook(self, release: Path = RELEASE) -> Path:
        return release / self.name / self.notebook.name


def all_units(source: Path = SOURCE) -> list[Unit]:
    """Every unit folder in source/, in course order."""
    folders = [p for p in sorted(source.iterdir()) if p.is_dir() and p.name[:2].isdigit()]
    return [Unit(p.name, p) for p in folders]


def find_unit(name: str, source: Path = SOURCE) -> Unit:
    """The unit a user means by ``name``, or a UnitError listing the real names."""
    units = all_units(source)
    for unit in units:
        aliases = {unit.name, unit.name.split("_", 1)[1], str(unit.number), f"{unit.number:02d}"}
        if name.strip() in aliases:
            return unit
    known = ", ".join(u.name for u in units) or "none"
    raise UnitError(f"Unknown unit {name!r}. Units in {source}: {known}.")
