"""Hostile or broken input the grader reads before any student code runs: files that are not
notebooks, an old nbformat, malformed cells and metadata, huge stored outputs, unusual student ids.

What cannot be read fails with the reason and scores 0; what can is graded as usual, the damage
dropped and named. Harness: tests/hostile_harness.py.
"""
from __future__ import annotations

import json

import nbformat
import pytest

from autograder.batch.jobs import CellResult

from hostile_harness import FULL, POINTS, assert_outputs_are_the_graders, cell_by_id, scores


def _unreadable(result, reason):
    assert result.status == "failed"
    assert result.problems == [reason]
    assert result.cells == {gid: CellResult(0.0, p, ["unreadable"], reason)
                            for gid, p in {**POINTS, "explain_jacobian_entry": 1.0}.items()}


@pytest.mark.parametrize("raw,reason", [
    (b"", "the submitted notebook is an empty (0-byte) file"),
    (b'{"cells": [', "the submitted file is not a readable notebook (NotJSONError: Notebook does not appear to be JSON: '{\"cells\": [')"),
    (b"\xff\xfe\x00garbage", None),
    (b"[1, 2, 3]", None),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "none"}',
     "the submitted file is not a readable notebook (ValidationError: The notebook is invalid and is missing an "
     "expected key: 'str' object has no attribute 'get')"),
    (None, "the notebook was not submitted"),
], ids=["empty", "invalid_json", "binary", "json_list", "cells_not_list", "missing"])
def test_unreadable_submissions(grader, raw, reason):
    result = grader.grade(raw=raw)
    if reason is None:
        assert result.problems and result.problems[0].startswith("the submitted file is not a readable notebook (")
        reason = result.problems[0]
    _unreadable(result, reason)


def test_old_nbformat_is_upgraded_and_graded(grader):
    nb = grader.nb()
    v3 = nbformat.convert(nb, 3)
    result = grader.grade(raw=nbformat.writes(v3, version=3).encode())
    assert result.status == "graded"
    assert scores(result) == FULL


def test_malformed_cells_and_metadata(grader):
    nb = json.loads(nbformat.writes(grader.nb()))
    nb["cells"].insert(2, {"cell_type": "alien", "source": "x", "metadata": {}})
    nb["cells"].insert(2, "not even a dict")
    nb["cells"].insert(2, {"cell_type": "code", "source": 42, "metadata": {"nbgrader": "nonsense"},
                           "outputs": [], "execution_count": None})
    nb["cells"].insert(2, {"cell_type": "code", "source": ["x = ", "1\n"], "metadata": None,
                           "outputs": None, "execution_count": "seven"})
    nb["metadata"] = {"kernelspec": {"name": "evil"}, "nbgrader": {"grade": True}}
    result = grader.grade(raw=json.dumps(nb).encode())
    assert result.status == "graded"
    assert result.problems == ["a malformed cell was dropped", "a malformed cell was dropped"]
    assert scores(result) == FULL


def test_huge_stored_outputs_are_dropped(grader):
    nb = grader.nb()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="z" * 5_000_000)]
    cell = cell_by_id(nb, "test_jacobian_by_hand")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "3.0"}, execution_count=1)]
    result = grader.grade(nb)
    assert scores(result) == FULL and result.problems == []
    assert len(result.autograded_nb_json) < 200_000
    assert_outputs_are_the_graders(result)


@pytest.mark.parametrize("student", ["zoë.ünïcødé", "a.b..c", "..", "-rf", "名前 with space"])
def test_unusual_student_ids(grader, student):
    result = grader.grade(grader.nb(), student=student)
    assert result.status == "graded" and result.student == student
    assert scores(result) == FULL
