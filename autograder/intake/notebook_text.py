"""Reading an assignment's notebooks as text: solution and hidden-test blocks, nbgrader
metadata, points. Shared by the sample class, the regenerate script and the tests."""
from __future__ import annotations

from pathlib import Path

import nbformat

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
    """The test cell without its BEGIN/END HIDDEN TESTS block (markers included)."""
    return remove_block(text, BEGIN_HIDDEN, END_HIDDEN)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _cells(source_dir: Path):
    for name in notebook_names(source_dir):
        for cell in nbformat.read(Path(source_dir) / f"{name}.ipynb", as_version=4).cells:
            yield name, cell


def solution_cells(source_dir: Path) -> dict[str, str]:
    """grade_id -> the instructor's solution (markers stripped) for every solution cell."""
    return {nbgrader_meta(cell)["grade_id"]: strip_solution_markers(cell.source)
            for _, cell in _cells(source_dir) if nbgrader_meta(cell).get("solution")}


def solution_notebooks(source_dir: Path) -> dict[str, str]:
    """grade_id -> the notebook holding that solution cell."""
    return {nbgrader_meta(cell)["grade_id"]: name
            for name, cell in _cells(source_dir) if nbgrader_meta(cell).get("solution")}


def test_points(source_dir: Path) -> dict[str, float]:
    """grade_id -> points of every autograded test cell (``test_<exercise>``)."""
    return {nbgrader_meta(cell)["grade_id"]: float(nbgrader_meta(cell).get("points", 0))
            for _, cell in _cells(source_dir)
            if nbgrader_meta(cell).get("grade") and cell.cell_type == "code"}
