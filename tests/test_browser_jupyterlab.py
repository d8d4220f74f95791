"""A student's session in a real browser: JupyterLab, started with the flags of
`./open-course.sh --headless`, in headless Debian Chromium driven by Playwright.

For each unit tested, the notebook is run from the browser as a student who has
done the exercises; then a control of each widget is moved (the temperature
slider, else the first slider, else a drop-down) and what the widget shows must
change. Unit 4 is tested (its sampling explorer: raising the temperature must
lower the top probability it lists and write another review; its generation inspector); without Unit 4,
Unit 3's attention inspector and Unit 1's temperature slider. The nbgrader extensions must load
and work: the Validate button validates, the assignment list lists the unit
released to an exchange. No page may log an error. Screenshots go to
test-artifacts/browser/.

JupyterLab serves a copy of release/ in which the tested units' answer cells
hold the reference answers: unanswered exercises raise "not done yet", and the
widget cells come after them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from autograder.units import RELEASE, all_units
from course import settings

from . import notebooks as nb
from .conftest import REPOSITORY
from .test_open_course import free_port

CHROMIUM = settings.chromium()
# Chromium on a machine with no route out: no background traffic, no first-run work.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPOSITORY / "test-artifacts" / "browser"
TOKEN = "course-browser-test"
COURSE_ID = "genlm-course"
NOTEBOOK_RUN_MS = 400_000
WIDGET_UPDATE_MS = 60_000

# One JupyterLab and one browser for the whole module: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("browser")


def headless_jupyter_flags(script: Path = REPOSITORY / "open-course.sh") -> list[str]:
    """The flags `./open-course.sh --headless` gives JupyterLab, read from the script itself."""
    text = script.read_text()
    headless = re.search(r"--headless\)\s*jupyter_args\+=\(([^)]*)\)", text)
    serves_release = re.search(r'jupyter lab --notebook-dir="\$COURSE_ROOT/release"', text)
    if not (headless and serves_release):
        raise AssertionError("open-course.sh no longer runs `jupyter lab --notebook-dir=\"$COURSE_ROOT/release\"` "
                             "with a `--headless) jupyter_args+=(...)` case: update headless_jupyter_flags()")
    flags = headless.group(1).split()
    if os.geteuid() == 0 and 'jupyter_args+=(--allow-root)' in text:
        flags.append("--allow-root")
    return flags


def units_in_browser():
    """Unit 4 once it exists; until then Unit 3's widgets and Unit 1's temperature slider."""
    units = {unit.number: unit for unit in all_units()}
    return [units[4]] if 4 in units else [units[3], units[1]]


def widget_cells(notebook) -> list[int]:
    """Indices of the code cells that build a course widget (``widgets.something(...)``); each must display it."""
    return [i for i, cell in enumerate(notebook.cells)
            if cell.cell_type == "code" and re.search(r"\bwidgets\.\w+\(", cell.source)]


def test_headless_flags_are_read_from_open_course_sh():
    """The browser test starts JupyterLab with these flags: local only, no browser of its own."""
    flags = headless_jupyter_flags()
    assert "--no-browser" in flags and "--ip=127.0.0.1" in flags, flags


def test_every_browser_unit_has_widget_cells():
    for unit in units_in_browser():
        assert widget_cells(nb.read(unit.notebook)), f"{unit.name} shows no widget: nothing to test in a browser"


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    """A copy of release/ in which the tested units' exercises are answered."""
    root = tmp_path_factory.mktemp("lab") / "release"
    shutil.copytree(RELEASE, root)
    for unit in units_in_browser():
        released = root / unit.name / unit.notebook.name
        nbformat.write(nb.completed_release(nb.read(unit.notebook), nb.read(released)), released)
    return root


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """An nbgrader exchange into which the instructor released the newest unit (JupyterHub's set-up)."""
    root = tmp_path_factory.mktemp("exchange")
    unit = units_in_browser()[0]
    process = subprocess.run(
        [sys.executable, "-m", "nbgrader", "release_assignment", unit.name, f"--Exchange.root={root}"],
        cwd=REPOSITORY / "autograder", capture_output=True, text=True, timeout=120,
        env=dict(os.environ, COURSE_GRADING_WORKSPACE=str(tmp_path_factory.mktemp("grading"))),
    )
    assert process.returncode == 0, process.stderr[-2000:]
    return root


