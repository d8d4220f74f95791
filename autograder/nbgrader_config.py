"""nbgrader settings for this course.

nbgrader reads this file when it runs from this folder, which is what
`course-grader` does (and what an instructor does to open the formgrader:
`cd autograder && jupyter lab`).

`source/` and `release/` live in the repository; everything a grading run
writes (submissions, autograded copies, feedback, the gradebook) lives in a
workspace outside version control: `$COURSE_GRADING_WORKSPACE`, by default
`grading/` at the top of the repository.
"""

from nbgrader.converters import GenerateAssignment

from autograder import cells
from autograder.units import RELEASE, SOURCE
from autograder.workspace import COURSE_ID, Workspace
from course import settings

WORKSPACE = Workspace.from_settings()

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.course_id = COURSE_ID
c.CourseDirectory.root = str(WORKSPACE.root)
# Absolute paths: nbgrader joins them onto the root unchanged.
c.CourseDirectory.source_directory = str(SOURCE)
c.CourseDirectory.release_directory = str(settings.release_directory() or RELEASE)
# The gradebook: SQLite in the workspace, or any database nbgrader takes (COURSE_GRADEBOOK_URL,
# e.g. postgresql://user@host/course for several instructors at once).
c.CourseDirectory.db_url = WORKSPACE.gradebook_url
# Test-only files beside a unit's notebook (its mutants) never reach students.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "mutants.py"]

# Every student notebook starts with the Colab set-up cell (autograder/setup_cell.py); source/ does not hold it.
c.GenerateAssignment.preprocessors = [
    "autograder.setup_cell.AddSetupCell", *GenerateAssignment.class_traits()["preprocessors"].default()
]

# What an unanswered exercise does: fail loudly, and say what to do.
c.ClearSolutions.code_stub = {"python": cells.CODE_STUB}
c.ClearSolutions.text_stub = cells.TEXT_STUB

# Grading must be quick: a cell that runs longer than this is stopped and scores zero
# (COURSE_CELL_TIMEOUT overrides it; the adversarial tests use a short one).
c.Execute.timeout = settings.cell_timeout()
c.Execute.interrupt_on_timeout = True
# After a cell's reply, its last output may lag on a busy machine: wait for it
# rather than abandon the whole submission (nbclient's default is 4 s).
c.Execute.iopub_timeout = 30
# Submissions run in a sandboxed kernel (autograder/sandbox.py): no network, a
# read-only view of the course without source/ or the gradebook, resource limits.
# A notebook that tampers with its tests scores zero (autograder/integrity.py).
c.Autograde.autograde_preprocessors = [
    "autograder.integrity.CheckedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.output_limits.LimitCharacters",
    "nbgrader.preprocessors.SaveAutoGrades",
    "autograder.integrity.RecordIntegrity",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# The integrity verdict of an executed notebook must survive until its grades are recorded.
c.ClearMetadataPreprocessor.preserve_nb_metadata_mask = {("language_info", "name"), ("course_integrity",)}
# Keep feedback readable when a submission prints without end.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50

# TensorFlow and absl write start-up noise to stderr; drop it from graded output.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (
    r"(oneDNN custom operations|cuda_(dnn|fft|blas)|Unable to register|"
    r"TF-TRT Warning|computation_placer|AVX2 FMA|E0000 |W0000 |I0000 |absl::InitializeLog)"
)

# Feedback keeps test names, points and messages but not the hidden tests' code
# (set COURSE_FEEDBACK_SHOWS_HIDDEN_TESTS=1 to get nbgrader's full feedback).
if not settings.feedback_shows_hidden_tests():
    c.GenerateFeedback.preprocessors = [
        "nbgrader.preprocessors.GetGrades",
        "autograder.feedback.HideHiddenTests",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    ]
