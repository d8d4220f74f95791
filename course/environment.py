"""The environment check every notebook runs first: packages, data, models, hardware.

It prints one line per item and a last line that says either OK or what to do,
so a student with a broken install knows before the first exercise fails. It
also says which data and which pretrained models the notebook uses.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import platform

from . import data

COURSE_DISTRIBUTION = "genlm-course"


@functools.lru_cache(maxsize=1)
def course_requirements() -> dict:
    """The version ranges the course asks for, by distribution name (empty if the course is not installed)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    try:
        lines = importlib.metadata.requires(COURSE_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    requirements = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in requirements if not r.marker or r.marker.evaluate({"extra": ""})}


def _distribution_of(module: str) -> str:
    """The installed distribution that provides ``module`` (tensorflow may come from tensorflow-cpu)."""
    return (importlib.metadata.packages_distributions().get(module) or [module])[0]


def _package_line(name: str) -> tuple[bool, str]:
    try:
        importlib.import_module(name)
    except Exception as error:  # an import can fail in many ways; all mean "broken"
        return False, f"FAIL  {name}: {type(error).__name__}: {error}"
    from packaging.utils import canonicalize_name

    distribution = _distribution_of(name)
    version = importlib.metadata.version(distribution)
    requirement = course_requirements().get(canonicalize_name(distribution))
    if requirement and not requirement.specifier.contains(version, prereleases=True):
        return True, f"WARN  {name} {version}: the course is tested with {requirement.specifier}; it may still work"
    return True, f"OK    {name} {version}"


def _data_line() -> tuple[bool, str]:
    try:
        path = data.find_reviews_file()
    except data.DataNotFoundError:
        return False, f"FAIL  Wine Reviews data: none in {data.data_dir() / data.DATASET_FOLDER}, and no shipped subset"
    return True, f"OK    data: Wine Reviews, {data.review_count(path):,} reviews, {data.describe(path)}: {path}"


def _model_line(repo_id: str) -> tuple[bool, str]:
    """Whether a pretrained model's files are here (in a package or the Hugging Face cache), and if not, why."""
    from . import models

    if isinstance(models.listed(repo_id), models.PackagedModel):
        try:
            folder = models.packaged_folder(repo_id)
        except models.PackagedModelError as error:
            return False, f"FAIL  model: {error}"
        return True, f"OK    model: {repo_id} (shipped in a package; weights match the upstream sha256): {folder}"
    if not models.is_cached(models.find(repo_id)):
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            return False, f"FAIL  model: {repo_id} is not in the cache and HF_HUB_OFFLINE=1 forbids downloading it"
        return True, f"INFO  model: {repo_id} (downloads on first use; `course-data prefetch --models` fetches it now)"
    return True, f"OK    model: {repo_id} (in the local cache)"


def _hardware_line() -> str:
    gpu = "no GPU (fine: the course runs on a CPU)"
    if os.path.exists("/proc/driver/nvidia/version"):
        gpu = "an NVIDIA GPU is present"
    return f"INFO  Python {platform.python_version()}, {os.cpu_count()} CPU cores, {gpu}"


def check(packages: list[str], needs_data: bool = True, models: tuple[str, ...] = ()) -> bool:
    """Print the state of each package, the data and the pretrained models; return True when all is well.

    ``models`` are Hugging Face ids from course.models.PRETRAINED, or names from course.models.PACKAGED,
    that the notebook loads.
    """
    results = [_package_line(name) for name in packages]
    results.append(_data_line() if needs_data else (True, "INFO  data: this notebook uses no dataset"))
    results += [_model_line(repo_id) for repo_id in models]
    if not models:
        results.append((True, "INFO  models: none pretrained; this notebook trains its own"))
    for _, line in results:
        print(line)
    print(_hardware_line())
    if all(ok for ok, _ in results):
        print("Environment OK.")
        return True
    print(
        "Something is missing. Install the course's packages again the way you first did (`./open-course.sh` "
        "in the course's folder, or `pip install -e .` in the student notebooks' folder); on Colab, run the "
        "notebook's first cell; for a pretrained model, `course-data prefetch --models`."
    )
    return False
