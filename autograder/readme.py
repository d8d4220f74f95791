"""The README's generated sections: the units table (from source/) and the benchmarks (from their results).

Each section sits between a ``<!-- NAME:start -->`` and a ``<!-- NAME:end -->``
line of README.md, and everything else there is written by hand.
``python -m autograder.readme`` rewrites every section, and
tests/test_readme.py fails while one is stale. A new unit is a folder in
source/: it reaches the table with no edit to the README.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from course import colab

from .units import RELEASE, REPOSITORY, SOURCE, Unit, all_units

README = REPOSITORY / "README.md"
BENCHMARK_RESULTS = REPOSITORY / "benchmarks" / "results"
REFRESH_COMMAND = "python -m autograder.readme"


class ReadmeError(ValueError):
    """A README without the markers of a generated section."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def with_section(text: str, name: str, body: str) -> str:
    """``text`` with the lines between section ``name``'s markers replaced by ``body``."""
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ReadmeError(f"the README needs one {start} line and one {end} line after it")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    return f"{before}{start}\n{body}\n{end}{after}"


# --- the units table ----------------------------------------------------------


def points_text(unit: Unit) -> str:
    """``15 + 2 by hand``: autograded points, and those an instructor grades, from the notebook's metadata."""
    points = unit.points
    return f"{points.autograded:g}" + (f" + {points.by_hand:g} by hand" if points.by_hand else "")


def unit_row(unit: Unit, release: Path = RELEASE) -> list[str]:
    released = unit.released_notebook(release).is_file()
    folder = f"{'release' if released else 'source'}/{unit.name}/"
    colab_link = f"[Open in Colab]({colab.colab_url(f'release/{unit.name}/{unit.notebook.name}')})" if released else ""
    return [str(unit.number), f"[{unit.title}]({folder})", "ready" if released else "not released yet",
            points_text(unit), colab_link]


def units_table(units: list[Unit], release: Path = RELEASE) -> str:
    header = ["unit", "notebook", "status", "points", "Colab"]
    rows = [header, ["---"] * len(header)] + [unit_row(unit, release) for unit in units]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


# --- the benchmark table ------------------------------------------------------

BENCHMARK_HEADER = ["unit", "mode", "notebook time", "peak memory", "one autograded submission", "score", "data",
                    "date", "machine cores"]


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def score_text(result: dict) -> str:
    if result.get("grading_score") is None:
        return "-"
    text = f"{result['grading_score']:g} / {result['grading_max_score']:g}"
    by_hand = result.get("grading_points_by_hand")
    return f"{text} ({by_hand:g} by hand)" if by_hand else text


def data_text(result: dict) -> str:
    used = result.get("data")
    if not used:
        return "-"
    return f"{'shipped subset' if used['shipped_subset'] else used['file']}, {used['reviews']:,} reviews"


def benchmark_row(result: dict) -> list[str]:
    return [
        result["unit"], result["mode"], seconds_text(result["notebook_seconds"]),
        f"{result['notebook_peak_mib']:.0f} MiB", seconds_text(result.get("grading_seconds")),
        score_text(result), data_text(result), result["date"][:10], str(result["cpu_count"]),
    ]


def unit_results(folder: Path = BENCHMARK_RESULTS) -> list[dict]:
    """Student-mode results of the units (NN_name.json); other benchmarks keep theirs beside them."""
    return [json.loads(path.read_text()) for path in sorted(folder.glob("[0-9][0-9]_*.json"))]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def table_of_differences(header: list[str], rows: list[list[str]]) -> list[str]:
    """A table; a column (but the first) with one value in every row becomes a line below it."""
    shared = [i for i in range(1, len(header)) if len(rows) > 1 and len({row[i] for row in rows}) == 1]
    kept = [i for i in range(len(header)) if i not in shared]
    lines = table([header[i] for i in kept], [[row[i] for i in kept] for row in rows])
    if shared:
        lines += ["", "Every row: " + "; ".join(f"{header[i]} {rows[0][i]}" for i in shared) + "."]
    return lines


def benchmark_section(results: list[dict]) -> str:
    lines = table_of_differences(BENCHMARK_HEADER, [benchmark_row(result) for result in results])
    if results:  # each result records the targets it was measured against
        limits = {key: target["limit"] for key, target in results[0]["targets"].items()}
        lines += ["", f"Targets: student mode <= {limits['notebook_seconds']} s and <= {limits['notebook_peak_mib']} "
                      f"MiB peak memory; one autograded submission <= {limits['grading_seconds']} s."]
    lines.append("Measured by `python benchmarks/run_notebooks.py`.")
    return "\n".join(lines)


