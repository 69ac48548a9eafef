"""Reading nbgrader's cell metadata, without torch: the writer process uses this too."""
from __future__ import annotations

import copy

TEST_PREFIX = "test_"       # an autograded test cell `test_<name>` grades the declared exercise <name>


def meta(cell) -> dict:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    found = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return found if isinstance(found, dict) else {}


def grade_id(cell) -> str | None:
    gid = meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


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
    notebook (nbgrader's ClearHiddenTests applied). The batch computes it once per notebook in
    the writer, which has nbgrader loaded, and sends it with each job."""
    from nbgrader.preprocessors import ClearHiddenTests
    clear = ClearHiddenTests()
    out = {}
    for cell in instructor.cells:
        gid = grade_id(cell)
        if gid and (meta(cell).get("locked") or is_test(cell)):
            released = copy.deepcopy(cell)
            clear._remove_hidden_test_region(released)
            out[gid] = released.source
    return out
