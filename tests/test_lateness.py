"""Late work: per-student due dates (`autograder extend`), the per-day penalty, time zones, and
submissions whose timestamp.txt is missing or not a time."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from autograder.hooks import lateness
from autograder.term import report
from autograder.dev import scaffold
import jacobians_course
from autograder.course.directory import load_course

from test_batch import ASG, FAKE, run, submit  # noqa: F401  (fixtures)
from test_cli import cli_run

PER_DAY = ('c.AssignLatePenalties.plugin_class = "autograder.hooks.lateness.PerDayLatePenalty"\n'
           'c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades", '
           '"autograder.hooks.lateness.ExplainLatePenalty", "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"]\n')


@pytest.fixture
def late_class(template_course, tmp_path):  # noqa: F811
    import shutil
    root = tmp_path / "course"
    shutil.copytree(template_course, root)
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(PER_DAY)
    # due 2026-01-10 12:00 UTC; every answer scores full marks (one: 2 points, two: 3 points)
    submit(root, "alice", {}, when="2026-01-09 10:00:00 UTC")                 # on time
    submit(root, "dave", {}, when="2026-01-11 12:00:00 UTC")                  # 1 day late
    submit(root, "erin", {}, when="2026-01-11 12:00:00 UTC")                  # late, extended 2 days
    submit(root, "frank", {}, when="2026-01-12 08:30:00 UTC")                 # 30 min after his Paris date
    submit(root, "gus", {}, when="last Tuesday, after lunch")                 # not a time
    submit(root, "hana", {})
    (root / "submitted" / "hana" / ASG / "timestamp.txt").unlink()            # no timestamp at all
    return root


def _submissions(root):
    from nbgrader.api import Gradebook
    course = load_course(str(root))
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student.id: (float(s.score), float(s.late_submission_penalty or 0), s.extension)
                for s in gb.assignment_submissions(ASG)}


def test_extensions_penalties_and_bad_timestamps(late_class, tmp_path):
    p = cli_run(late_class, "extend", "erin", ASG, "--days", "2")
    assert p.returncode == 0, p.stderr
    assert "erin / asg: due 2026-01-12 12:00 UTC" in p.stdout
    p = cli_run(late_class, "extend", "frank", ASG, "--until", "2026-01-12 09:00 Europe/Paris")
    assert p.returncode == 0, p.stderr
    assert "frank / asg: due 2026-01-12 08:00 UTC" in p.stdout                  # CET is UTC+1
    p = cli_run(late_class, "extend", "nobody", ASG, "--days", "1")
    assert p.returncode != 0 and "No student 'nobody'" in p.stderr
    from nbgrader.api import Gradebook
    course = load_course(str(late_class))
    with Gradebook(course.db_url, course.course_id) as gb:     # on the roster, not handed in yet
        gb.add_student("kim")
    assert cli_run(late_class, "extend", "kim", ASG, "--days", "3").returncode == 0

    s = run(late_class)
    assert not s.failed, s.failed                       # a bad timestamp loses no score
    subs = _submissions(late_class)
    assert subs["alice"] == (5.0, 0.0, None)
    assert subs["dave"][:2] == (5.0, 0.5)               # 1 started day: -10% of 2 and of 3
    assert subs["erin"][:2] == (5.0, 0.0) and subs["erin"][2] == dt.timedelta(days=2)
    assert subs["frank"][:2] == (5.0, 0.5)              # 30 minutes late is a started day
    assert subs["gus"][:2] == (5.0, 0.0) and subs["hana"][:2] == (5.0, 0.0)

    # the summary says how much and why, and flags the unknown submission times
    late = dict(s.late)
    assert set(late) == {"dave", "frank"}
    assert late["dave"] == ("submitted 1 d after the due date 2026-01-10 12:00 UTC: -0.5 points "
                            "(-10% per started day late, at most -50%)")
    assert late["frank"].startswith("submitted 30 min after the due date 2026-01-12 08:00 UTC "
                                    "(extended by 1 d 20 h): -0.5 points")
    problems = {(st, nb): text for st, nb, text in s.problems}
    assert problems[("gus", "timestamp.txt")].startswith("timestamp.txt says 'last Tuesday, after lunch', not a time")
    assert problems[("hana", "timestamp.txt")] == f"no timestamp.txt: {lateness.UNKNOWN_TIME_RULE}"

    # the report too
    report.write_report(load_course(str(late_class)), ASG, str(tmp_path / "rep"))
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "submitted 1 d after the due date 2026-01-10 12:00 UTC: -0.5 points" in page
    assert f"no timestamp.txt: {lateness.UNKNOWN_TIME_RULE}" in page
    assert "<td>kim</td>" not in page and _submissions(late_class)["kim"][2] == dt.timedelta(days=3)
    side = json.loads((late_class / ".autograder" / "graded" / ASG / "gus.json").read_text())
    assert side["timestamp"] is None and side["late_penalty"] == 0

    # and the student's feedback
    scaffold.nbgrader("generate_feedback", ASG, "--student", "dave", "--force", cwd=late_class)
    page = (late_class / "feedback" / "dave" / ASG / "two.html").read_text()
    assert ("This notebook was submitted 1 d after the due date 2026-01-10 12:00 UTC: -0.3 points "
            "(-10% per started day late, at most -50%)") in page


def test_per_day_rule():
    rule = lateness.PerDayLatePenalty(percent_per_day=10, max_percent=50, grace_minutes=5)
    assert rule.late_submission_penalty("x", 10.0, 4 * 60) == 0             # within grace
    assert rule.late_submission_penalty("x", 10.0, 6 * 60) == 1.0           # a started day
    assert rule.late_submission_penalty("x", 10.0, 86400 + 1) == 2.0
    assert rule.late_submission_penalty("x", 10.0, 30 * 86400) == 5.0      # capped


def test_dates_from_the_command_line_are_explicit_about_zones():
    utc = dt.datetime(2026, 7, 1, 10, 0)
    assert lateness.parse_date("2026-07-01 12:00 Europe/Paris") == utc       # CEST, UTC+2
    assert lateness.parse_date("2026-07-01T12:00+02:00") == utc
    assert lateness.parse_date("2026-07-01 06:00", "America/New_York") == utc
    assert lateness.parse_date("2026-07-01 10:00") == utc                    # default: UTC
    with pytest.raises(ValueError):
        lateness.parse_date("2026-07-01 10:00", "Mars/Olympus")


@pytest.mark.slow
def test_routed_nbgrader_autograde_grades_a_submission_with_a_bad_timestamp(make_class):
    """The Formgrader's path (nbgrader's own Autograde converter) follows the same rule."""
    root = make_class({"zed": "perfect"})
    (root / "submitted" / "zed" / jacobians_course.ASSIGNMENT / "timestamp.txt").write_text("garbage")
    proc = scaffold.nbgrader("autograde", jacobians_course.ASSIGNMENT, cwd=root)
    assert "timestamp.txt says 'garbage', not a time" in proc.stderr
    scores = scaffold.gradebook_scores(root, jacobians_course.ASSIGNMENT)["zed"]
    assert scores["test_jacobian_by_hand"] == 3 and scores["test_mlp_jacobian"] == 4


def test_extend_after_grading_regrades_the_penalty_and_revokes(late_class, tmp_path):
    import csv
    assert not run(late_class).failed
    assert _submissions(late_class)["erin"][:2] == (5.0, 0.5)            # 1 day late
    p = cli_run(late_class, "extend", "erin", ASG, "--days", "2")
    assert p.returncode == 0, p.stderr
    assert "late penalty regraded: 0.5 -> 0 points (score now 5)" in p.stdout
    assert _submissions(late_class)["erin"] == (5.0, 0.0, dt.timedelta(days=2))
    p = cli_run(late_class, "extend", "erin", ASG, "--days", "0")        # revoked
    assert p.returncode == 0, p.stderr
    assert "erin / asg: extension revoked" in p.stdout and "0 -> 0.5 points (score now 4.5)" in p.stdout
    assert _submissions(late_class)["erin"] == (5.0, 0.5, None)
    p = cli_run(late_class, "extend", "erin", ASG, "--remove")
    assert p.returncode == 0 and "no extension to revoke" in p.stdout
    # the export and the report follow at once, no regrade
    p = cli_run(late_class, "export", ASG, "--csv", str(tmp_path / "g.csv"))
    assert p.returncode == 0, p.stderr
    by = {r[0]: r for r in csv.reader(open(tmp_path / "g.csv"))}
    assert by["erin"][-2:] == ["0.5", "4.5"]
    data = report.collect(load_course(str(late_class)), ASG)
    assert data.totals["erin"] == 4.5 and data.lateness["erin"].startswith("submitted 1 d after")
    assert [s for _, s in data.history["erin"]] == [4.5, 5.0, 4.5]
    p = cli_run(late_class, "extend", "erin", ASG, "--days", "-1")
    assert p.returncode != 0 and "cannot be negative" in p.stderr and "Traceback" not in p.stderr