@pytest.fixture(scope="module")
def jupyter_lab(lab_root, exchange, tmp_path_factory):
    """JupyterLab on ``lab_root`` with open-course.sh's headless flags; yields its base URL."""
    state = tmp_path_factory.mktemp("jupyter-state")
    news = state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')  # no "fetch Jupyter news?" pop-up over the screenshots
    (state / "config").mkdir()
    (state / "config" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n"
    )
    port = free_port()
    command = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={lab_root}", *headless_jupyter_flags(),
               f"--port={port}", f"--IdentityProvider.token={TOKEN}"]
    environment = dict(os.environ, COURSE_MODE="fast", JUPYTER_CONFIG_DIR=str(state / "config"),
                       JUPYTER_RUNTIME_DIR=str(state / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(state / "ws"),
                       JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
                       PYTHONPATH=os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])))
    log_path = state / "jupyter.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=lab_root, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{base}/api/status?token={TOKEN}", server, log_path)
            yield base
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def wait_for_http(url: str, server: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"JupyterLab exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer {url} in {seconds} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium with a fresh profile (Playwright never downloads a browser here)."""
    if not CHROMIUM.exists():
        if settings.no_browser():  # set by run-tests.sh where apt-get cannot install it
            pytest.skip(settings.no_browser())
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (`apt-get install chromium`; "
                    "run-tests.sh does this as root) or set COURSE_CHROMIUM to a Chromium binary")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


class ConsoleLog:
    """Errors a page reports: console.error messages and uncaught exceptions."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def open_notebook(browser, base: str, unit):
    page = browser.new_page()
    console = ConsoleLog(page)
    page.goto(f"{base}/lab/tree/{unit.name}/{unit.notebook.name}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    accept_kernel_choice(page)
    page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=60_000)
    return page, console


def accept_kernel_choice(page, seconds: float = 10) -> None:
    """JupyterLab sometimes asks which kernel to start (seen on a busy machine): take the one it offers."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        dialog.wait_for(timeout=seconds * 1000)
    except PlaywrightTimeout:
        return
    dialog.get_by_role("button", name="Select", exact=True).click()
    dialog.wait_for(state="detached")


def contents(base: str, path: str, with_content: bool) -> dict:
    """The server's contents API entry for ``path``. While JupyterLab saves the file the server may
    answer 400 (it read a half-written notebook): then ask again."""
    query = f"token={TOKEN}&content={int(with_content)}"
    for attempt in range(10):
        try:
            with urllib.request.urlopen(f"{base}/api/contents/{path}?{query}", timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code != 400 or attempt == 9:
                raise
            time.sleep(0.5)


def save_and_read(page, base: str, path: str):
    """Press Ctrl+S, wait until the server has written the file, and return the saved notebook."""
    before = contents(base, path, with_content=False)["last_modified"]
    started = time.monotonic()
    for _ in range(6):  # a busy page can drop a key press: press again every 10 s, for 60 s in all
        page.keyboard.press("Control+s")
        press_deadline = time.monotonic() + 10
        while contents(base, path, with_content=False)["last_modified"] == before and time.monotonic() < press_deadline:
            page.wait_for_timeout(250)
        if contents(base, path, with_content=False)["last_modified"] != before:
            break
    else:
        raise AssertionError(f"Ctrl+S did not save {path} within {time.monotonic() - started:.0f} s")
    return nbformat.from_dict(contents(base, path, with_content=True)["content"])


def run_all_cells_and_save(page, base: str, path: str):
    """Run > Run All Cells; save every few seconds until the last code cell has run and the kernel is idle."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.monotonic() + NOTEBOOK_RUN_MS / 1000
    while time.monotonic() < deadline:
        page.wait_for_timeout(3000)
        notebook = save_and_read(page, base, path)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        if code[-1].execution_count or nb.errors_in(notebook):
            page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=NOTEBOOK_RUN_MS)
            return save_and_read(page, base, path)
    name = f"{Path(path).parent.name}-run-all-stalled"
    screenshot(page, name)
    raise AssertionError(f"{path} did not run to its last code cell within {NOTEBOOK_RUN_MS // 1000} s; "
                         f"see test-artifacts/browser/{name}.png")


def widget_panel(page, cell_index: int):
    """The widget a cell of the notebook on screen displays, scrolled into view (JupyterLab skips drawing
    cells out of view; other notebooks' tabs stay in the page, hidden)."""
    cell = page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell").nth(cell_index)
    cell.scroll_into_view_if_needed()
    panel = cell.locator(".jp-OutputArea-output .jupyter-widgets").first
    panel.wait_for(timeout=WIDGET_UPDATE_MS)
    panel.scroll_into_view_if_needed()
    return panel


def shown(panel) -> str:
    """What the widget displays, leaving out its controls: its HTML panes and its pictures."""
    texts = [pane.inner_text() for pane in panel.locator(".widget-html-content, .widget-output").all()]
    pictures = [img.get_attribute("src") or "" for img in panel.locator("img").all()]
    return "\n".join(texts + pictures)


def move_slider(panel) -> None:
    """Move the temperature slider (else the first slider) five steps right with the keyboard, as a user can,
    then press the panel's button if it has one (a text generator samples on Generate)."""
    sliders = panel.locator(".widget-slider")
    temperature = sliders.filter(has_text="temperature")
    slider = (temperature if temperature.count() else sliders).first
    readout = slider.locator(".widget-readout")
    before = readout.inner_text()
    slider.locator(".noUi-handle").click()
    for _ in range(5):
        slider.locator(".noUi-handle").press("ArrowRight")
    assert readout.inner_text() != before, f"the slider stayed at {before}"
    if panel.locator("button").count():
        panel.locator("button").first.click()


def pick_another_option(panel) -> None:
    """Choose another entry in the widget's last drop-down (the finest control, e.g. the query word)."""
    select = panel.locator("select").last
    options = select.locator("option").all()
    current = select.input_value()
    select.select_option(next(o.get_attribute("value") for o in options if o.get_attribute("value") != current))


def shown_distribution(panel) -> list[float] | None:
    """The next-word probabilities a sampling widget lists, or None for other widgets."""
    cells = panel.locator(".course-distribution td.probability")
    return [float(text) for text in cells.all_inner_texts()] if cells.count() else None


def sample_text(panel) -> str:
    return "\n".join(panel.locator(".course-sample").all_inner_texts())


def wait_until_changed(page, panel, before: str) -> str:
    deadline = time.monotonic() + WIDGET_UPDATE_MS / 1000
    while time.monotonic() < deadline:
        after = shown(panel)
        if after != before:
            return after
        page.wait_for_timeout(250)
    raise AssertionError("the widget's display did not change after its control was moved")


@pytest.mark.slow
@pytest.mark.parametrize("unit", units_in_browser(), ids=lambda unit: unit.name)
def test_widgets_respond_in_the_browser(jupyter_lab, browser, unit):
    page, console = open_notebook(browser, jupyter_lab, unit)
    executed = run_all_cells_and_save(page, jupyter_lab, f"{unit.name}/{unit.notebook.name}")
    assert nb.errors_in(executed) == []
    unrun = [i for i, c in enumerate(executed.cells) if c.cell_type == "code" and not c.execution_count]
    assert unrun == [], f"cells {unrun} did not run from the browser"

    for number, index in enumerate(widget_cells(executed)):
        panel = widget_panel(page, index)
        before, distribution, text = shown(panel), shown_distribution(panel), sample_text(panel)
        assert before.strip(), f"cell {index}'s widget displays nothing"
        screenshot(page, f"{unit.name}-widget{number}-before")
        if panel.locator(".widget-slider").count():
            move_slider(panel)
        else:
            pick_another_option(panel)
        wait_until_changed(page, panel, before)
        page.wait_for_selector("#jp-main-statusbar >> text=Idle", timeout=WIDGET_UPDATE_MS)  # the last redraw
        screenshot(page, f"{unit.name}-widget{number}-after")
        if distribution is not None:  # a hotter temperature flattens the distribution and writes another text
            assert max(shown_distribution(panel)) < max(distribution), (distribution, shown_distribution(panel))
            assert sample_text(panel) != text, "the review was not written again at the new temperature"
    assert console.errors == []
    page.close()


@pytest.mark.slow
def test_nbgrader_extensions_load_and_work(jupyter_lab, browser, exchange):
    unit = units_in_browser()[0]
    page, console = open_notebook(browser, jupyter_lab, unit)
    page.locator(".jp-NotebookPanel-toolbar:visible").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=NOTEBOOK_RUN_MS)
    dialog.get_by_text("Validation Results").wait_for()
    screenshot(page, "nbgrader-validate")
    assert "Success! Your notebook passes all the tests." in dialog.inner_text()
    dialog.get_by_role("button", name="Ok").click()

    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    assignments = page.locator(".jp-MainAreaWidget:visible")
    try:  # the unit's folder is in the student's home, so nbgrader lists it as downloaded
        fetched = assignments.locator(".list_item", has_text=unit.name)
        fetched.get_by_role("button", name="Submit").click(timeout=30_000)
        assignments.locator("#submitted_assignments_list").get_by_text(unit.name).wait_for(timeout=30_000)
    finally:
        screenshot(page, "nbgrader-assignment-list")
    assert COURSE_ID in assignments.inner_text() and "Error" not in assignments.inner_text()
    inbound = exchange / COURSE_ID / "inbound"
    deadline = time.monotonic() + 30  # the list can show the submission a moment before its copy lands
    while not list(inbound.glob(f"*+{unit.name}+*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert list(inbound.glob(f"*+{unit.name}+*")), "the submission reached the exchange"
    assert console.errors == []
    page.close()
