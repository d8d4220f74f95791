"""Tampering defence: a submission that fakes its tests scores zero, with the reason.

The sandbox keeps a kernel away from the hidden tests and the gradebook, but the
tests run in the student's own kernel, so a student's cell can still try to fake
a pass: swallow errors (``get_ipython().set_custom_exc``), replace builtins, patch
numpy (``np.allclose = lambda *a, **k: True``) or a test helper, trace the tests.
Independent checks, so that evading one is not enough:

1. static: every code cell the student wrote or changed is parsed, and uses of
   the hooks above, assignments into imported modules, dynamic code
   (``exec``, ``__import__``...) and rebinding of names the tests rely on are
   reported;
2. at run time: the grader adds a first and a last cell (kernel_probe.py). The
   first records the identity of every builtin and numpy function and IPython's
   error hooks; the last records them again and lists module attributes that are
   now functions written in a notebook cell. Its report travels as cell output
   to nbgrader, outside the kernel, and a missing report counts as tampering;
3. also at run time: the first cell installs an audit hook (kernel_guard.py)
   that notes every attempt to read or write the course's sources or the
   grading workspace outside the notebook's own folder, to link to them, or to
   use the network. The sandbox blocks all of these; trying is cheating all the
   same (a graded notebook needs neither), and the last cell reports it.

Any finding sets every autograded score of the notebook to zero and puts the
reason at the top of the feedback and in the scores CSV. nbgrader itself
already restores test cells, their metadata and the kernelspec from the
gradebook, and matches cells by grade_id, so deleting, editing, duplicating
or reordering test cells cannot gain points.
"""

from __future__ import annotations

import ast
import builtins
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from course import settings

from . import kernel_guard, kernel_probe
from .cells import grade_id, is_answer, is_course_code, is_test
from .sandbox import SandboxedExecute
from .units import REPOSITORY, RELEASE

METADATA_KEY = "course_integrity"
NOTICE_START = "**Scored 0 by the grader: this notebook tampered with its tests or reached for the grader's files.**"
HOOK_ATTRIBUTES = {
    "set_custom_exc", "CustomTB", "custom_exceptions", "showtraceback", "_showtraceback", "showsyntaxerror",
    "settrace", "setprofile", "excepthook", "meta_path", "path_hooks", "events", "set_hook",
    "input_transformers_post", "input_transformers_cleanup", "ast_transformers", "run_cell", "run_cell_async",
}
# Ways into the interpreter's own state: a second audit hook, frames, modules by name, closures.
INTERNALS = {"addaudithook", "_getframe", "modules", "__dict__", "__closure__", "cell_contents", "__code__"}
DYNAMIC_CODE = {"exec", "eval", "compile", "__import__", "__builtins__", "importlib", "globals", "locals", "vars"}
# The notebook's own input history holds the source of every cell that ran, hidden tests included.
HISTORY = {"In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "_dh"}
# Names the grader's own cells look up in the student's namespace.
GRADER_NAMES = {"exec", "get_ipython", "print", "__import__", "__builtins__", "json", "sys"}
# Tags with which nbclient skips a cell or ignores its error: never honoured while grading.
EXECUTION_TAGS = {"skip-execution", "raises-exception"}
NAMED_ACCESS = {"getattr", "setattr", "delattr"}
# Modules that reach the builtins, the import machinery or every live object.
INTERPRETER_MODULES = {"builtins", "importlib", "gc"}
# Builtins a student cell must not rebind when the tests use them (plain names such
# as sum or max are left alone: beginners use them as variables).
GUARDED_BUILTINS = {"isinstance", "issubclass", "abs", "all", "any", "len", "round", "float", "int", "bool",
                    "print", "repr", "type", "callable", "hasattr", "getattr"}


def run_in_kernel(module, call: str) -> str:
    """A line of a grader cell: ``module``'s source, then ``call``, run in a namespace of their own
    (the kernel cannot import autograder/, and the student's namespace stays untouched)."""
    source = f"{Path(module.__file__).read_text()}\n{call}\n"
    return f"exec({source!r}, {{}})"


def first_cell(protected: list[str]):
    """The grader's first cell: watch for attempts to reach the grader's files or the network
    (kernel_guard.py), then report the tests' world (kernel_probe.py)."""
    return nbformat.v4.new_code_cell("\n".join([
        run_in_kernel(kernel_guard, f"{kernel_guard.install.__name__}({protected!r})"),
        run_in_kernel(kernel_probe, f"print({kernel_probe.start_report.__name__}())"),
    ]))


def last_cell():
    """The grader's last cell: report the tests' world again, what was patched and what the guard saw."""
    call = f"print({kernel_probe.end_report.__name__}({kernel_guard.REPORT_EVENT!r}))"
    return nbformat.v4.new_code_cell(run_in_kernel(kernel_probe, call))


def protected_folders() -> list[str]:
    """What a notebook must not touch: the course's sources and grader, its history, every grading workspace."""
    folders = [REPOSITORY / "source", REPOSITORY / "autograder", REPOSITORY / ".git"]
    workspace = settings.grading_workspace()
    folders += [*settings.grader_folders(), *([workspace] if workspace else [])]
    return sorted({str(path) for folder in folders for path in (folder.absolute(), folder.resolve())})


def python_of(source: str) -> ast.Module | None:
    """The cell as Python (magics turned into calls; the body of a cell magic such as
    ``%%capture`` parsed too, as it runs in the kernel), or None if it does not parse."""
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None
    for node in list(ast.walk(tree)):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run_cell_magic"
                and len(node.args) == 3 and isinstance(node.args[2], ast.Constant)):
            body = python_of(str(node.args[2].value))
            tree.body += body.body if body else []
    return tree


