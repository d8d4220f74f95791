"""course.runtime: the mode from the environment, per-mode budgets, seeding."""

import json
import random

import numpy as np
import pytest

from course import runtime

STUDENT_BUDGET = {"reviews": 20_000, "epochs": 8}
FAST_BUDGET = {"reviews": 500, "epochs": 1}


@pytest.fixture
def env(monkeypatch):
    """A clean environment: no nbgrader, no COURSE_MODE (conftest sets it to fast)."""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("COURSE_MODE", raising=False)
    return monkeypatch


def test_mode_defaults_to_student(env):
    assert runtime.mode() == "student"


def test_empty_course_mode_means_student(env):
    env.setenv("COURSE_MODE", "")
    assert runtime.mode() == "student"


@pytest.mark.parametrize("value", ["fast", "FAST", " fast "])
def test_course_mode_fast(env, value):
    env.setenv("COURSE_MODE", value)
    assert runtime.mode() == "fast"


@pytest.mark.parametrize("execution", ["autograde", "validate"])
def test_nbgrader_execution_means_grading(env, execution):
    env.setenv("NBGRADER_EXECUTION", execution)
    assert runtime.mode() == "grading"


@pytest.mark.parametrize("course_mode", ["student", "fast", "nonsense"])
def test_grading_wins_over_course_mode(env, course_mode):
    env.setenv("COURSE_MODE", course_mode)
    env.setenv("NBGRADER_EXECUTION", "autograde")
    assert runtime.mode() == "grading"


def test_invalid_course_mode_names_the_valid_modes(env):
    env.setenv("COURSE_MODE", "turbo")
    with pytest.raises(ValueError, match="turbo") as error:
        runtime.mode()
    for valid in ("student", "fast", "grading"):
        assert valid in str(error.value)


def test_budget_student(env):
    assert dict(runtime.budget(student=STUDENT_BUDGET, fast=FAST_BUDGET)) == STUDENT_BUDGET


def test_budget_fast(env):
    env.setenv("COURSE_MODE", "fast")
    assert dict(runtime.budget(student=STUDENT_BUDGET, fast=FAST_BUDGET)) == FAST_BUDGET


def test_budget_grading_falls_back_to_fast(env):
    env.setenv("NBGRADER_EXECUTION", "autograde")
    assert dict(runtime.budget(student=STUDENT_BUDGET, fast=FAST_BUDGET)) == FAST_BUDGET


def test_budget_grading_uses_its_own_when_given(env):
    env.setenv("NBGRADER_EXECUTION", "validate")
    grading = {"reviews": 100, "epochs": 1}
    assert dict(runtime.budget(student=STUDENT_BUDGET, fast=FAST_BUDGET, grading=grading)) == grading


@pytest.mark.parametrize(
    "budgets",
    [
        dict(student={"reviews": 1, "epochs": 1}, fast={"reviews": 1}),
        dict(student={"reviews": 1}, fast={"reviews": 1}, grading={"reviews": 1, "epochs": 1}),
        dict(student={"reviews": 1}, fast={"epochs": 1}),
    ],
)
def test_budget_keys_must_match(env, budgets):
    with pytest.raises(ValueError, match="same keys"):
        runtime.budget(**budgets)


def test_budget_is_read_only_copy(env):
    student = dict(STUDENT_BUDGET)
    chosen = runtime.budget(student=student, fast=FAST_BUDGET)
    with pytest.raises(TypeError):
        chosen["epochs"] = 100
    student["epochs"] = 100
    assert chosen["epochs"] == STUDENT_BUDGET["epochs"]


def test_seed_everything_makes_random_reproducible(monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "0")  # seed_everything sets it; restored afterwards

    def draw():
        return random.random(), np.random.rand(3).tolist()

    runtime.seed_everything(123)
    first = draw()
    runtime.seed_everything(123)
    assert draw() == first
    runtime.seed_everything(124)
    assert draw() != first


def test_describe_mentions_student(env):
    assert "student" in runtime.describe()


def test_describe_mentions_fast(env):
    env.setenv("COURSE_MODE", "fast")
    assert "fast" in runtime.describe()


def test_describe_mentions_grading_and_nbgrader_step(env):
    env.setenv("NBGRADER_EXECUTION", "autograde")
    text = runtime.describe()
    assert "grading" in text and "autograde" in text


def test_report_prints_the_figures_and_appends_them_for_a_benchmark(env, tmp_path, capsys):
    runtime.report(masked_token_accuracy=0.123456, speed_up=3)
    assert capsys.readouterr().out == "masked token accuracy: 0.1235\nspeed up: 3\n"
    figures = tmp_path / "figures.jsonl"
    env.setenv("COURSE_FIGURES_FILE", str(figures))
    runtime.report(held_out_accuracy=0.9)
    runtime.report({"T5 colour": 0.5})
    assert [json.loads(line) for line in figures.read_text().splitlines()] == [
        {"held out accuracy": 0.9}, {"T5 colour": 0.5}]
