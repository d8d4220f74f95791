"""nbgrader zip_collect plugin: file every submitted notebook under its student.

Learning platforms name downloads in their own ways (Canvas:
``doejane_12345_67890_ngrams_rnn.ipynb``, Moodle: ``Jane Doe_12345_assignsubmission_file_ngrams_rnn.ipynb``),
and students rename their notebooks (``ngrams_rnn (1).ipynb``). The student id
is what the instructor's pattern captures (by default: everything before the
first underscore, or the whole file name if there is none); the notebook is
always filed under the unit's own notebook name, so nbgrader finds it.
"""

from __future__ import annotations

import os
import re

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

DEFAULT_STUDENT_PATTERN = r"^(?P<student_id>[^_]+)_"


def student_id_from(filename: str, pattern: str = DEFAULT_STUDENT_PATTERN) -> str:
    """The student id in a submission's file name, reduced to safe characters."""
    stem = os.path.splitext(os.path.basename(filename))[0]
    match = re.search(pattern, stem)
    raw = match.group("student_id") if match else stem
    safe = re.sub(r"[^A-Za-z0-9.-]+", "-", raw).strip("-.").lower()
    if not safe:
        raise ValueError(f"no student id in the file name {filename!r}")
    return safe


class SubmissionCollector(FileNameCollectorPlugin):
    notebook_name = Unicode("", help="The unit's notebook file name.").tag(config=True)
    student_pattern = Unicode(DEFAULT_STUDENT_PATTERN, help="Regex with a student_id group.").tag(config=True)

    def collect(self, submitted_file):
        if not submitted_file.endswith(".ipynb"):
            self.log.warning("Not a notebook, skipped: %s", submitted_file)
            return None
        return {"student_id": student_id_from(submitted_file, self.student_pattern), "file_id": self.notebook_name}
