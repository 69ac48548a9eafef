"""Every assignment of the course, end to end on both grading paths: the worked solutions earn
every autograded point and the untouched release earns none, under `autograder grade` and
routed `nbgrader autograde` alike."""
from __future__ import annotations

import pytest

from autograder.intake import notebook_text
from autograder.dev import samples, scaffold
from both_paths import grade_on_both_paths
from course_layout import ASSIGNMENTS


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_earn_every_point_and_the_release_none_on_both_paths(tmp_path, assignment):
    course = scaffold.make_course(tmp_path / "course")
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)
    samples.write_class(course, {"sol": "perfect", "rel": "blank"}, assignment=assignment)
    fast, routed = grade_on_both_paths(course, assignment, tmp_path / "routed")
    assert fast == routed
    points = notebook_text.test_points(course / "source" / assignment)
    scores = scaffold.gradebook_scores(course, assignment)
    assert {gid: scores["sol"][gid] for gid in points} == points
    assert {gid: scores["rel"][gid] for gid in points} == {gid: 0.0 for gid in points}
