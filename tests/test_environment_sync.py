"""pyproject.toml and environment.yml must ask for the same packages (the course's and the tests')."""

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import yaml

from .conftest import REPOSITORY


def test_environment_yml_lists_the_same_packages_as_pyproject():
    pyproject = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    environment = yaml.safe_load((REPOSITORY / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    conda_packages = {line for line in pip_section if not line.startswith("-")}
    project = pyproject["project"]
    assert conda_packages == set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    assert "-e ." in pip_section, "conda users get the course package itself too"
