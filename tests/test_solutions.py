"""solutions/jacobians: the worked solutions, generated from source/, executed, every
visible check passing."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade

from autograder import samples

SOLUTIONS = samples.REPO_ROOT / "solutions" / samples.ASSIGNMENT
SOURCE = samples.REPO_ROOT / "source" / samples.ASSIGNMENT


def test_every_notebook_has_a_solution():
    assert sorted(p.stem for p in SOLUTIONS.glob("*.ipynb")) == sorted(samples.NOTEBOOKS)


@pytest.mark.parametrize("notebook", samples.NOTEBOOKS)
def test_solutions_are_current(regenerate, notebook):
    fresh = regenerate.solution_notebook(SOURCE / f"{notebook}.ipynb")
    committed = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in committed.cells] == \
        [(c.cell_type, c.source) for c in fresh.cells], \
        f"solutions/{notebook}.ipynb is stale: run `make solutions`"


@pytest.mark.parametrize("notebook", samples.NOTEBOOKS)
def test_solutions_are_executed_and_every_check_passes(notebook):
    nb = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
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
    assert graded == sum(1 for gid in samples.test_points(SOURCE)
                         if _in_notebook(gid, notebook))


def _in_notebook(test_gid: str, notebook: str) -> bool:
    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    return any(samples.nbgrader_meta(c).get("grade_id") == test_gid for c in nb.cells)


@pytest.mark.parametrize("notebook", samples.NOTEBOOKS)
def test_solutions_hold_no_hidden_tests_or_markers(notebook):
    raw = (SOLUTIONS / f"{notebook}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "hidden=True"):
        assert marker not in raw
