"""`nbgrader validate` (what the Lab's Validate button runs) shows, for a failing test cell,
the feedback lines its self-check printed, with the real CLI and kernel."""
from __future__ import annotations

import pytest

from autograder.dev import samples, scaffold

pytestmark = pytest.mark.slow


def test_validate_shows_the_feedback_of_a_failing_check(tmp_path):
    course = scaffold.make_course(tmp_path / "course")
    folder = samples.write_class(course, {"mo": ["transposed_jacobian"]}, assignment="jacobians")["mo"]
    proc = scaffold.nbgrader("validate", str(folder / "jacobian.ipynb"), cwd=course, check=False)
    out = proc.stdout + proc.stderr
    assert "VALIDATION FAILED ON 1 CELL(S)" in out
    failed = out.split("The error was:")[1]
    assert "jacobian_by_hand: visible check failed: 0 of 1" in failed
    assert "this is the transpose of the expected Jacobian" in failed and "p = [1, 2]" in failed
    assert "Partial credit; passed some but not all of the tests" not in out
