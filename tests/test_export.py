"""`autograder export`: a Canvas gradebook export filled in, and a per-exercise CSV."""
from __future__ import annotations

import csv

from test_batch import ASG, course, run, template_course  # noqa: F401  (fixtures)
from test_cli import cli_run

# the layout Canvas exports (Grades > Export): five fixed columns, one per assignment with its
# id in parentheses, read-only totals, and the "Points Possible" row
CANVAS = '''Student,ID,SIS User ID,SIS Login ID,Section,asg (4321),Quiz 1 (999),Current Score,Final Score
    Points Possible,,,,,6.00,10.00,(read only),(read only)
"Smith, Alice",101,2001,alice,Sec 1,,7.00,70,70
"Brown, Bob",102,2002,bob,Sec 1,,8.00,80,80
"Carr, Carol",103,2003,c.arol,Sec 2,,9.00,90,90
"Doe, Zed",104,2004,zed,Sec 2,,6.00,60,60
Test Student,105,,,Sec 1,,,,
'''


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_canvas_gradebook_filled_matched_and_unmatched_listed(course, tmp_path):  # noqa: F811
    run(course)
    from nbgrader.api import Gradebook
    from autograder.course.directory import load_course
    c = load_course(str(course))
    with Gradebook(c.db_url, c.course_id) as gb:       # carol is known to Canvas by another login
        gb.update_or_create_student("carol", lms_user_id="c.arol")
    canvas = tmp_path / "canvas.csv"
    canvas.write_text(CANVAS)
    p = cli_run(course, "export", ASG, "--canvas", str(canvas))
    assert p.returncode == 0, p.stderr
    out = tmp_path / "canvas-import.csv"
    assert p.stdout.strip() == str(out)
    rows = _rows(out)
    assert rows[0] == CANVAS.splitlines()[0].split(",")           # columns kept as Canvas wrote them
    by = {r[3]: r for r in rows[2:]}
    assert by["alice"][5] == "5" and by["bob"][5] == "1" and by["c.arol"][5] == "2"
    assert by["zed"][5] == "" and by["alice"][6] == "7.00"       # others untouched
    assert rows[1][5] == "6"                                      # points possible
    assert "in the LMS file but not in the gradebook (left as they were): Doe, Zed (SIS Login ID zed), " \
           "Test Student (SIS Login ID empty)" in p.stderr
    assert "in the gradebook but not in the LMS file (not exported): dave" in p.stderr


def test_canvas_column_added_when_missing_and_match_column(course, tmp_path):  # noqa: F811
    run(course)
    canvas = tmp_path / "gb.csv"
    canvas.write_text(CANVAS.replace("asg (4321)", "Other (1)").replace(",2001,", ",alice2,"))
    out = tmp_path / "to-canvas.csv"
    p = cli_run(course, "export", ASG, "--canvas", str(canvas), "--match", "SIS User ID", "--output", str(out))
    assert p.returncode == 0, p.stderr
    rows = _rows(out)
    assert rows[0][-1] == ASG and rows[1][-1] == "6"             # Canvas creates it on import
    by = {r[2]: r for r in rows[2:]}
    assert by["2002"][-1] == "" and by["alice2"][-1] == ""       # matched on SIS User ID: nobody
    p = cli_run(course, "export", ASG, "--canvas", str(canvas), "--match", "Login")
    assert p.returncode != 0 and "no 'Login' column" in p.stderr


def test_csv_one_column_per_exercise(course, tmp_path):  # noqa: F811
    run(course)
    out = tmp_path / "grades.csv"
    p = cli_run(course, "export", ASG, "--csv", str(out))
    assert p.returncode == 0, p.stderr
    rows = _rows(out)
    assert rows[0] == ["student", "asg:alpha", "asg:explain_alpha", "asg:beta", "asg:late_penalty", "asg:total"]
    by = {r[0]: r[1:] for r in rows[1:]}
    assert by["alice"] == ["2", "", "3", "0", "5"]               # the written answer awaits a human
    assert by["bob"] == ["1", "", "0", "0", "1"]
    assert by["dave"] == ["2", "", "3", "5", "0"]                # late: penalty_method = "zero"
