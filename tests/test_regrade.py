"""Regrading one student with --force keeps the Formgrader's manual grades and comments, and
the report's history shows the score change."""
from __future__ import annotations

import json

import pytest

from autograder.term import report
from autograder.dev import scaffold
import jacobians_course
from autograder.course.directory import load_course

from test_batch import ASG, course, run, submit  # noqa: F401  (fixtures)


def test_regrade_one_student_keeps_manual_work(course, tmp_path):  # noqa: F811
    from nbgrader.api import Gradebook
    run(course)
    c = load_course(str(course))
    with Gradebook(c.db_url, c.course_id) as gb:                # what an instructor does by hand
        gb.find_grade("explain_alpha", "one", ASG, "alice").manual_score = 1
        gb.find_comment("alpha", "one", ASG, "alice").manual_comment = "Nice use of the identity."
        gb.find_grade("test_alpha", "one", ASG, "bob").manual_score = 2    # overrides the grader
        gb.db.commit()

    submit(course, "alice", {"one": "# score: 0.5", "two": "# score: 0"}, when="2026-01-09 11:00:00 UTC")
    s = run(course, students=["alice", "bob"], force=True)
    assert not s.failed and s.students_committed == 2

    with Gradebook(c.db_url, c.course_id) as gb:
        explain = gb.find_grade("explain_alpha", "one", ASG, "alice")
        assert explain.manual_score == 1 and explain.score == 1
        assert gb.find_comment("alpha", "one", ASG, "alice").manual_comment == "Nice use of the identity."
        assert gb.find_grade("test_alpha", "one", ASG, "alice").auto_score == 1.0
        bob = gb.find_grade("test_alpha", "one", ASG, "bob")
        assert (bob.auto_score, bob.manual_score, bob.score) == (1.0, 2, 2)
        assert bob.needs_manual_grade                 # the override stays flagged for review

    side = json.loads((course / ".autograder" / "graded" / ASG / "alice.json").read_text())
    assert [h["score"] for h in side["history"]] == [5, 2]
    page_dir = tmp_path / "rep"
    report.write_report(c, ASG, str(page_dir))
    row = (page_dir / "report.html").read_text().split("<td>alice</td>", 1)[1].split("</tr>", 1)[0]
    assert "5 (graded " in row and " → 2 (regraded " in row


@pytest.mark.slow
def test_formgrader_path_force_keeps_manual_work(make_class):
    """The Formgrader's autograde button runs `nbgrader autograde` (routed through the
    sandbox by nbgrader_config.py): a forced regrade keeps the manual grade and comment."""
    from nbgrader.api import Gradebook
    root = make_class({"ada": "perfect"})
    scaffold.nbgrader("autograde", jacobians_course.ASSIGNMENT, cwd=root)
    c = load_course(str(root))
    with Gradebook(c.db_url, c.course_id) as gb:
        gb.find_grade("explain_jacobian_entry", "jacobian", jacobians_course.ASSIGNMENT, "ada").manual_score = 0.5
        gb.find_comment("explain_jacobian_entry", "jacobian", jacobians_course.ASSIGNMENT, "ada").manual_comment = "Half right."
        gb.db.commit()
    scaffold.nbgrader("autograde", jacobians_course.ASSIGNMENT, "--force", "--student", "ada", cwd=root)
    with Gradebook(c.db_url, c.course_id) as gb:
        grade = gb.find_grade("explain_jacobian_entry", "jacobian", jacobians_course.ASSIGNMENT, "ada")
        assert grade.manual_score == 0.5 and grade.score == 0.5
        comment = gb.find_comment("explain_jacobian_entry", "jacobian", jacobians_course.ASSIGNMENT, "ada")
        assert comment.manual_comment == "Half right."
        assert gb.find_grade("test_jacobian_by_hand", "jacobian", jacobians_course.ASSIGNMENT, "ada").score == 3
