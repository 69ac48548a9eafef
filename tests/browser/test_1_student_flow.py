"""Flow 1, the student: fetch, answer, check, fix, validate, submit -- in JupyterLab.

Runs before flow 2 (file order): the instructor grades the submission made here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import answers
import labui
from answers import ASSIGNMENT, STUDENT

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_student_fetches_answers_validates_and_submits(lab_course, new_page, shots):
    c = lab_course
    page = new_page()
    labui.open_lab(page, c.student)
    # the student's Lab has no instructor panels
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    nbgrader_menu = page.locator("#jp-mainmenu-nbgrader")
    expect(nbgrader_menu.locator('li[data-command="nbgrader:open-assignment-list"]')).to_be_visible()
    expect(nbgrader_menu.locator('li[data-command="nbgrader:open-formgrader"]')).to_be_hidden()
    expect(nbgrader_menu.locator('li[data-command="nbgrader:open-create-assignment"]')).to_be_hidden()
    page.keyboard.press("Escape")

    # --- Assignment List: the released assignment, fetched -------------------------------
    labui.open_assignment_list(page)
    released = labui.assignment_rows(page, "released", 1)
    expect(released.locator(".item_name")).to_have_text(ASSIGNMENT)
    expect(released.locator(".item_course")).to_have_text(c.course.course_id)
    shots(page, "assignment list released")
    released.locator(".item_status button", has_text="Fetch").click()

    fetched = labui.assignment_rows(page, "fetched", 1)
    expect(fetched.locator(".item_name").first).to_have_text(ASSIGNMENT)
    assert (c.student_root / ASSIGNMENT / f"{answers.NOTEBOOK}.ipynb").is_file()
    fetched.locator(".item_name a", has_text=ASSIGNMENT).click()
    notebooks = page.locator(f"#fetched_assignments_list .collapse.in .list_item .item_name")
    expect(notebooks.filter(has_text=re.compile(f"^{answers.NOTEBOOK}$"))).to_have_count(1)
    for name in ("chain_rule", "dead_neurons", "sigmoid_saturation"):
        if (c.root / "source" / ASSIGNMENT / f"{name}.ipynb").exists():
            expect(notebooks.filter(has_text=re.compile(f"^{name}$"))).to_have_count(1)
    shots(page, "assignment fetched")

    # --- open the notebook from the list ------------------------------------------------
    notebooks.filter(has_text=re.compile(f"^{answers.NOTEBOOK}$")).locator("a").click()
    expect(labui.current_tab_label(page)).to_have_text(f"{answers.NOTEBOOK}.ipynb", timeout=60_000)
    labui.wait_kernel_idle(page)
    setup = labui.code_cell(page, "import torch")
    labui.run_cell(page, setup)

    # --- a wrong answer first: the transposed Jacobian -----------------------------------
    solution = labui.code_cell(page, "def jacobian_by_hand(")
    expect(solution.locator(".cm-content")).to_contain_text("raise NotImplementedError")
    labui.set_source(page, solution, answers.TRANSPOSED)
    labui.run_cell(page, solution)
    check = labui.code_cell(page, 'check("jacobian_by_hand"')
    output = labui.run_cell(page, check)
    # the diagnostic names the mistake in the student's terms and shows the probe
    expect(output).to_contain_text("transpose of the expected Jacobian")
    expect(output).to_contain_text("(2, 3) instead of (3, 2)")
    expect(output).to_contain_text("p = [1, 2]")
    check.scroll_into_view_if_needed()
    shots(page, "visible check says transposed")

    # --- fix it, and answer the other exercises of this notebook -------------------------
    labui.set_source(page, solution, answers.JACOBIAN_BY_HAND)
    labui.run_cell(page, solution)
    output = labui.run_cell(page, check)
    expect(output).not_to_contain_text("transpose")
    expect(output.locator('[data-mime-type="application/vnd.jupyter.stderr"]')).to_have_count(0)
    check.scroll_into_view_if_needed()
    shots(page, "visible check passes")

    for name in ("numerical_jacobian", "affine_jacobian"):
        cell = labui.code_cell(page, f"def {name}(")
        labui.set_source(page, cell, answers.CODE[name])
        labui.run_cell(page, cell)
        labui.run_cell(page, labui.code_cell(page, f'check("{name}"'))
    answer = labui.markdown_cell(page, "YOUR ANSWER HERE")
    labui.set_markdown(page, answer, answers.EXPLANATION)

    # --- Validate (saves first, then runs the notebook on the server) ---------------------
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").first.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=180_000)
    expect(dialog).to_contain_text("Success! Your notebook passes all the tests.")
    shots(page, "validate success")
    dialog.locator("button.jp-Dialog-button").first.click()
    expect(dialog).to_have_count(0)

    # --- Submit from the Assignment List ---------------------------------------------------
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Assignments").click()
    fetched = labui.assignment_rows(page, "fetched", 1)
    fetched.locator(".item_status button", has_text="Submit").click()
    submitted = labui.assignment_rows(page, "submitted", 1)
    expect(submitted.locator(".item_name").first).to_have_text(ASSIGNMENT)
    expect(page.locator(f"#submitted_assignments_list .list_item")).not_to_have_count(0)
    shots(page, "submitted")
    inbound = c.inbound()
    assert len(inbound) == 1, inbound
    assert inbound[0].name.startswith(f"{STUDENT}+{ASSIGNMENT}+")
    submitted_nb = (inbound[0] / f"{answers.NOTEBOOK}.ipynb").read_text()
    assert "math.exp(x), 0.0" in submitted_nb  # the fixed answer, saved by Validate