def bindings(tree: ast.AST) -> dict[str, str]:
    """Names a cell binds at top level: 'import numpy', 'definition' (def, class) or 'assignment'."""
    bound = {}
    for node in getattr(tree, "body", []):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                origin = alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
                bound[(alias.asname or alias.name).split(".")[0]] = f"import {origin}"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound[node.name] = "definition"
        else:
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, (ast.Store, ast.Del)):
                    bound[target.id] = "assignment"
    return bound


def loaded_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


@dataclass(frozen=True)
class StudentCell:
    """What the rules know besides a cell's own code."""

    modules: set[str]  # names bound to modules, by any student cell or the course
    protected: dict[str, str]  # names the tests use, and how the course binds each


@dataclass(frozen=True)
class Rule:
    """One way a cell can fake a pass: ``finds`` returns what it found in one place of the
    cell (a node of its code, or a name it binds), each put into ``message``."""

    name: str
    finds: Callable[..., list[str]]
    message: str

    def findings(self, *place) -> list[str]:
        return [self.message.format(found) for found in self.finds(*place)]


def called_name(node: ast.AST) -> str | None:
    """``f`` for a call ``f(...)``, else None."""
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def hook_attribute(node, cell) -> list[str]:
    return [node.attr] if isinstance(node, ast.Attribute) and node.attr in HOOK_ATTRIBUTES else []


def interpreter_internals(node, cell) -> list[str]:
    return [node.attr] if isinstance(node, ast.Attribute) and node.attr in INTERNALS else []


def dynamic_code(node, cell) -> list[str]:
    return [node.id] if isinstance(node, ast.Name) and node.id in DYNAMIC_CODE else []


def input_history(node, cell) -> list[str]:
    return [node.id] if isinstance(node, ast.Name) and node.id in HISTORY else []


def computed_attribute_name(node, cell) -> list[str]:
    name = called_name(node)
    computed = name in NAMED_ACCESS and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant)
    return [name] if computed else []


def attribute_changed_by_name(node, cell) -> list[str]:
    name = called_name(node)
    if name not in NAMED_ACCESS - {"getattr"} or not node.args:
        return []
    owner = root_name(node.args[0])
    return [f"{ast.unparse(node.args[0])} with {name}"] if owner in cell.modules or owner is None else []


def interpreter_module_imported(node, cell) -> list[str]:
    if not isinstance(node, (ast.Import, ast.ImportFrom)):
        return []
    names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
    return [n for n in names if n.split(".")[0] in INTERPRETER_MODULES]


def assignment_into_a_module(node, cell) -> list[str]:
    if not isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        return []
    targets = getattr(node, "targets", None) or [node.target]
    return [ast.unparse(t) for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))
            and root_name(t) in cell.modules]


def rebinds_a_test_name(name, how, cell) -> list[str]:
    course_import = how == cell.protected.get(name) and how.startswith("import")
    return [name] if name in cell.protected and not course_import else []


