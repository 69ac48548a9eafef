"""Planning the cells to run: the student's cells with the instructor's locked and test cells
restored, and what the student tampered with (said in words, for the instructor's log).

Like nbgrader's OverwriteCells, and more: deleted, duplicated, retyped or moved test cells come
back where they belong, and grading metadata is always the instructor's.
"""
from __future__ import annotations

import copy
from typing import Collection

import nbformat

from autograder.intake.cells import TEST_PREFIX, released_sources, tested_exercise
from autograder.intake.cells import grade_id as _grade_id, is_test as _is_test, meta as _meta, source as _source
from autograder.intake.submission import is_cell

_GRADING_KEYS = ("grade", "grade_id", "locked", "points", "solution", "task")


def _grading_meta(cell) -> dict:
    """The metadata that decides grading (nbgrader adds checksums and more on release)."""
    meta = _meta(cell)
    return {k: meta.get(k) for k in _GRADING_KEYS}


def plan_cells(instructor: nbformat.NotebookNode, student: nbformat.NotebookNode,
               released: dict[str, str] | None = None, *, declared: Collection[str] = ()) -> tuple[list, list[str]]:
    """The student's cells with every locked instructor cell restored, and what was tampered with.

    Like nbgrader's OverwriteCells, but also restores deleted, duplicated, retyped or moved
    test cells: each instructor test cell stands right after the student's last cell that
    precedes it in the instructor's order (normally its solution cell). ``declared``: the
    exercises graded from their declarations, whose hidden tests are never shown.
    """
    locked = {gid: c for c in instructor.cells
              if (gid := _grade_id(c)) and (_meta(c).get("locked") or _is_test(c))}
    released = released_sources(instructor) if released is None else released
    graded_meta = {gid: _meta(c) for c in instructor.cells if (gid := _grade_id(c))}
    problems, plan, seen = [], [], set()
    for cell in student.cells:
        if not is_cell(cell):
            problems.append("a malformed cell was dropped")
            continue
        gid = _grade_id(cell)
        if gid in seen and gid in graded_meta:
            problems.append(f"cell '{gid}' appears more than once; only its first copy counts")
            continue
        if gid in locked:
            seen.add(gid)
            original = locked[gid]
            if cell.get("cell_type") != original.cell_type:
                problems.append(f"cell '{gid}' was changed from {original.cell_type} to {cell.get('cell_type')}")
            elif _source(cell).strip() not in (released[gid].strip(), _source(original).strip()):
                problems.append(f"locked cell '{gid}' was edited; the instructor's version was used")
            elif _grading_meta(cell) != _grading_meta(original):
                problems.append(f"the grading metadata of cell '{gid}' was changed; the instructor's was used")
            plan.append(_restored(original, released[gid], declared, cell))
            continue
        cell = copy.deepcopy(nbformat.from_dict(cell))
        if gid in graded_meta:
            seen.add(gid)
            if _grading_meta(cell) != {k: graded_meta[gid].get(k) for k in _GRADING_KEYS}:
                problems.append(f"the grading metadata of cell '{gid}' was changed; the instructor's was used")
                cell.metadata["nbgrader"] = {**graded_meta[gid], "checksum": _meta(cell).get("checksum")}
        elif _meta(cell).get("grade") or _meta(cell).get("locked"):
            problems.append(f"a cell claims to be graded ('{gid}') but is not in the assignment; ignored")
            cell.metadata.pop("nbgrader", None)
        plan.append(cell)
    _restore_missing(instructor, plan, locked, released, declared, seen, problems)
    for gid in _keep_tests_after_solutions(plan):
        problems.append(f"test cell '{gid}' was moved; it was graded after its solution cell")
    return plan, problems


def _restored(original, released_source: str, declared: Collection[str], student_cell=None):
    """The instructor's cell as released: the hidden tests of a declared exercise never reach
    the autograded notebook (they are graded from the declaration, not run), and it keeps
    the release checksum."""
    cell = copy.deepcopy(original)
    if tested_exercise(original) in declared:
        cell.source = released_source
    checksum = _meta(student_cell or {}).get("checksum") if student_cell else None
    if isinstance(checksum, str):
        cell.metadata.setdefault("nbgrader", {})["checksum"] = checksum
    if isinstance((student_cell or {}).get("id"), str):   # it takes the student's cell's place
        cell["id"] = student_cell["id"]
    if cell.cell_type == "code":    # never the instructor's outputs; the student's, for --no-execute
        cell.outputs = copy.deepcopy((student_cell or {}).get("outputs", []))
        cell.execution_count = (student_cell or {}).get("execution_count")
    return cell


def _restore_missing(instructor, plan, locked, released, declared, seen, problems) -> None:
    order = [_grade_id(c) for c in instructor.cells]
    for gid, original in locked.items():
        if gid in seen:
            continue
        if _is_test(original):
            problems.append(f"test cell '{gid}' was missing; the instructor's version was restored")
        # after the student's copy of the nearest preceding graded cell, else at the start
        before = {g for g in order[:order.index(gid)] if g}
        at = 0
        for i, cell in enumerate(plan):
            if _grade_id(cell) in before:
                at = i + 1
        plan.insert(at, _restored(original, released[gid], declared))


def _keep_tests_after_solutions(plan: list) -> list[str]:
    """A test cell ``test_<name>`` moved above the solution cell ``<name>`` goes back below it;
    return those moved."""
    moved = []
    for name in [tested_exercise(c) for c in plan if tested_exercise(c)]:
        ids = [_grade_id(c) for c in plan]
        if name in ids and ids.index(TEST_PREFIX + name) < ids.index(name):
            plan.insert(ids.index(name), plan.pop(ids.index(TEST_PREFIX + name)))
            moved.append(TEST_PREFIX + name)
    return moved
