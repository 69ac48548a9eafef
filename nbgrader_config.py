"""nbgrader configuration for the course "Jacobians in deep learning".

The directory holding this file IS the course root: `source/`, `release/`, `submitted/`,
`autograded/`, `feedback/` and the gradebook all live beside it. Copy the whole repository
(or `git clone` it) to start a new offering; nothing here names an absolute path.

Environment overrides (all optional):

    NBGRADER_DB_URL         gradebook database URL. Default: SQLite file `gradebook.db` in the
                            course root. For PostgreSQL use e.g.
                            postgresql://grader:secret@db.example.org:5432/jacobians
                            (the driver is the `[postgres]` extra, installed by `make setup`).
    NBGRADER_EXCHANGE_ROOT  the exchange directory through which assignments are released,
                            submitted and returned. Default: `<course root>/exchange`, so one
                            instructor on one machine needs no shared /srv path. On a
                            JupyterHub point it at a directory every user can reach
                            (nbgrader's usual choice is /srv/nbgrader/exchange).
    NBGRADER_COURSE_ID      the course id students fetch from (default: jacobians-dl).
    NBGRADER_CELL_TIMEOUT   seconds one cell may run during autograde (default: 120).
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

# --- the course -------------------------------------------------------------------------
c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "jacobians-dl")
c.CourseDirectory.root = COURSE_ROOT

# --- the gradebook ------------------------------------------------------------------------
# SQLite in the course root unless NBGRADER_DB_URL says otherwise (see the docstring).
c.CourseDirectory.db_url = os.environ.get(
    "NBGRADER_DB_URL", "sqlite:///" + os.path.join(COURSE_ROOT, "gradebook.db")
)

# --- the exchange -------------------------------------------------------------------------
# Course-local by default; nbgrader creates the directory (mode 0777) on first release.
c.Exchange.root = os.environ.get(
    "NBGRADER_EXCHANGE_ROOT", os.path.join(COURSE_ROOT, "exchange")
)

# --- collecting ---------------------------------------------------------------------------
# Every student can write to the exchange's inbound folder: collect folders and regular files
# only, never following a link or opening a pipe or device (autograder/hooks/collect.py).
c.ExchangeFactory.collect = "autograder.hooks.collect.RegularFilesCollect"

# --- execution (validate, autograde) ------------------------------------------------------
# Seconds one cell may run before it is interrupted and marked as timed out, in validate and
# in the routed autograde alike (SandboxedExecute is an Execute; its other limits are in the
# README's Limits table); the hidden probes of relu_vjp use vectors of 10**7 entries, so
# leave headroom above a few seconds.
c.Execute.timeout = int(os.environ.get("NBGRADER_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True
# Seconds to wait for a kernel (with torch) to start.
c.Execute.startup_timeout = 120

# --- what students get in place of the solutions ---------------------------------------------
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# --- what students' own checks need -----------------------------------------------------------
# generate_assignment writes release/<assignment>/visible_checks.pickle beside the notebooks:
# each visible probe with the answer the reference gives on it, computed here, and the rules;
# never a hidden probe, a hint or a reference's code. A student's `check(...)` reads it
# wherever the released notebooks are (autograder/hooks/release.py, autograder/course/visible.py).
from autograder.hooks.release import release_visible_checks  # noqa: E402

release_visible_checks(c)

# --- late work ------------------------------------------------------------------------------
# A notebook handed in after the student's own due date (the assignment's, plus any extension
# from `autograder extend`) loses 10 % of its score per started day late, at most 50 %.
# Submissions whose timestamp.txt is missing or unreadable are graded as on time and flagged.
# See autograder/hooks/lateness.py; `penalty_method = "zero"` on LateSubmissionPlugin is nbgrader's own.
c.AssignLatePenalties.plugin_class = "autograder.hooks.lateness.PerDayLatePenalty"
c.PerDayLatePenalty.percent_per_day = 10.0
c.PerDayLatePenalty.max_percent = 50.0
# nbgrader's own commands follow the same rule for a missing or unreadable timestamp.txt
from autograder.hooks.lateness import apply_timestamp_rule_to_nbgrader  # noqa: E402

apply_timestamp_rule_to_nbgrader()

# --- feedback -------------------------------------------------------------------------------
# The HTML feedback returned to students. ClearHiddenTests hides the content of the hidden
# tests (nbgrader >= 0.8; the hardened path below replaces the test cells wholesale).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.hooks.feedback.MarkUngraded",         # written answers not graded yet say so
    "autograder.hooks.lateness.ExplainLatePenalty",   # how much was deducted for lateness, and why
    "autograder.hooks.feedback.RenderMath",           # the math as MathML: no MathJax, no network
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearHiddenTests",
]
# The page is nbgrader's with our template (autograder/hooks/templates/autograder_feedback). Set
# on an exporter class of our own, not on HTMLExporter: the Formgrader would render its grading
# pages with an HTMLExporter setting of this file, and its "Generate Feedback" button sets
# HTMLExporter.template_name back to nbgrader's; a subclass's section wins over that.
from autograder.hooks import feedback  # noqa: E402

c.GenerateFeedback.exporter_class = feedback.FeedbackExporter
c.FeedbackExporter.template_name = feedback.TEMPLATE_NAME
c.FeedbackExporter.extra_template_basedirs = [feedback.TEMPLATES]

# ===========================================================================================
# HARDENED AUTOGRADE ROUTING
# Routes stock `nbgrader autograde` and the Formgrader's autograde button through the
# project's trusted grading path (autograder/hooks/preprocessor.py). Added below this line.
# ===========================================================================================
# Stock `nbgrader autograde` (and the Formgrader's autograde button) run each submission in
# the confined sandbox and score test cells outside the student's process; see
# autograder/hooks/preprocessor.py. Set AUTOGRADER_STOCK_EXECUTE=1 to get nbgrader's own kernel
# execution back (the benchmark does, to measure stock nbgrader).
if os.environ.get("AUTOGRADER_STOCK_EXECUTE") != "1":
    from autograder.hooks.preprocessor import install

    install(c)