def figures_section(results: list[dict]) -> str:
    """A row per unit whose notebook reported figures (runtime.report), from its student-mode run."""
    rows = [f"| {result['unit']} | " + "; ".join(f"{name} {value:.3g}" for name, value in result["figures"].items())
            + " |" for result in results if result.get("figures")]
    return "\n".join(["| unit | what its student run reached |", "|---|---|"] + rows)


CHECKER_HEADER = ["unit", "one submission graded, checker off", "checker on", "peak memory off / on",
                  "calls to the student's kernel", "median call"]


def checker_section(folder: Path = BENCHMARK_RESULTS) -> str:
    """What the checker (tests in a kernel of their own) costs, per unit, from benchmarks/checker_cost.py."""
    path = folder / "checker_cost.json"
    if not path.exists():
        return "Not measured yet: run `python benchmarks/checker_cost.py`."
    result = json.loads(path.read_text())
    rows = [[row["unit"], seconds_text(row["off"]["seconds"]), seconds_text(row["on"]["seconds"]),
             f"{row['off']['peak_mib']:.0f} / {row['on']['peak_mib']:.0f} MiB", f"{row['proxy_calls']:,}",
             f"{row['proxy_median_ms']:.2f} ms"] for row in result["units"]]
    lines = table(CHECKER_HEADER, rows)
    calls = ", ".join(f"{kind} {ms:.2f} ms" for kind, ms in result["median_call_ms"].items())
    lines += ["", f"One call on its own (median): {calls}.",
              "Peak memory: the grader and both kernels together. Measured "
              f"{result['date'][:10]} on {result['cpu_count']} cores",
              "by `python benchmarks/checker_cost.py`."]
    return "\n".join(lines)


def cluster_section(folder: Path = BENCHMARK_RESULTS) -> str:
    """What 1,000 submissions of a unit cost over N machines, and the measured throughput the model starts
    from (benchmarks/cluster_grading.py; the table per unit is in benchmarks/README.md)."""
    path = folder / "cluster_grading.json"
    if not path.exists():
        return "Not measured yet: run `python benchmarks/cluster_grading.py`."
    result = json.loads(path.read_text())
    model = result["model_1000_submissions"]
    machines = list(next(iter(model.values()))["hours"])

    def spread(values) -> str:
        return f"{min(values):.1f}–{max(values):.1f} h"

    hours = ", ".join(f"{spread([row['hours'][n] for row in model.values()])} on {n}" for n in machines)
    crossover = [row["phase2_larger_from_machines"] for row in model.values()]
    rate = result["per_minute"]
    return textwrap.fill(
        f"1,000 submissions of a unit on 2-core machines: {hours}; phase 2 (one process) is "
        f"{next(iter(model.values()))['phase2_hours']:.2f} h of it, the longer part from {min(crossover)}–"
        f"{max(crossover)} machines. On one {result['cpu_count']}-core machine, {result['unit']} notebooks a minute: "
        f"plain nbgrader {rate['plain_nbgrader']}, `--workers 2` {rate['workers_2']}, a Dask cluster of 2 workers "
        f"{rate['cluster_2_workers']} ({result['cluster_overhead_per_submission_s']:+g} s each; "
        f"{result['date'][:10]}, `benchmarks/cluster_grading.py`; per unit: benchmarks/README.md).", width=115)


# --- all of them ----------------------------------------------------------------


def sections(source: Path = SOURCE, results: Path = BENCHMARK_RESULTS, release: Path = RELEASE) -> dict:
    """Every generated section of the README, by marker name, as it should read now."""
    return {"units": units_table(all_units(source), release), "benchmarks": benchmark_section(unit_results(results)),
            "figures": figures_section(unit_results(results)),
            "checker": checker_section(results), "cluster": cluster_section(results)}


def refreshed(text: str, **where: Path) -> str:
    for name, body in sections(**where).items():
        text = with_section(text, name, body)
    return text


def stale_sections(text: str, **where: Path) -> list[str]:
    """Names of the sections whose text differs from a fresh generation."""
    return [name for name, body in sections(**where).items() if with_section(text, name, body) != text]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog=REFRESH_COMMAND, description=__doc__.split("\n\n")[0]).parse_args(argv)
    text = README.read_text()
    stale = stale_sections(text)
    README.write_text(refreshed(text))
    print(f"Rewrote {', '.join(stale) or 'nothing (all up to date)'} in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
