"""Feedback that does not leak the hidden tests.

nbgrader's feedback shows every test cell as it was graded, hidden tests
included, and tracebacks quote the failing lines. This preprocessor, run
before the HTML is made, keeps each test's name, points and error message but
drops the hidden part of its code, the tracebacks and whatever else a test cell
printed. A student's own code can print the tests' source too (IPython keeps
it in ``In``), so every line of hidden test code is also taken out of every
output of the notebook. Script in a student's markdown or HTML output is
escaped: the page must not run it in the student's or an instructor's browser.
"""

import bleach

from nbgrader.preprocessors import NbGraderPreprocessor

from .cells import HIDDEN_BLOCK, is_test

NOTICE = "# More tests ran here when your work was graded; their code is not shown.\n"
REMOVED = "[a line of hidden test code, removed from the feedback]"
MIN_SECRET = 12  # shorter lines ("pass", "else:") tell nothing and would blank ordinary output
MAX_MESSAGE = 500


def hidden_lines(notebook) -> set[str]:
    return {line.strip() for cell in notebook.cells if is_test(cell)
            for region in HIDDEN_BLOCK.findall(cell.source) for line in region.splitlines()
            if len(line.strip()) >= MIN_SECRET}


def scrub(text: str, secrets: set[str]) -> str:
    if not secrets:
        return text
    return "".join(REMOVED + "\n" if any(s in line for s in secrets) else line for line in text.splitlines(True))


SAFE_TAGS = bleach.sanitizer.ALLOWED_TAGS | {"p", "br", "pre", "code", "div", "span", "table", "thead", "tbody", "tr",
                                             "th", "td", "h1", "h2", "h3", "h4", "img", "sub", "sup", "details", "summary"}


def harmless(html: str) -> str:
    """HTML with everything but plain formatting tags escaped (bleach's defaults and a few more)."""
    return bleach.clean(html, tags=SAFE_TAGS, attributes={"a": ["href", "title"], "img": ["src", "alt"]})


def scrub_output(output, secrets: set[str]) -> None:
    if "text" in output:
        output.text = scrub(output.text, secrets)
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/"):
            output.data[mime] = scrub(value, secrets)
        if mime in ("text/html", "image/svg+xml", "application/javascript"):
            output.data[mime] = harmless(output.data[mime])
    if output.get("output_type") == "error":
        output.evalue = scrub(str(output.evalue), secrets)[:MAX_MESSAGE]
        output.traceback = [scrub(line, secrets) for line in output.traceback]


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        secrets = hidden_lines(nb)
        for cell in nb.cells:
            test = is_test(cell)
            if cell.cell_type == "markdown":
                cell.source = harmless(cell.source)
            if test:
                cell.source = HIDDEN_BLOCK.sub(NOTICE, cell.source)
                cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            for output in cell.get("outputs", []):
                scrub_output(output, secrets)
                if test:  # a test's traceback quotes its (hidden) lines: the message is enough
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return nb, resources
