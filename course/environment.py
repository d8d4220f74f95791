"""The environment check every notebook runs first: packages, data, hardware.

It prints one line per item and a last line that says either OK or what to do,
so a student with a broken install knows before the first exercise fails.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform

from . import data


def _package_line(name: str) -> tuple[bool, str]:
    try:
        importlib.import_module(name)
        return True, f"OK    {name} {importlib.metadata.version(name)}"
    except Exception as error:  # an import can fail in many ways; all mean "broken"
        return False, f"FAIL  {name}: {type(error).__name__}: {error}"


def _data_line() -> tuple[bool, str]:
    try:
        path = data.find_reviews_file()
    except data.DataNotFoundError:
        return False, f"FAIL  Wine Reviews data: none in {data.data_dir() / data.DATASET_FOLDER}"
    return True, f"OK    Wine Reviews data: {path}"


def _hardware_line() -> str:
    gpu = "no GPU (fine: the course runs on a CPU)"
    if os.path.exists("/proc/driver/nvidia/version"):
        gpu = "an NVIDIA GPU is present"
    return f"INFO  Python {platform.python_version()}, {os.cpu_count()} CPU cores, {gpu}"


def check(packages: list[str], needs_data: bool = True) -> bool:
    """Print the state of each package (and the data); return True when all is well."""
    results = [_package_line(name) for name in packages]
    if needs_data:
        results.append(_data_line())
    for _, line in results:
        print(line)
    print(_hardware_line())
    if all(ok for ok, _ in results):
        print("Environment OK.")
        return True
    print(
        "Something is missing. Run the set-up command from the README again "
        "(`./open-course.sh`), or on Colab run the first cell of the notebook; "
        "for data, run `course-data download`."
    )
    return False
