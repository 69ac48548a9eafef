"""The HTML feedback students read (autograder/hooks/feedback.py and its template), from real
`nbgrader generate_feedback` on a graded course: a written answer not graded yet says so, not
0, until the instructor grades it; the math is MathML, with no MathJax to load; hidden tests
stay hidden.
"""
from __future__ import annotations

import logging
import re
import shutil
import time

import nbformat
import pytest

import jacobians_course
from autograder.dev import samples, scaffold

ASSIGNMENT = jacobians_course.ASSIGNMENT
STUDENT = "ada"
NOTEBOOK = "jacobian"
WRITTEN_ANSWER = "explain_jacobian_entry"      # jacobian.ipynb's answer graded by hand, 1 point
MATH_CELL_HEADING = "1. What a Jacobian is"    # a markdown cell of jacobian.ipynb with inline math

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, course_template):
    """A private copy of the template with one perfect submission, graded; its written answers
    not graded by hand yet."""
    from autograder.batch import run as batch
    from autograder.course.directory import load_course

    root = tmp_path_factory.mktemp("feedback-html") / "course"
    shutil.copytree(course_template, root)
    samples.write_class(root, {STUDENT: "perfect"}, assignment=ASSIGNMENT)
    summary = batch.grade(load_course(str(root)), ASSIGNMENT, workers=2, tty=False)
    assert not summary.failed, summary.failed
    return root


def feedback_page(root) -> str:
    scaffold.nbgrader("generate_feedback", ASSIGNMENT, "--student", STUDENT, "--force", cwd=root)
    return (root / "feedback" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()


def markdown_cells(page: str) -> list[str]:
    """The rendered HTML of each markdown cell of a feedback page."""
    return re.findall(r'<div class="text_cell_render[^"]*">(.*?)</div>', page, flags=re.S)


@pytest.fixture(scope="module")
def first_page(graded_course) -> str:
    return feedback_page(graded_course)


def test_a_written_answer_not_graded_yet_says_so(first_page):
    assert f'<a href="#{WRITTEN_ANSWER}">Written response</a> (not graded yet / 1.0)' in first_page
    answer_heading = first_page.split(f'<a name="{WRITTEN_ANSWER}"></a>', 1)[1].split("</div>", 1)[0]
    assert "not graded yet / 1.0" in answer_heading and "Score:" not in answer_heading
    assert "does not yet include 1.0 point still to be graded by hand" in first_page
    assert "Score: 0.0 / 1.0" not in first_page
    # the autograded cells keep their scores, in the table of contents and in their headings
    assert '<a href="#test_jacobian_by_hand">Test cell</a> (Score: 3.0 / 3.0)' in first_page
    assert first_page.count("Score: 3.0 / 3.0 <a href=\"#top\">") == 2


def test_a_graded_written_answer_shows_its_score(graded_course, first_page):
    from nbgrader.api import Gradebook

    assert "not graded yet" in first_page
    with Gradebook(f"sqlite:///{graded_course / 'gradebook.db'}") as gb:
        gb.find_grade(WRITTEN_ANSWER, NOTEBOOK, ASSIGNMENT, STUDENT).manual_score = 1
        gb.db.commit()
    page = feedback_page(graded_course)
    assert f'<a href="#{WRITTEN_ANSWER}">Written response</a> (Score: 1.0 / 1.0)' in page
    answer_heading = page.split(f'<a name="{WRITTEN_ANSWER}"></a>', 1)[1].split("</div>", 1)[0]
    assert "Score: 1.0 / 1.0" in answer_heading
    assert "not graded yet" not in page and "still to be graded by hand" not in page


def test_math_is_mathml_and_no_mathjax_is_loaded(first_page):
    math_cell = next(cell for cell in markdown_cells(first_page) if MATH_CELL_HEADING in cell)
    assert "<math" in math_cell and "$" not in math_cell
    assert not [cell for cell in markdown_cells(first_page) if "$\\" in cell]
    scripts = re.findall(r"<script\b[^>]*>", first_page, flags=re.I)
    assert not [tag for tag in scripts if re.search(r"mathjax|cdn|https?:", tag, flags=re.I)], scripts
    assert "init_mathjax" not in first_page         # nor its inline configuration


def test_code_escapes_and_unreadable_formulas_stay_as_written(caplog):
    from nbformat.v4 import new_markdown_cell

    from autograder.hooks.feedback import RenderMath

    as_written = ["`$x$` in code", "```\n$$y$$\n```", "costs \\$5, not \\$6", "$5 and $10", "$\\left( x$"]
    cell = new_markdown_cell("\n\n".join([*as_written, "$J_{ij}$ and \\[\\frac{a}{b}\\]"]))
    RenderMath(log=logging.getLogger("feedback")).preprocess_cell(cell, {}, 0)
    kept, converted = cell.source.rsplit("\n\n", 1)
    assert kept == "\n\n".join(as_written)
    assert converted.count("<math") == 2 and 'display="block"' in converted and "\\" not in converted
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "formula left as LaTeX, latex2mathml cannot read it (ExtraLeftOrMissingRightError()): $\\left( x$"]


def test_a_flood_of_markdown_costs_little_and_past_its_share_keeps_its_latex(caplog):
    from nbformat.v4 import new_markdown_cell, new_notebook

    from autograder.hooks.feedback import MAX_MARKDOWN, RenderMath

    # openers and no closer: what would make the formula pattern quadratic in the answer's length
    flood = "\\(" * (MAX_MARKDOWN // 4)
    nb = new_notebook(cells=[new_markdown_cell("$x$"), new_markdown_cell(flood), new_markdown_cell("$y$"),
                             new_markdown_cell(flood), new_markdown_cell("$z$")])
    started = time.perf_counter()
    RenderMath(log=logging.getLogger("feedback")).preprocess(nb, {})
    assert time.perf_counter() - started < 10      # quadratic, the first flood alone takes minutes
    sources = [cell.source for cell in nb.cells]
    assert "<math" in sources[0] and "<math" in sources[2]
    assert sources[1] == sources[3] == flood and sources[4] == "$z$"    # the second flood is past the share
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"math left as LaTeX past the first {MAX_MARKDOWN} characters of markdown"]


def test_hidden_tests_stay_hidden(graded_course):
    """With nbgrader's ClearHiddenTests among the feedback's preprocessors still: stock `nbgrader
    autograde` leaves the hidden tests in the autograded notebook (our grader does not)."""
    autograded = graded_course / "autograded" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(autograded, as_version=4)
    test_cell = next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_affine_jacobian")
    test_cell.source += "\n### BEGIN HIDDEN TESTS\nhidden_probe_of_the_instructor = 1\n### END HIDDEN TESTS\n"
    nbformat.write(nb, autograded)
    page = feedback_page(graded_course)
    assert "hidden_probe_of_the_instructor" not in page and "BEGIN HIDDEN TESTS" not in page
