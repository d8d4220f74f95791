"""Keep the Colab set-up cell (course.colab.SETUP_CELL) as the first code cell of every source notebook.

The `course-grader release` command calls this before generating the student
versions, so a new unit gets the cell without anyone adding it by hand.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from course.colab import SETUP_CELL, SETUP_CELL_TAG


def is_setup_cell(cell) -> bool:
    return SETUP_CELL_TAG in cell.metadata.get("tags", [])


def with_setup_cell(notebook) -> bool:
    """Insert or refresh the set-up cell just before the first other code cell; True if the notebook changed."""
    existing = [cell for cell in notebook.cells if is_setup_cell(cell)]
    if existing:
        if existing[0].source == SETUP_CELL:
            return False
        existing[0].source = SETUP_CELL
        return True
    first_code = next((i for i, c in enumerate(notebook.cells) if c.cell_type == "code"), len(notebook.cells))
    cell = nbformat.v4.new_code_cell(SETUP_CELL, metadata={"tags": [SETUP_CELL_TAG]})
    cell.id = SETUP_CELL_TAG
    notebook.cells.insert(first_code, cell)
    return True


def ensure_setup_cell(path: Path) -> bool:
    """Rewrite ``path`` only when its set-up cell is missing or out of date; True if it was rewritten."""
    notebook = nbformat.read(path, as_version=4)
    if not with_setup_cell(notebook):
        return False
    nbformat.write(notebook, path)
    return True
