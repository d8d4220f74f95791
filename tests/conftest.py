"""Shared set-up: fast mode, the data location, and the list of units."""

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent

# Notebooks executed by tests (and their kernels) use the tiny budgets.
os.environ["COURSE_MODE"] = "fast"


def pytest_configure(config):
    from course import data

    try:
        data.find_reviews_file()
    except data.DataNotFoundError as error:
        raise pytest.UsageError(
            f"The tests read real Wine Reviews data and found none.\n{error}\n"
            "The project ships its subset in data/wine-reviews/: restore it with `git checkout data/`."
        )
