"""The checks behind the contract tests, as functions, so that
test_contract_bites.py can prove each one fails on a sabotaged unit."""

from __future__ import annotations

from pathlib import Path

from autograder.cells import MARKERS

from . import notebooks as nb


def release_differences(committed: Path, fresh: Path) -> list[str]:
    """Files that differ between a committed release folder and a fresh one."""
    def files(folder):
        return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}

    problems = [f"only in one of them: {p}" for p in sorted(files(committed) ^ files(fresh))]
    for relative in sorted(files(committed) & files(fresh)):
        if (committed / relative).read_bytes() != (fresh / relative).read_bytes():
            problems.append(f"differs: {relative}")
    return problems


def leaks(source_notebook, release_folder: Path, shown_elsewhere: frozenset[str] = frozenset()) -> list[str]:
    """Solution text, hidden tests or test-only files found in a release folder.

    ``shown_elsewhere``: lines students see anyway in other notebooks (a folder
    holding several units may show one unit's answer line as another's code).
    """
    secrets = {line for line in nb.private_lines(source_notebook)
               if not any(line in shown for shown in shown_elsewhere)}
    problems = []
    for path in sorted(release_folder.rglob("*")):
        if not path.is_file():
            continue
        if path.name == "mutants.py":
            problems.append(f"{path.name}: test material in the release")
        text = path.read_text(errors="ignore")
        problems += [f"{path.name}: marker {m!r}" for m in MARKERS if m in text]
        problems += [f"{path.name}: {line!r}" for line in sorted(secrets) if line in text]
    return problems


def apply_mutant(solution: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        if old not in solution:
            raise ValueError(f"{old!r} is not in the solution: the mutant no longer applies")
        solution = solution.replace(old, new)
    return solution


def mutant_survivors(notebook, run, mutants: dict) -> list[str]:
    """Mutants that pass every test cell of their exercise.

    ``run(source)`` executes code in a kernel that has run the notebook and
    returns the error, or None. The reference solution is restored after each.
    """
    survivors = []
    answers = nb.answer_cells(notebook)
    for exercise, wrong_answers in mutants.items():
        cell = answers[exercise]
        tests = nb.tests_of(exercise, notebook).values()
        for name, edits in wrong_answers.items():
            caught = run(apply_mutant(cell.source, edits)) is not None or any(
                run(test.source) is not None for test in tests
            )
            if not caught:
                survivors.append(f"{exercise}: {name}")
        run(cell.source)
    return survivors
