"""pyproject.toml and environment.yml ask for the same packages (the course's and the tests'), and those
include every package a unit's notebook or the course helpers import."""

import ast
import importlib.metadata
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from autograder.units import all_units

from .conftest import REPOSITORY


def test_environment_yml_lists_the_same_packages_as_pyproject():
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    environment = yaml.safe_load((REPOSITORY / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    conda_packages = {line for line in pip_section if not line.startswith("-")}
    project = pyproject["project"]
    assert conda_packages == set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    assert "-e ." in pip_section, "conda users get the course package itself too"


def installed_with_the_course() -> set[str]:
    """Every distribution the installed course pulls in, its dependencies' dependencies included."""
    seen, waiting = set(), ["genlm-course"]
    while waiting:
        try:
            requirements = importlib.metadata.requires(waiting.pop()) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for requirement in map(Requirement, requirements):
            name = canonicalize_name(requirement.name)
            if (not requirement.marker or requirement.marker.evaluate({"extra": ""})) and name not in seen:
                seen.add(name)
                waiting.append(name)
    return seen


def imported_modules(sources) -> set[str]:
    """Top-level modules that ``import`` statements name (IPython's % and ! lines left out)."""
    modules = set()
    for source in sources:
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"course"}


def sources_of(unit) -> list[str]:
    """The code of a unit's notebook and of the course helpers it runs on."""
    cells = [cell.source for cell in unit.read_notebook().cells if cell.cell_type == "code"]
    return cells + [path.read_text() for path in sorted((REPOSITORY / "course").glob("*.py"))]


@pytest.mark.parametrize("unit", all_units(), ids=lambda unit: unit.name)
def test_every_package_a_unit_imports_is_installed_by_the_course(unit):
    """A unit's dependencies are found in its code: a new one must reach pyproject.toml (and environment.yml)."""
    providers = importlib.metadata.packages_distributions()
    installed = installed_with_the_course()
    missing = [module for module in sorted(imported_modules(sources_of(unit)))
               if not {canonicalize_name(d) for d in providers.get(module, [module])} & installed]
    assert missing == [], f"{unit.name} imports {missing}: add them to pyproject.toml and environment.yml"


def test_imports_are_read_from_notebook_code():
    cell = "%matplotlib inline\nimport numpy as np\nfrom os import path\nfrom course import runtime\nimport diffusers.models"
    assert imported_modules([cell]) == {"numpy", "diffusers"}
    assert "numpy" in installed_with_the_course() and "diffusers" not in installed_with_the_course()
