"""The Colab set-up cell (course.colab.SETUP_CELL), added to every student notebook at release time.

``course-grader release`` runs nbgrader's generate_assignment with ``AddSetupCell``
first (nbgrader_config.py), so every released notebook starts with the cell
and a new unit gets it without anyone adding it by hand. source/ never holds
it: the generator does not edit its own input.
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

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


class AddSetupCell(NbGraderPreprocessor):
    """generate_assignment's first step: the released notebook gets the set-up cell."""

    def preprocess(self, nb, resources):
        with_setup_cell(nb)
        return nb, resources
