"""deploy/hub/visible_checks.py: what the hub publishes for students' own checks.

Every exercise of each assignment still loads, with its visible probes and reference, and
none of the hidden-probe generators (or the helpers only they use) is left in the text.
"""
from __future__ import annotations

import ast
import sys

import numpy as np
import pytest

from autograder.batch.jobs import Declarations
from autograder.course.declarations import DECLARATIONS, load, read_declarations
from conftest import REPO

sys.path.insert(0, str(REPO / "deploy" / "hub"))
from visible_checks import visible_only  # noqa: E402

ASSIGNMENTS = sorted(p.parent.name for p in (REPO / "autograding").glob(f"*/{DECLARATIONS}"))


def _hidden_generators(source: str) -> set[str]:
    """Names passed as `hidden=` in the instructor's declarations."""
    return {kw.value.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg == "hidden" and isinstance(kw.value, ast.Name)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_checks_keep_every_exercise_and_no_hidden_probe(assignment):
    private = read_declarations(str(REPO / "autograding"), assignment)
    published = visible_only(private.source, f"{assignment}/{DECLARATIONS}")
    generators = _hidden_generators(private.source)
    assert generators
    defined = {node.name for node in ast.parse(published).body if isinstance(node, ast.FunctionDef)}
    assert not generators & defined, generators & defined

    ours = {e.name: e for e in load(private)}
    theirs = {e.name: e for e in load(Declarations(path=f"visible/{assignment}/{DECLARATIONS}", source=published))}
    assert theirs.keys() == ours.keys()
    for name, exercise in theirs.items():
        assert exercise.hidden(np.random.default_rng(0)) == []
        assert [p.label for p in exercise.visible()] == [p.label for p in ours[name].visible()]
        assert (exercise.kind, exercise.answer, exercise.rtol, exercise.atol) == (
            ours[name].kind, ours[name].answer, ours[name].rtol, ours[name].atol)