def rebinds_a_grader_name(name, how, cell) -> list[str]:
    return [name] if name in GRADER_NAMES and not how.startswith(f"import {name}") else []


# Rules on each node of a cell's code: the first that finds anything speaks for the node.
NODE_RULES = (
    Rule("error hooks", hook_attribute, "uses {}, which can hide test failures"),
    Rule("interpreter internals", interpreter_internals, "uses {}, which reaches into the interpreter's own state"),
    Rule("dynamic code", dynamic_code, "uses {} (dynamic code the grader cannot check)"),
    Rule("input history", input_history, "reads {}, the notebook's input history (it holds the hidden tests)"),
    Rule("computed attribute name", computed_attribute_name,
         "uses {} with a computed name (the grader cannot check what it changes)"),
    Rule("attribute changed by name", attribute_changed_by_name, "changes {}"),
    Rule("interpreter module", interpreter_module_imported, "imports {}"),
)
# Checked on every node besides.
MODULE_CHANGED = Rule("assignment into a module", assignment_into_a_module, "changes {} in an imported module")
# Rules on each name a cell binds at top level: the first that matches speaks for the name.
BINDING_RULES = (
    Rule("a name the tests use", rebinds_a_test_name, "redefines {}, which the tests use"),
    Rule("a name the grader uses", rebinds_a_grader_name, "redefines {}, which the grader uses"),
)


def first_findings(rules: tuple[Rule, ...], *place) -> list[str]:
    return next((found for rule in rules if (found := rule.findings(*place))), [])


def cell_findings(tree: ast.Module, modules: set[str], protected: dict[str, str]) -> list[str]:
    """What one student cell does to the tests' world."""
    cell = StudentCell(modules, protected)
    found = []
    for node in ast.walk(tree):
        found += first_findings(NODE_RULES, node, cell) + MODULE_CHANGED.findings(node, cell)
    for name, how in bindings(tree).items():
        found += first_findings(BINDING_RULES, name, how, cell)
    return found


def protected_names(release, test_cells) -> dict[str, str]:
    """Modules, functions and classes the tests use that the course (not the student) provides.

    Plain variables are left out: a student trying a function on ``q = ...`` in
    an answer cell is not cheating, even if a test uses a variable named q.
    """
    used = set().union(*(loaded_names(python_of(c.source) or ast.Module([], [])) for c in test_cells))
    defined = {name: "builtin" for name in dir(builtins)
               if name in GUARDED_BUILTINS or name.endswith(("Error", "Exception"))}
    for cell in release.cells:
        if is_course_code(cell):
            defined.update(bindings(python_of(cell.source) or ast.Module([], [])))
    return {name: how for name, how in defined.items() if name in used and how != "assignment"}


def shape(statement: ast.stmt) -> str:
    """A statement with its strings left out: a course cell of an earlier release may name
    another repository or file, and still be the course's code."""
    masked = copy.deepcopy(statement)
    for node in ast.walk(masked):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(masked)


def student_part(cell, course_cells: dict) -> ast.Module | None:
    """The Python of a cell, less the statements of the course cell it came from (same id):
    an added comment or a course cell of an earlier release is not the student's code."""
    tree = python_of(cell.source)
    course = course_cells.get(cell.get("id"))
    course_tree = python_of(course.source) if course is not None else None
    if tree is None or course_tree is None:
        return tree
    known = {shape(node) for node in course_tree.body}
    tree.body = [node for node in tree.body if shape(node) not in known]
    return tree


def static_findings(notebook, release) -> list[str]:
    """'cell N: reason' for every student-written cell that tampers with the tests."""
    course = [c for c in release.cells if c.cell_type == "code" and not is_answer(c)]
    course_sources = {c.source for c in course}
    course_cells = {c.get("id"): c for c in release.cells if is_course_code(c)}
    tests = [c for c in notebook.cells if c.cell_type == "code" and is_test(c)]
    protected = protected_names(release, tests)
    student_cells = [(i, c) for i, c in enumerate(notebook.cells)
                     if c.cell_type == "code" and not is_test(c) and c.source not in course_sources]
    trees = [(i, student_part(c, course_cells)) for i, c in student_cells]
    modules = set(protected) | {n for _, t in trees if t for n, how in bindings(t).items() if how.startswith("import")}
    found = []
    for index, tree in trees:
        if tree is not None:
            found += [f"cell {index + 1}: {reason}" for reason in dict.fromkeys(cell_findings(tree, modules, protected))]
    return found


