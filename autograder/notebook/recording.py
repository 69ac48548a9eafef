"""The trusted side's decision for each test cell, written where nbgrader reads it.

nbgrader's ``SaveAutoGrades`` scores a code test cell from its outputs (``determine_grade``):
the first error or stderr output gives 0, the first ``execute_result`` gives its number, and
a cell with neither gets full points. Every test cell of a graded notebook therefore gets its
decided score as an ``execute_result`` placed before anything else nbgrader would read, so
the gradebook holds exactly what was decided on every path (``autograder grade``, routed
``nbgrader autograde``, the Formgrader's button). A test cell with no decision scores 0.
"""
from __future__ import annotations

import nbformat

from autograder.intake.cells import grade_id, is_graded, is_test, points
from autograder.batch.jobs import CellResult


def _read_by_nbgrader(output) -> bool:
    kind = output.get("output_type")
    return kind in ("error", "execute_result") or (kind == "stream" and output.get("name") == "stderr")


def score_output(score: float, execution_count=None):
    return nbformat.v4.new_output("execute_result", data={"text/plain": repr(score)},
                                  execution_count=execution_count)


def unreadable(cells: list, reason: str) -> dict[str, CellResult]:
    """A notebook that cannot be read or run costs only itself: every graded cell scores 0,
    with the reason."""
    return {grade_id(cell): CellResult(0.0, points(cell), ["unreadable"], reason)
            for cell in cells if grade_id(cell) and is_graded(cell)}


def record_decisions(cells: list, decided: dict[str, CellResult]) -> list[str]:
    """Put each test cell's decided score in front of whatever nbgrader would read instead.
    ``decided`` gains a 0 for any test cell that has no decision; the problems say which."""
    problems = []
    for cell in cells:
        gid = grade_id(cell)
        if not gid or not is_test(cell):
            continue
        result = decided.get(gid)
        if result is None or result.score is None:
            result = decided[gid] = CellResult(0.0, points(cell), ["not_graded"],
                                               "not graded: the grader reached no decision for this cell")
            problems.append(f"test cell '{gid}' was not graded; it scored 0")
        kept = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
        first = next((i for i, o in enumerate(kept) if _read_by_nbgrader(o)), len(kept))
        cell.outputs = kept[:first] + [score_output(result.score, cell.get("execution_count"))] + kept[first:]
    return problems
