"""Feedback that does not leak the hidden tests.

nbgrader's feedback shows every test cell as it was graded, hidden tests
included, and tracebacks quote the failing lines. This preprocessor, run
before the HTML is made, keeps each test's name, points and error message but
drops the hidden part of its code and the tracebacks, so students cannot
collect the hidden tests for the next cohort.
"""

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
NOTICE = "# More tests ran here when your work was graded; their code is not shown.\n"


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = HIDDEN.sub(NOTICE, cell.source)
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