def marked_output(cell, mark: str) -> dict | None:
    """The report a grader cell printed after ``mark``; None if it is missing, unreadable
    or there twice (a second one can only come from the student's code)."""
    lines = [line for output in cell.get("outputs", []) for line in str(output.get("text", "")).splitlines()
             if line.startswith(mark)]
    try:
        return json.loads(lines[0][len(mark):]) if len(lines) == 1 else None
    except ValueError:
        return None


def runtime_findings(first, last) -> list[str]:
    """Differences between the grader's first and last cells (run inside the student's kernel)."""
    start, end = marked_output(first, kernel_probe.START_MARK), marked_output(last, kernel_probe.END_MARK)
    if start is None or end is None:
        return ["the grader's integrity check did not report (its output or the kernel was tampered with)"]
    changed = [key for key, value in start.items() if end["snapshot"].get(key) != value]
    return ([f"at run time: {key} was changed" for key in changed]
            + [f"at run time: {name} was replaced by a function written in the notebook" for name in end["patched"]]
            + [f"at run time: {attempt}" for attempt in end.get("attempts", [])])


def tests_not_run(notebook) -> list[str]:
    """Test cells the kernel never ran, although the notebook ran to its end."""
    return [f"at run time: test cell {grade_id(c)} did not run" for c in notebook.cells
            if c.cell_type == "code" and is_test(c) and c.source.strip() and c.get("execution_count") is None]


def all_or_nothing(outputs: list) -> list:
    """A test cell's outputs, less those nbgrader would grade by instead of by the test's error.

    A result or display counts as partial credit, read before the error after it, so a
    student's function that displayed a number would earn it; the course's tests never give
    partial credit. Anything on stderr counts as failure, so a correct answer that only
    warns (a RuntimeWarning from NumPy) would lose the test's points."""
    return [o for o in outputs if o.get("output_type") not in ("execute_result", "display_data")
            and not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


class CheckedExecute(SandboxedExecute):
    """Runs the notebook in the sandbox between the grader's two integrity cells."""

    def preprocess(self, nb, resources=None, km=None):
        first, last = first_cell(protected_folders()), last_cell()
        for cell in nb.cells:
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t not in EXECUTION_TAGS]
        nb.cells = [first, *nb.cells, last]
        try:
            nb, resources = super().preprocess(nb, resources, km=km)
        finally:
            nb.cells = [c for c in nb.cells if c is not first and c is not last]
        resources[METADATA_KEY] = runtime_findings(first, last) + tests_not_run(nb)
        for cell in nb.cells:
            if is_test(cell):
                cell.outputs = all_or_nothing(cell.get("outputs", []))
        return nb, resources


class RecordIntegrity(NbGraderPreprocessor):
    """After nbgrader saved the grades: zero them where tampering was found, and say why."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        release = release_notebook(info["assignment"], f"{info['notebook']}.ipynb")
        runtime = resources.get(METADATA_KEY, nb.metadata.get(METADATA_KEY, {}).get("runtime", []))
        nb.cells = [c for c in nb.cells if not c.source.startswith(NOTICE_START)]
        findings = static_findings(nb, release) + runtime
        nb.metadata[METADATA_KEY] = {"runtime": runtime, "findings": findings}
        if findings:
            self.zero_grades(info)
            reasons = "\n".join(f"- {f}" for f in findings)
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(f"{NOTICE_START}\n\n{reasons}"))
        return nb, resources

    @staticmethod
    def zero_grades(info: dict) -> None:
        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            for grade in notebook.grades:
                if not grade.needs_manual_grade:
                    grade.auto_score = 0
            gradebook.db.commit()


def release_notebook(assignment: str, notebook_name: str):
    return nbformat.read(RELEASE / assignment / notebook_name, as_version=4)


def submission_findings(notebook: Path, assignment: str) -> list[str]:
    """The static check alone, for a submission nbgrader could not finish."""
    try:
        submitted = nbformat.read(notebook, as_version=4)
    except Exception:  # unreadable: nothing to check
        return []
    return static_findings(submitted, release_notebook(assignment, notebook.name))


def findings_of(autograded_notebook) -> list[str]:
    """The tampering found in an autograded notebook, for the scores CSV."""
    return autograded_notebook.metadata.get(METADATA_KEY, {}).get("findings", [])
