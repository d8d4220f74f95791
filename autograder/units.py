"""The course's units: one folder in source/ each, holding one notebook.

A unit is named by its folder (``01_ngrams_rnn``); instructors may also type
its number (``1``, ``01``) or the part after the number (``ngrams_rnn``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SOURCE = REPOSITORY / "source"
RELEASE = REPOSITORY / "release"


class UnitError(ValueError):
    """A unit name that does not match a folder in source/."""


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
