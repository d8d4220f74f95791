"""The checks behind the contract tests, as functions, so that
test_contract_bites.py can prove each one fails on a sabotaged unit."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

from autograder.cells import MARKERS
from autograder.integrity import bindings, python_of, shape

from . import notebooks as nb

# A helper re-implements an answer when the statements it shares with the answer's
# solution (compared by shape: see normalised) hold at least this share of the
# solution's AST nodes. Shared statements of fewer nodes (`x[i]`, `if n < 1:`) are
# common to any code and do not count. course/ shares at most 17% with any answer
# (plots.bars with skipgram_pairs); a renamed copy of an answer, 90-100%.
SHARED_SHARE = 0.5
MIN_STATEMENT_NODES = 10


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


def mutant_survivors(notebook, run, mutants: dict, run_test) -> list[str]:
    """Mutants that pass every test cell of their exercise.

    ``run(source)`` executes code in a kernel that has run the notebook and
    returns the error, or None; ``run_test(cell)`` runs a test cell as grading
    does (in the checker beside that kernel) and returns its error, or None.
    The reference solution is restored after each.
    """
    survivors = []
    answers = nb.answer_cells(notebook)
    for exercise, wrong_answers in mutants.items():
        cell = answers[exercise]
        tests = nb.tests_of(exercise, notebook).values()
        for name, edits in wrong_answers.items():
            caught = run(apply_mutant(cell.source, edits)) is not None or any(
                run_test(test) is not None for test in tests
            )
            if not caught:
                survivors.append(f"{exercise}: {name}")
        run(cell.source)
    return survivors


def normalised(node: ast.AST, local: set[str]) -> ast.AST:
    """A copy of ``node`` as a renaming leaves it: every variable and constant name is "_",
    every number 0 (``integrity.shape`` masks the strings), and an index's whole leading
    axes, written ``:`` or ``...``, are one ``...``. What a name calls or looks into stays,
    unless ``local`` (an argument or variable of the function it is in) holds it: ``np.exp``
    is not ``np.log``, nor ``len(x)`` ``max(x)``."""
    node = copy.deepcopy(node)
    used = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    used |= {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and (child.id in local or id(child) not in used):
            child.id = "_"
        elif isinstance(child, ast.arg):
            child.arg, child.annotation = "_", None
        elif isinstance(child, ast.Constant) and isinstance(child.value, (int, float, complex)):
            child.value = 0
        elif isinstance(child, ast.Subscript) and isinstance(child.slice, ast.Tuple):
            axes = child.slice.elts
            whole = 0
            while whole < len(axes) and _takes_whole_axes(axes[whole]):
                whole += 1
            if whole:
                child.slice.elts = [ast.Constant(...)] + axes[whole:]
    return node


def local_names(scope: ast.AST) -> set[str]:
    """The names a function (or class, or module) binds itself: arguments and assignment
    targets, not the modules it imports."""
    nodes = list(ast.walk(scope))
    names = {n.arg for n in nodes if isinstance(n, ast.arg)}
    names |= {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    return names | {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not scope}


def _takes_whole_axes(index: ast.AST) -> bool:
    return (isinstance(index, ast.Constant) and index.value is ...) or (
        isinstance(index, ast.Slice) and index.lower is index.upper is index.step is None)


def _plain_call(node: ast.AST) -> bool:
    """A call of a library function on plain names and constants (``np.asarray(x)``,
    ``layers.Embedding(n, d, name="...")``): how an API is used, not an answer's logic."""
    if not isinstance(node, ast.Call):
        return False
    function = node.func
    while isinstance(function, ast.Attribute):
        function = function.value
    arguments = node.args + [keyword.value for keyword in node.keywords]
    return isinstance(function, ast.Name) and all(isinstance(a, (ast.Name, ast.Constant)) for a in arguments)


def _size(node: ast.AST) -> int:
    return sum(1 for _ in ast.walk(node))


def _compared_part(statement: ast.stmt) -> ast.AST:
    """What a statement computes: ``return e``, ``x = e`` and ``e`` all compare as ``e``;
    a compound statement by its header alone (its body is compared statement by statement)."""
    if isinstance(statement, (ast.Return, ast.Assign, ast.AnnAssign, ast.Expr)) and statement.value:
        return statement.value
    header = copy.copy(statement)
    for field in ("body", "orelse", "finalbody", "handlers"):
        if hasattr(header, field):
            setattr(header, field, [])
    return header


def _statements(body: list[ast.stmt]):
    """Every statement of a body, nested ones included, without docstrings and definitions."""
    for statement in body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield statement
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(statement, field, []))
        for handler in getattr(statement, "handlers", []):
            yield from _statements(handler.body)


def solution_statements(cell) -> dict[str, list[tuple[str, int]]]:
    """Each name an answer cell defines (function, class or assigned name), with the shapes
    of its statements that lie between ``### BEGIN SOLUTION`` and ``### END SOLUTION``,
    each with its size in AST nodes. Plain library calls (``_plain_call``) are left out."""
    tree = python_of(cell.source)
    inside, solution_lines = False, set()
    for number, line in enumerate(cell.source.splitlines(), start=1):
        marker = line.strip()
        inside = (inside or marker == "### BEGIN SOLUTION") and marker != "### END SOLUTION"
        if inside:
            solution_lines.add(number)
    found = {}
    for node in tree.body:
        names = [node.name] if hasattr(node, "name") else list(bindings(ast.Module([node], [])))
        body = node.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [node]
        local = local_names(node)
        parts = [(shape(normalised(part, local)), _size(part)) for s in _statements(body)
                 if set(range(s.lineno, s.end_lineno + 1)) <= solution_lines
                 for part in [_compared_part(s)] if not _plain_call(part)]
        for name in names:
            if parts:
                found.setdefault(name, []).extend(parts)
    return found


def helper_functions(module_source: str) -> dict[str, set[str]]:
    """Each function and class of a module (methods and nested ones too, and the module's
    own statements as "<module>"), with the shapes of every statement and expression in it."""
    tree = ast.parse(module_source)
    scopes = {"<module>": (tree, [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))])}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scopes[node.name] = (node, node.body)
    found = {}
    for name, (scope, body) in scopes.items():
        local = local_names(scope)
        found.setdefault(name, set()).update(
            shape(normalised(_compared_part(sub) if isinstance(sub, ast.stmt) else sub, local))
            for statement in body for sub in ast.walk(statement) if isinstance(sub, (ast.expr, ast.stmt)))
    return found


def shared_nodes(parts: list[tuple[str, int]], shapes: set[str]) -> int:
    """How much of a solution (its statements' shapes and sizes) a helper's shapes hold."""
    return sum(size for part, size in parts if part in shapes and size >= MIN_STATEMENT_NODES)


def reimplementations(source_notebook, modules: dict[str, str]) -> list[str]:
    """Helpers (``modules``: name -> Python source) that define a name an answer defines,
    or that share most of an answer's solution by shape (see SHARED_SHARE)."""
    problems = []
    helpers = {(module, function): shapes for module, text in modules.items()
               for function, shapes in helper_functions(text).items()}
    for grade_id, cell in nb.answer_cells(source_notebook).items():
        for name, parts in solution_statements(cell).items():
            total = sum(size for _, size in parts)
            for (module, function), shapes in helpers.items():
                if function == name:
                    problems.append(f"{module} defines {name}, which the answer {grade_id} defines")
                shared = shared_nodes(parts, shapes)
                if shared and shared >= SHARED_SHARE * total:
                    problems.append(f"{module}: {function} re-implements {name} of the answer {grade_id} "
                                    f"({shared / total:.0%} of its solution, by shape)")
    return problems
