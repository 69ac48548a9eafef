"""Flow 2, the instructor: collect, grade, Formgrader, manual points, feedback -- and the
student reads the feedback in their Lab."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import answers
import labui
from answers import ASSIGNMENT, STUDENT
from conftest import VENV_BIN, submit_with_cli  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def grade(c) -> str:
    """Grade the collected submissions; returns the command used.

    `autograder grade` is the course's fast path (issue 4); stock `nbgrader autograde`
    stands in only when the installed package has no `grade` command yet.
    """
    probe = c.run(VENV_BIN / "autograder", "grade", "--help", check=False) \
        if (VENV_BIN / "autograder").exists() else None
    if probe is not None and probe.returncode == 0:
        c.run(VENV_BIN / "autograder", "grade", ASSIGNMENT, timeout=600)
        return "autograder grade"
    c.nbgrader("autograde", ASSIGNMENT, timeout=600)
    return "nbgrader autograde (autograder grade not available)"


def gradebook_scores(c) -> tuple[float, float, float | None]:
    """(total score, autograded score of the notebook, manual score of the explanation)."""
    from nbgrader.api import Gradebook

    with Gradebook(c.course.db_url) as gb:
        submission = gb.find_submission(ASSIGNMENT, STUDENT)
        nb = gb.find_submission_notebook(answers.NOTEBOOK, ASSIGNMENT, STUDENT)
        manual = gb.find_grade("explain_jacobian_entry", answers.NOTEBOOK, ASSIGNMENT, STUDENT)
        return submission.score, nb.code_score, manual.manual_score


def close_modal(fg) -> None:
    modal = fg.locator(".modal.in")
    modal.locator(".modal-footer button").last.click()
    expect(fg.locator(".modal.in")).to_have_count(0)


def test_instructor_collects_grades_and_returns_feedback(lab_course, new_page, shots):
    c = lab_course
    if not c.inbound():
        submit_with_cli(c)  # the student's test did not run first
    assert c.inbound(), "no submission from the student in the exchange"

    page = new_page()
    labui.open_lab(page, c.instructor)
    labui.menu(page, "Nbgrader", "nbgrader:open-formgrader")
    expect(labui.current_tab_label(page)).to_have_text("Formgrader")
    fg = page.frame_locator("#jp-main-dock-panel .lm-mod-current iframe, #jp-main-dock-panel iframe").first
    row = fg.locator("table tbody tr", has_text=ASSIGNMENT)
    expect(row.locator("td").first).to_have_text(ASSIGNMENT, timeout=60_000)
    expect(row).to_contain_text("released")
    shots(page, "formgrader manage assignments")

    # --- collect from the exchange ---------------------------------------------------------
    row.locator("td.collect a").click()
    modal = fg.locator(".modal.in")
    expect(modal).to_contain_text(f"Successfully collected submissions of '{ASSIGNMENT}'", timeout=120_000)
    expect(modal).to_contain_text(STUDENT)
    shots(page, "collected")
    close_modal(fg)
    assert (c.root / "submitted" / STUDENT / ASSIGNMENT / f"{answers.NOTEBOOK}.ipynb").is_file()

    # --- grade with the course's grader (CLI) ---------------------------------------------
    used = grade(c)
    print(f"graded with: {used}")
    total, code_score, manual = gradebook_scores(c)
    assert code_score == pytest.approx(answers.AUTOGRADED_POINTS), (used, code_score)
    assert manual is None  # the explanation waits for a human

    # --- the Formgrader shows the scores ---------------------------------------------------
    fg.locator("a", has_text="Manage Students").click()
    student_row = fg.locator("table tbody tr", has_text=STUDENT)
    expect(student_row).to_contain_text("Liddell", timeout=60_000)
    expect(student_row.locator("td.score")).to_have_text(f"{total:g} / 33")
    shots(page, "manage students score")
    student_row.locator("a", has_text=re.compile("Liddell|alice")).first.click()
    assignment_row = fg.locator("table tbody tr", has_text=ASSIGNMENT)
    expect(assignment_row.locator("td.score")).to_have_text(f"{total:g} / 33")
    assignment_row.locator("a", has_text=ASSIGNMENT).click()
    nb_row = fg.locator("table tbody tr", has_text=answers.NOTEBOOK).filter(
        has_not_text="chain_rule")
    expect(nb_row.first.locator("td.score")).to_have_text(f"{answers.AUTOGRADED_POINTS:g} / 8")
    shots(page, "student notebook scores")

    # --- manual grading: one point for the explanation ------------------------------------
    nb_row.first.locator("a", has_text=answers.NOTEBOOK).click()
    score_input = fg.locator("input#explain_jacobian_entry")
    expect(score_input).to_be_visible(timeout=60_000)
    expect(fg.locator("body")).to_contain_text("partial derivative of output i")  # the answer
    score_input.scroll_into_view_if_needed()
    score_input.fill("1")
    score_input.press("Tab")
    expect(score_input).to_have_value("1")
    for _ in range(50):  # the change is saved by an XHR; wait for the gradebook to have it
        if gradebook_scores(c)[2] == 1.0:
            break
        page.wait_for_timeout(200)
    total_after, _, manual = gradebook_scores(c)
    assert manual == 1.0 and total_after == pytest.approx(total + 1)
    shots(page, "manual grade given")

    # --- generate and release feedback ------------------------------------------------------
    fg.locator(".breadcrumb a", has_text="Manual Grading").click()
    fg.locator("a", has_text="Manage Assignments").click()
    row = fg.locator("table tbody tr", has_text=ASSIGNMENT)
    expect(row.locator("td.num-submissions")).to_have_text("1", timeout=60_000)
    row.locator("td.generate-feedback a").click()
    modal = fg.locator(".modal.in")
    expect(modal).to_contain_text(f"Successfully generated feedback of '{ASSIGNMENT}'", timeout=180_000)
    close_modal(fg)
    row.locator("td.release-feedback a").click()
    modal = fg.locator(".modal.in")
    expect(modal).to_contain_text(f"Successfully released feedback of '{ASSIGNMENT}'", timeout=120_000)
    shots(page, "feedback released")
    close_modal(fg)

    # --- the student fetches the feedback and sees the score -----------------------------------
    student = new_page()
    labui.open_lab(student, c.student)
    labui.open_assignment_list(student)
    submitted = labui.assignment_rows(student, "submitted", 1)
    expect(submitted).to_contain_text("feedback available to fetch")
    submitted.locator(".item_status button", has_text="Fetch Feedback").click()
    view = student.locator("#submitted_assignments_list a", has_text="view feedback")
    expect(view).to_be_visible(timeout=60_000)
    shots(student, "feedback fetched")
    html_files = list((c.student_root / ASSIGNMENT / "feedback").glob(f"*/{answers.NOTEBOOK}.html"))
    assert len(html_files) == 1, html_files
    view.click()  # the file browser goes to the feedback folder
    item = student.locator(".jp-DirListing-item", has_text=f"{answers.NOTEBOOK}.html")
    expect(item).to_be_visible()
    item.dblclick()
    expect(labui.current_tab_label(student)).to_have_text(f"{answers.NOTEBOOK}.html")
    trust = student.locator("#jp-main-dock-panel .lm-mod-current button", has_text="Trust HTML")
    if trust.count():
        trust.first.click()
    report = student.frame_locator("#jp-main-dock-panel .jp-HTMLViewer iframe").first
    expect(report.locator("body")).to_contain_text(
        f"{answers.NOTEBOOK} (Score: {answers.AUTOGRADED_POINTS + 1:.1f} / 8.0)", timeout=60_000)
    expect(report.locator("body")).to_contain_text("partial derivative of output i")
    shots(student, "student reads feedback")
