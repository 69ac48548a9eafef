"""The instructor's cycle with a PostgreSQL gradebook: a real server (tests/pgcluster.py, started
by the `postgres` fixture) and NBGRADER_DB_URL pointing at it, as nbgrader_config.py documents.

generate_assignment -> `autograder grade` (two students) and routed `nbgrader autograde` (a
third) -> manual grades and comments through nbgrader's API (what the Formgrader calls) ->
generate_feedback -> export.  Nothing may land in a SQLite file beside the course.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.intake import notebook_text
from autograder.dev import samples, scaffold
import jacobians_course

pytestmark = pytest.mark.slow

A = jacobians_course.ASSIGNMENT
MIXED = ["transposed_jacobian", "chain_in_wrong_order", "relu_one_at_zero", "sigmoid_wrong_sign"]
ROSTER = {"perfect_pat": "perfect", "mixed_mo": MIXED, "routed_ro": "perfect"}
COMMENT = "Clear: the Jacobian's rows are the outputs."


@pytest.fixture(scope="module")
def cycle(postgres, tmp_path_factory):
    course = scaffold.make_course(tmp_path_factory.mktemp("pg-cycle") / "course", release=False)
    url = postgres.create_database("cycle")
    env = scaffold.course_env(course, {"NBGRADER_DB_URL": url})
    scaffold.nbgrader("generate_assignment", A, "--force", cwd=course, env=env)
    samples.write_class(course, ROSTER, assignment=A)

    graded = subprocess.run([str(Path(sys.executable).parent / "autograder"), "grade", A,
                             "--student", "perfect_pat", "--student", "mixed_mo"],
                            cwd=course, env=env, capture_output=True, text=True, timeout=900,
                            stdin=subprocess.DEVNULL)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    scaffold.nbgrader("autograde", A, "--student", "routed_ro", cwd=course, env=env)

    from nbgrader.api import Gradebook
    manual = {}
    with Gradebook(url, "jacobians-dl") as gb:
        for nb in gb.find_submission(A, "perfect_pat").notebooks:
            for grade in nb.grades:
                if grade.cell_type == "markdown":         # the written answers
                    grade.manual_score = grade.max_score
                    grade.needs_manual_grade = False
                    manual[grade.name] = grade.max_score
            for comment in nb.comments:
                if comment.name.startswith("explain_"):
                    comment.manual_comment = COMMENT
        gb.db.commit()

    scaffold.nbgrader("generate_feedback", A, cwd=course, env=env)
    scaffold.nbgrader("export", "--to", str(course / "grades.csv"), cwd=course, env=env)
    with open(course / "grades.csv", newline="") as fh:
        export = {row["student_id"]: row for row in csv.DictReader(fh)}
    return {"course": course, "url": url, "manual": manual, "export": export,
            "scores": scaffold.gradebook_scores(course, A, db_url=url)}


def test_nothing_goes_to_sqlite(cycle):
    assert not list(cycle["course"].glob("*.db"))


def test_both_grading_paths_write_the_same_scores(cycle):
    scores = cycle["scores"]
    points = notebook_text.test_points(cycle["course"] / "source" / A)
    assert {gid: scores["perfect_pat"][gid] for gid in points} == points
    assert {gid: scores["routed_ro"][gid] for gid in points} == points


def test_mistakes_lose_points_where_they_are(cycle):
    scores = cycle["scores"]["mixed_mo"]
    wrong = samples.unexpected_scores(scores, MIXED, cycle["course"] / "source" / A)
    assert not wrong, f"score outside the expected range: {wrong}"


def test_manual_grades_are_kept_and_exported(cycle):
    assert sorted(cycle["manual"]) and sum(cycle["manual"].values()) == 4
    export = cycle["export"]
    assert set(export) == set(ROSTER)
    assert float(export["perfect_pat"]["raw_score"]) == 33.0
    assert float(export["routed_ro"]["raw_score"]) == 29.0
    assert 0 < float(export["mixed_mo"]["raw_score"]) < 29
    assert {float(row["max_score"]) for row in export.values()} == {33.0}


def test_feedback_shows_the_manual_grade_and_comment(cycle):
    html = (cycle["course"] / "feedback" / "perfect_pat" / A / "jacobian.html").read_text()
    assert "jacobian (Score: 8.0 / 8.0)" in html
    assert COMMENT in html


def test_autograder_report_reads_postgres(cycle):
    env = scaffold.course_env(cycle["course"], {"NBGRADER_DB_URL": cycle["url"]})
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", A], cwd=cycle["course"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    scores_csv = Path(proc.stdout.split()[1])
    assert "perfect_pat" in scores_csv.read_text() and os.path.getsize(scores_csv) > 0
