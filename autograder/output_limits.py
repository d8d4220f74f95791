"""A bound on what one submission's outputs may weigh in its graded notebook and feedback.

nbgrader's LimitOutput counts lines; one printed line of 100 MB is still one line.
"""

from nbgrader.preprocessors import NbGraderPreprocessor

MAX_TEXT = 100_000  # characters of one text output
MAX_DATA = 5_000_000  # characters of one rich output (a plot's base64 is about 50,000)


def cut(value, limit: int):
    """Text cut to ``limit`` characters, with a note; anything else (a JSON output) as it is."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"\n... (cut by the grader: this output was {len(value):,} characters long)\n"
    return value


class LimitCharacters(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text = cut(output.text, MAX_TEXT)
            if output.get("output_type") == "error":
                output.evalue = cut(str(output.evalue), MAX_TEXT)
            for mime, value in output.get("data", {}).items():
                output.data[mime] = cut(value, MAX_TEXT if mime == "text/plain" else MAX_DATA)
        return cell, resources
