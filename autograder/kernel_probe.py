"""Inside a student's kernel: the grader's first and last cells record the world the tests rely on.

The first cell prints ``start_report()``: the identity of every builtin and
NumPy function and of IPython's error hooks. The last cell prints
``end_report(...)``: the same again, the module attributes that are now
functions written in a notebook cell, and what the kernel guard
(kernel_guard.py) saw. nbgrader, outside the kernel, compares the two
(integrity.runtime_findings).

The kernel cannot import this package (the sandbox hides autograder/), so the
grader reads this file and runs its source in a namespace of its own, apart
from the student's: it must need nothing but the standard library, NumPy and
IPython.
"""

import json
import sys
import types

START_MARK = "COURSE-INTEGRITY-START "
END_MARK = "COURSE-INTEGRITY-END "


def snapshot() -> dict:
    """What the tests rely on, by name: builtins, numpy and numpy.testing, IPython's hooks, tracing."""
    import builtins

    import numpy
    import numpy.testing
    from IPython.core.interactiveshell import ExecutionResult

    ipython = sys.modules["IPython"].get_ipython()
    # ipykernel itself replaces input() for every cell
    found = {f"builtins.{k}": id(v) for k, v in vars(builtins).items() if not k.startswith("_") and k != "input"}
    for module in (numpy, numpy.testing):
        found.update({f"{module.__name__}.{k}": id(v) for k, v in vars(module).items() if callable(v)})
    found["ipython custom exceptions"] = repr(ipython.custom_exceptions)
    found["ipython showtraceback"] = "showtraceback" in vars(ipython)
    for cls in (*type(ipython).__mro__, ExecutionResult):
        found.update({f"ipython {cls.__name__}.{k}": id(v) for k, v in vars(cls).items() if not k.startswith("__")})
    found["sys.settrace"] = repr(sys.gettrace())
    found["sys.setprofile"] = repr(sys.getprofile())
    return found


def written_in_a_cell(value) -> bool:
    if type(value) is types.MethodType:
        value = value.__func__
    if type(value) is not types.FunctionType:
        return False
    name = value.__code__.co_filename
    return "ipykernel_" in name or name.startswith("<ipython-input")


def patched_modules() -> list[str]:
    """'module.name' for every module attribute (outside the notebook's own) that a cell wrote."""
    main = sys.modules["__main__"]
    return sorted(f"{m}.{k}" for m, module in list(sys.modules.items()) if module is not main
                  for k, v in list(getattr(module, "__dict__", {}).items()) if written_in_a_cell(v))


def attempts(report_event: str) -> list[str]:
    """What the kernel guard noted: it answers ``report_event`` (kernel_guard.REPORT_EVENT)."""
    box = []
    sys.audit(report_event, box)
    return box


def start_report() -> str:
    return START_MARK + json.dumps(snapshot())


def end_report(report_event: str) -> str:
    return END_MARK + json.dumps({"snapshot": snapshot(), "patched": patched_modules(),
                                  "attempts": attempts(report_event)})
