"""The README's generated tables are fresh, and every point count written in prose matches the notebooks.

The units table and the benchmark table are generated (autograder/readme.py);
a unit's own README states its points in words, which is checked here against
the nbgrader metadata of its source notebook.
"""

from __future__ import annotations

import re

import pytest

from autograder import readme
from autograder.units import all_units

from .conftest import REPOSITORY

UNITS = [pytest.param(unit, id=unit.name) for unit in all_units()]
NUMBER_WORDS = dict(zip("one two three four five six seven eight nine ten eleven twelve".split(), range(1, 13)))
POINTS_IN_BRACKETS = re.compile(r"\((\d+(?:\.\d+)?) points?\)")
EXERCISE_COUNT = re.compile(rf"\b({'|'.join(NUMBER_WORDS)}|\d+) exercises?\b", re.I)


def test_generated_sections_of_the_readme_are_fresh():
    stale = readme.stale_sections((REPOSITORY / "README.md").read_text())
    assert stale == [], f"README.md's {', '.join(stale)} table is stale: run `{readme.REFRESH_COMMAND}`"


def test_a_section_is_rewritten_between_its_markers_and_nowhere_else():
    text = "intro\n<!-- units:start -->\nold\n<!-- units:end -->\nafter\n"
    assert readme.with_section(text, "units", "new") == "intro\n<!-- units:start -->\nnew\n<!-- units:end -->\nafter\n"
    with pytest.raises(readme.ReadmeError, match="benchmarks:start"):
        readme.with_section(text, "benchmarks", "new")


def test_figures_are_quoted_for_the_units_that_report_them():
    results = [{"unit": "05_bert_t5", "figures": {"masked token accuracy": 0.19, "chance": 0.5}},
               {"unit": "06_rlhf", "figures": {}}, {"unit": "07_text_to_image"}]
    assert readme.figures_section(results).splitlines()[2:] == ["| 05_bert_t5 | masked token accuracy 0.19; chance 0.5 |"]
    assert readme.figures_section([]).splitlines()[0].startswith("| unit |")


def test_the_readme_stays_a_front_door():
    text = (REPOSITORY / "README.md").read_text()
    assert len(text.encode()) <= 8500, "README.md is for a two-minute read: move details to a guide"
    long_prose = [line[:60] for line in text.splitlines() if len(line) > 120 and not line.startswith("|")]
    assert long_prose == [], "wrap prose lines"
    for guide in re.findall(r"\]\(([A-Za-z_/]+\.md)\)", text):
        assert (REPOSITORY / guide).is_file(), f"README.md links to {guide}, which does not exist"


@pytest.mark.parametrize("unit", UNITS)
def test_a_units_readme_states_the_points_of_its_notebook(unit):
    """E.g. "Seven exercises are graded automatically (15 points) and one short answer by hand (2 points)."."""
    text = (unit.folder / "README.md").read_text()
    points = unit.points
    expected = [points.autograded] + ([points.by_hand] if points.by_hand else [])
    stated = [float(number) for number in POINTS_IN_BRACKETS.findall(text)]
    assert stated == expected, (f"{unit.name}/README.md states {stated} points; its notebook's metadata gives "
                                f"{expected} (autograded, then by hand)")
    counts = [NUMBER_WORDS.get(word.lower()) or int(word) for word in EXERCISE_COUNT.findall(text)]
    assert counts == [points.exercises], f"{unit.name}/README.md counts {counts} exercises, the notebook {points.exercises}"


@pytest.mark.parametrize("unit", UNITS)
def test_benchmarked_scores_match_the_points_of_the_notebook(unit):
    """The benchmark table's score column was measured on the notebook as it grades now."""
    results = {result["unit"]: result for result in readme.unit_results()}
    result = results.get(unit.name)
    if result is None or result["grading_score"] is None:
        pytest.skip(f"{unit.name} has no benchmarked grading yet")
    assert (result["grading_max_score"], result["grading_points_by_hand"]) == (unit.points.total, unit.points.by_hand), (
        f"benchmarks/results/{unit.name}.json is stale: run `python benchmarks/run_notebooks.py --units "
        f"{unit.number} --update-readme`")
