"""The one reader of nbgrader's cell metadata, and the course's private paths."""
from __future__ import annotations

import math

import pytest

from autograder.course.directory import load_course
from autograder.intake import cells


def _cell(**nbgrader):
    return {"cell_type": "code", "metadata": {"nbgrader": nbgrader}, "source": ""}


@pytest.mark.parametrize("value, points", [(3, 3.0), ("2.5", 2.5), (None, 0.0), ("x", 0.0), ([1], 0.0),
                                           (True, 0.0), (math.inf, 0.0), (float("nan"), 0.0)])
def test_points_of_a_cell_never_raise(value, points):
    assert cells.points(_cell(grade=True, points=value)) == points


def test_points_of_cells_without_metadata():
    assert cells.points({"cell_type": "code"}) == 0.0
    assert cells.points({"metadata": {"nbgrader": "mangled"}}) == 0.0
    assert cells.points("not a cell") == 0.0


def test_hidden_tests_removed_as_nbgrader_releases_them():
    from autograder.intake.notebook_text import remove_hidden_tests
    text = "check('f', f)\n### BEGIN HIDDEN TESTS\ncheck('f', f, hidden=True)\n### END HIDDEN TESTS"
    assert remove_hidden_tests(text) == "check('f', f)"


def test_private_paths_follow_the_configured_folders(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.source_directory = 'instructor'\n"
        "c.CourseDirectory.submitted_directory = 'handed_in'\nc.CourseDirectory.db_url = 'sqlite:///state/gb.db'\n"
        "c.Exchange.root = '/srv/somewhere/exchange'\nc.CourseExercises.directory = 'grading'\n")
    hidden = set(load_course(str(tmp_path)).private_paths())
    for name in ("instructor", "handed_in", "state/gb.db", "grading", ".autograder", "nbgrader_config.py"):
        assert str(tmp_path / name) in hidden, name
    assert "/srv/somewhere/exchange" in hidden
    assert str(tmp_path / "source") not in hidden      # nbgrader's default, not this course's folder
