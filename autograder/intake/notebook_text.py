"""Reading an assignment's notebooks as text: solution and hidden-test blocks, nbgrader
metadata, points. Shared by the sample class, the regenerate script and the tests."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import nbformat

from autograder.intake.cells import grade_id, is_graded, is_solution, points, source

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


def notebook_names(folder: Path) -> list[str]:
    """The notebooks of an assignment folder, without .ipynb, sorted."""
    return sorted(p.stem for p in Path(folder).glob("*.ipynb"))


def strip_solution_markers(text: str) -> str:
    """The solution as the instructor wrote it, without the BEGIN/END SOLUTION lines."""
    return "\n".join(ln for ln in text.split("\n") if ln.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def remove_block(text: str, begin: str, end: str) -> str:
    """``text`` without the lines from ``begin`` to ``end`` (markers included), trailing blanks trimmed."""
    out, inside = [], False
    for line in text.split("\n"):
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif not inside:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def remove_hidden_tests(text: str) -> str:
    """A test cell's text as nbgrader releases it: its hidden-tests block removed by nbgrader's
    own ``ClearHiddenTests``, so what we compare with is what students were given."""
    from nbgrader.preprocessors import ClearHiddenTests
    cell = nbformat.v4.new_code_cell(text)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class AnswerCell(NamedTuple):
    notebook: str        # without .ipynb
    grade_id: str
    kind: str            # "code" or "markdown"
    source: str


def answer_cells(folder: Path) -> list[AnswerCell]:
    """Every solution cell of an assignment folder's notebooks (source/ or release/), in order."""
    return [AnswerCell(name, grade_id(cell), cell.get("cell_type", ""), source(cell))
            for name, cell in _cells(folder) if is_solution(cell) and grade_id(cell)]


def _cells(folder: Path):
    for name in notebook_names(folder):
        for cell in nbformat.read(Path(folder) / f"{name}.ipynb", as_version=4).cells:
            yield name, cell


def solution_cells(source_dir: Path) -> dict[str, str]:
    """grade_id -> the instructor's solution (markers stripped) for every solution cell."""
    return {a.grade_id: strip_solution_markers(a.source) for a in answer_cells(source_dir)}


def solution_notebooks(source_dir: Path) -> dict[str, str]:
    """grade_id -> the notebook holding that solution cell."""
    return {a.grade_id: a.notebook for a in answer_cells(source_dir)}


def test_points(source_dir: Path) -> dict[str, float]:
    """grade_id -> points of every graded code cell (the autograded tests, ``test_<exercise>``)."""
    return {grade_id(cell): points(cell) for _, cell in _cells(source_dir)
            if is_graded(cell) and cell.cell_type == "code" and grade_id(cell)}
