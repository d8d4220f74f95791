"""The mode a notebook runs in, the budgets that follow from it, and seeding.

Three modes:

- ``student``: the default, on a laptop, JupyterHub or Colab. Full lesson.
- ``fast``: CI and contract tests (``COURSE_MODE=fast``). Tiny budgets, same code.
- ``grading``: nbgrader is executing the notebook (it sets ``NBGRADER_EXECUTION``
  to ``autograde`` or ``validate``). Tiny budgets, so one submission grades in
  seconds; grading always wins over ``COURSE_MODE``.

A notebook states its budgets once, per mode::

    BUDGET = runtime.budget(
        student=dict(reviews=20_000, epochs=8),
        fast=dict(reviews=500, epochs=1),
    )

Grading falls back to the ``fast`` budget unless the notebook gives its own.
"""

from __future__ import annotations

import json
import os
import random
import sys
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import settings

STUDENT, FAST, GRADING = "student", "fast", "grading"
MODES = (STUDENT, FAST, GRADING)


def mode() -> str:
    """Return ``"student"``, ``"fast"`` or ``"grading"`` from the environment."""
    if settings.nbgrader_execution():
        return GRADING
    requested = settings.mode()
    if requested not in MODES:
        raise ValueError(
            f"COURSE_MODE={requested!r} is not a mode; use one of {', '.join(MODES)} "
            "(or unset it for the full student run)."
        )
    return requested


def budget(
    student: Mapping[str, Any],
    fast: Mapping[str, Any],
    grading: Mapping[str, Any] | None = None,
) -> Mapping[str, Any]:
    """Pick the budget for the current mode; all modes must name the same keys."""
    grading = fast if grading is None else grading
    if not set(student) == set(fast) == set(grading):
        raise ValueError("student, fast and grading budgets must have the same keys")
    chosen = {STUDENT: student, FAST: fast, GRADING: grading}[mode()]
    return MappingProxyType(dict(chosen))


def seed_everything(seed: int = 42) -> None:
    """Fix Python's, NumPy's and (if already imported) Keras' random seeds.

    Keras is seeded only when the notebook has imported it, so a unit that never
    uses TensorFlow does not pay for importing it here.
    """
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def report(figures: Mapping[str, float] | None = None, **named: float) -> None:
    """Print the figures a run reached (accuracies, speed-ups), one per line; a benchmark also records them.

    Give them as a dict of readable names, or as keywords whose underscores become spaces:
    ``report({"masked-token accuracy": 0.19})`` and ``report(speed_up=3)`` print ``masked-token accuracy: 0.19``
    and ``speed up: 3``.
    """
    given = {**(figures or {}), **{name.replace("_", " "): value for name, value in named.items()}}
    rounded = {name: round(float(value), 4) for name, value in given.items()}
    for name, value in rounded.items():
        print(f"{name}: {value:g}")
    path = settings.figures_file()
    if path is not None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(rounded) + "\n")


@dataclass
class History:
    """What a training loop measured, step by step (plain lists and numbers, so it saves as JSON or a dict)."""
    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def record(self, step: int, **values: float) -> None:
        self.steps.append(step)
        for name, value in values.items():
            self.values.setdefault(name, []).append(float(value))

    def last(self, name: str) -> float:
        return self.values[name][-1]


def describe() -> str:
    """One line for the top of a notebook: which mode, and how to change it."""
    current = mode()
    if current == STUDENT:
        return "Mode: student (full lesson). Set COURSE_MODE=fast for a quick smoke run."
    if current == FAST:
        return "Mode: fast (tiny budgets for CI and quick checks). Unset COURSE_MODE for the full lesson."
    return f"Mode: grading (nbgrader {settings.nbgrader_execution()}): small budgets, no long training."
