"""solutions/<assignment>, for every assignment: the worked solutions, generated from
source/, executed, every visible check passing."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade

from autograder.intake import notebook_text
from course_layout import ASSIGNMENTS, NOTEBOOKS, REPO_ROOT


def solutions(assignment: str) -> Path:
    return REPO_ROOT / "solutions" / assignment


def source(assignment: str) -> Path:
    return REPO_ROOT / "source" / assignment


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_notebook_has_a_solution(assignment):
    assert notebook_text.notebook_names(solutions(assignment)) == notebook_text.notebook_names(source(assignment))


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS)
def test_solutions_are_current(regenerate, assignment, notebook):
    fresh = regenerate.solution_notebook(source(assignment) / f"{notebook}.ipynb")
    committed = nbformat.read(solutions(assignment) / f"{notebook}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == \
        [(c.cell_type, c.source) for c in fresh.cells], \
        f"solutions/{notebook}.ipynb is stale: run `make solutions`"


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS)
def test_solutions_are_executed_and_every_check_passes(assignment, notebook):
    nb = nbformat.read(solutions(assignment) / f"{notebook}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "not executed: run `make solutions`"
    for cell in code:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{notebook}: error in\n{cell.source}\n{errors[0].get('evalue')}"
    graded = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and is_grade(cell):
            score, max_score = determine_grade(cell)
            assert score == max_score, \
                f"{notebook}: {cell.metadata.nbgrader.grade_id} scored {score}/{max_score}"
            graded += 1
    instructor = nbformat.read(source(assignment) / f"{notebook}.ipynb", as_version=4)
    assert graded == sum(1 for c in instructor.cells if c.cell_type == "code" and is_grade(c))


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS)
def test_solutions_hold_no_hidden_tests_or_markers(assignment, notebook):
    raw = (solutions(assignment) / f"{notebook}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "hidden=True"):
        assert marker not in raw
