"""Reading nbgrader's cell metadata, without torch: the writer process uses this too.

The one reader of a cell's grade id, points, and whether it is a test or a solution cell:
metadata a student may have mangled reads as absent, never as an error.
"""
from __future__ import annotations

import math

TEST_PREFIX = "test_"       # an autograded test cell `test_<name>` grades the declared exercise <name>


def meta(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    found = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return found if isinstance(found, dict) else {}


def grade_id(cell) -> str | None:
    gid = meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def points(cell) -> float:
    """The cell's points; missing, null or not a finite number counts as 0."""
    value = meta(cell).get("points")
    try:
        value = float(value) if value is not None and not isinstance(value, bool) else 0.0
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def is_graded(cell) -> bool:
    return bool(meta(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(meta(cell).get("solution"))


def is_test(cell) -> bool:
    m = meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def tested_exercise(cell) -> str | None:
    """The exercise a test cell grades (``test_<name>`` -> ``<name>``), or None."""
    gid = grade_id(cell)
    return gid[len(TEST_PREFIX):] if gid and gid.startswith(TEST_PREFIX) and is_test(cell) else None


def source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def released_sources(instructor) -> dict[str, str]:
    """grade_id -> what the student was given for each locked or test cell of the instructor's
    notebook (its hidden tests removed). The batch computes it once per notebook in the writer,
    which has nbgrader loaded, and sends it with each job."""
    from autograder.intake.notebook_text import remove_hidden_tests
    return {grade_id(cell): remove_hidden_tests(source(cell)) for cell in instructor.cells
            if grade_id(cell) and (meta(cell).get("locked") or is_test(cell))}
