"""Small helpers that drive JupyterLab 4 and nbgrader's panels through the page.

Selectors are the ones JupyterLab and nbgrader's Lab extension render; each helper waits
for what the page shows rather than sleeping.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

PROMPT_DONE = re.compile(r"^\[\d+\]:$")


def open_lab(page: Page, server) -> None:
    page.goto(server.url("lab"))
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=60_000)
    expect(page.locator("#jp-MainMenu")).to_be_visible()


def menu(page: Page, top: str, command: str) -> None:
    """Click a main-menu entry: menu(page, "Nbgrader", "nbgrader:open-assignment-list")."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(f'.lm-Menu li[data-command="{command}"]').first.click()


def current_tab_label(page: Page) -> Locator:
    return page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")


# --- nbgrader's Assignment List -------------------------------------------------------

def open_assignment_list(page: Page) -> None:
    menu(page, "Nbgrader", "nbgrader:open-assignment-list")
    expect(current_tab_label(page)).to_have_text("Assignments")
    page.locator("#released_assignments_list").wait_for()


def assignment_rows(page: Page, section: str, count: int) -> Locator:
    """Rows of one list of the Assignment List: released, fetched or submitted."""
    expect(page.locator(f"#{section}_assignments_list_loading")).to_be_hidden(timeout=60_000)
    expect(page.locator(f"#{section}_assignments_list_error")).to_be_hidden()
    rows = page.locator(f"#{section}_assignments_list > .list_item")
    expect(rows).to_have_count(count, timeout=60_000)
    return rows


# --- notebooks ------------------------------------------------------------------------

def code_cell(page: Page, text: str) -> Locator:
    """The one code cell of the current notebook whose source contains `text`."""
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    cell = notebook.locator(".jp-CodeCell").filter(
        has=page.locator(".cm-content", has_text=text))
    expect(cell).to_have_count(1)
    return cell


def markdown_cell(page: Page, text: str) -> Locator:
    """The one markdown cell showing `text`, located by position so it stays found after edits."""
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    expect(notebook.locator(".jp-MarkdownCell").filter(has_text=text)).to_have_count(1)
    cells = notebook.locator(".jp-Notebook-cell")
    texts = cells.all_inner_texts()
    index = next(i for i, t in enumerate(texts) if text in t)
    return cells.nth(index)


def cell_source(cell: Locator) -> str:
    return "\n".join(cell.locator(".cm-content .cm-line").all_inner_texts())


def set_source(page: Page, cell: Locator, text: str) -> None:
    """Replace a cell's source by typing into its editor (as a student would paste it)."""
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    expect(editor).to_contain_text(text.strip().splitlines()[-1].strip())
    assert cell_source(cell).replace("\u00a0", " ").split() == text.split(), cell_source(cell)


def set_markdown(page: Page, cell: Locator, text: str) -> None:
    cell.dblclick()
    editor = cell.locator(".cm-content")
    expect(editor).to_be_visible()
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    page.keyboard.press("ControlOrMeta+Enter")  # render it, stay on the cell
    expect(cell.locator(".jp-RenderedMarkdown")).to_contain_text(text.split()[0])


def run_cell(page: Page, cell: Locator, timeout: float = 120_000) -> Locator:
    """Run one cell (Ctrl+Enter) and wait until it has finished; returns its output area."""
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    cell.locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+Enter")
    if PROMPT_DONE.match(before):
        expect(prompt).not_to_have_text(before, timeout=timeout)
    expect(prompt).to_have_text(PROMPT_DONE, timeout=timeout)
    return cell.locator(".jp-OutputArea")


def wait_kernel_idle(page: Page, timeout: float = 120_000) -> None:
    """Wait until the status bar shows the notebook's kernel as started and idle."""
    expect(page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"\| Idle"), timeout=timeout)
