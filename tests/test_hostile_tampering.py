"""Hostile submissions that tamper with the instructor's cells: test cells edited, deleted,
retyped, renamed, duplicated or moved, grading metadata changed, cells that claim points.

The instructor's cells count, as the gradebook holds them: the score is what the same answers
get untouched, the autograded notebook holds each test cell once, as released and right after
its solution, and the instructor hears what was done. Harness: tests/hostile_harness.py.
"""
from __future__ import annotations

import copy

import nbformat
import pytest

from autograder.intake.cells import grade_id

from hostile_harness import (ASG, FULL, NB, TESTS, assert_outputs_are_the_graders, autograded, cell_by_id,
                             cell_index, same_as, scores)


def _released_cell(course, gid):
    """The instructor's cell as released (hidden tests removed): what an autograded notebook holds."""
    released = nbformat.read(course / "release" / ASG / f"{NB}.ipynb", as_version=4)
    return cell_by_id(released, gid)


def _edit(nb):
    cell_by_id(nb, "test_jacobian_by_hand").source = "print('Score: 3/3')\n3.0\n"
    return ["locked cell 'test_jacobian_by_hand' was edited; the instructor's version was used"]


def _delete(nb):
    del nb.cells[cell_index(nb, "test_numerical_jacobian")]
    return ["test cell 'test_numerical_jacobian' was missing; the instructor's version was restored"]


def _retype(nb):
    at = cell_index(nb, "test_affine_jacobian")
    old = nb.cells[at]
    nb.cells[at] = nbformat.v4.new_markdown_cell("3.0", metadata=old.metadata)
    return ["cell 'test_affine_jacobian' was changed from code to markdown"]


def _points(nb):
    cell_by_id(nb, "test_jacobian_by_hand").metadata.nbgrader["points"] = 30
    return ["the grading metadata of cell 'test_jacobian_by_hand' was changed; the instructor's was used"]


def _unlock(nb):
    cell_by_id(nb, "test_affine_jacobian").metadata.nbgrader["locked"] = False
    return ["the grading metadata of cell 'test_affine_jacobian' was changed; the instructor's was used"]


def _rename(nb):
    cell_by_id(nb, "test_affine_jacobian").metadata.nbgrader["grade_id"] = "test_affine_jacobian_v2"
    return ["a cell claims to be graded ('test_affine_jacobian_v2') but is not in the assignment; ignored",
            "test cell 'test_affine_jacobian' was missing; the instructor's version was restored"]


def _solution_claims_points(nb):
    cell_by_id(nb, "affine_jacobian").metadata.nbgrader.update(grade=True, points=100)
    return ["the grading metadata of cell 'affine_jacobian' was changed; the instructor's was used"]


def _bonus_cell(nb):
    cell = nbformat.v4.new_code_cell("print('Score: 100/100')\n100.0\n")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                 "grade_id": "test_bonus", "schema_version": 3}
    nb.cells.insert(cell_index(nb, "test_affine_jacobian") + 1, cell)
    return ["a cell claims to be graded ('test_bonus') but is not in the assignment; ignored"]


def _duplicate(nb):
    nb.cells.append(copy.deepcopy(cell_by_id(nb, "test_jacobian_by_hand")))
    nb.cells.insert(0, copy.deepcopy(cell_by_id(nb, "test_affine_jacobian")))
    return ["cell 'test_affine_jacobian' appears more than once; only its first copy counts",
            "cell 'test_jacobian_by_hand' appears more than once; only its first copy counts",
            "test cell 'test_affine_jacobian' was moved; it was graded after its solution cell"]


def _move(nb):
    cell = nb.cells.pop(cell_index(nb, "test_jacobian_by_hand"))
    nb.cells.insert(cell_index(nb, "setup") + 1, cell)
    return ["test cell 'test_jacobian_by_hand' was moved; it was graded after its solution cell"]


TAMPERING = {f.__name__.strip("_"): f for f in (_edit, _delete, _retype, _points, _unlock, _rename,
                                                  _solution_claims_points, _bonus_cell, _duplicate, _move)}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_instructors_cells_count(grader, wrong_baseline, kind):
    for answers in ("perfect", "wrong"):
        nb = grader.nb() if answers == "perfect" else grader.wrong()
        problems = TAMPERING[kind](nb)
        result = grader.grade(nb)
        assert result.problems == problems
        assert result.status == "graded"
        assert set(result.cells) == {*TESTS, "explain_jacobian_entry"}
        if answers == "perfect":
            assert scores(result) == FULL
        else:
            same_as(result, wrong_baseline)
        assert_outputs_are_the_graders(result)
        graded_nb = autograded(result)
        ids = [grade_id(c) for c in graded_nb.cells]
        for gid in TESTS:
            assert ids.count(gid) == 1, gid
            assert ids.index(gid) == ids.index(gid[len("test_"):]) + 1, gid
            cell = cell_by_id(graded_nb, gid)
            original = _released_cell(grader.course, gid)
            assert cell.cell_type == "code" and cell.source == original.source
            assert {k: cell.metadata.nbgrader.get(k) for k in ("points", "grade", "locked", "grade_id")} == \
                {k: original.metadata.nbgrader.get(k) for k in ("points", "grade", "locked", "grade_id")}
        assert "test_bonus" not in ids and "test_affine_jacobian_v2" not in ids
