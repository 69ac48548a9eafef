"""Every assignment of the course, end to end on both grading paths: the worked solutions earn
every autograded point and the untouched release earns none, under `autograder grade` and
routed `nbgrader autograde` alike."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from autograder import notebook_text, samples, scaffold
from course_layout import ASSIGNMENTS


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_earn_every_point_and_the_release_none_on_both_paths(tmp_path, assignment):
    course = scaffold.make_course(tmp_path / "course")
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)
    samples.write_class(course, {"sol": "perfect", "rel": "blank"}, assignment=assignment)
    routed = tmp_path / "routed"
    shutil.copytree(course, routed)

    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", assignment], cwd=course,
                          env=scaffold.course_env(course), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    scaffold.nbgrader("autograde", assignment, "--force", cwd=routed, env=scaffold.course_env(routed), timeout=1800)

    fast, stock_cli = scaffold.gradebook_cells(course, assignment), scaffold.gradebook_cells(routed, assignment)
    assert fast == stock_cli
    points = notebook_text.test_points(course / "source" / assignment)
    scores = scaffold.gradebook_scores(course, assignment)
    assert {gid: scores["sol"][gid] for gid in points} == points
    assert {gid: scores["rel"][gid] for gid in points} == {gid: 0.0 for gid in points}
