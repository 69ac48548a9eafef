"""`autograder export`: a Canvas gradebook export filled in, in each form Canvas and Excel
write it, and a per-exercise CSV; every bad input gets one line and a non-zero exit."""
from __future__ import annotations

import csv
import shutil

import pytest

from test_batch import ASG, course, run, submit  # noqa: F401  (fixtures)
from test_cli import cli_run

# the layout Canvas exports (Grades > Export): five fixed columns, one per assignment with its
# id in parentheses, read-only totals, the "Points Possible" row, and Canvas's test student
CANVAS = '''Student,ID,SIS User ID,SIS Login ID,Section,Asg (4321),Quiz 1 (999),Current Score,Final Score
    Points Possible,,,,,6.00,10.00,(read only),(read only)
"Smith, Alice",101,2001,ALICE,Sec 1,,7.00,70,70
"Brown, Bob",102,2002,bob,Sec 1,,8.00,80,80
"Müller, Carol",103,2003,C.Arol,Sec 2,,9.00,90,90
"Doe, Zed",104,2004,zed,Sec 2,,6.00,60,60
"Student, Test",105,,,Sec 1,,,,
'''
TOTALS = {"ALICE": "5", "bob": "1", "C.Arol": "2"}      # dave (late, penalty zero) is not in Canvas


@pytest.fixture(scope="module")
def graded(template_course, tmp_path_factory):  # noqa: F811
    from nbgrader.api import Gradebook
    from autograder.course.directory import load_course
    root = tmp_path_factory.mktemp("export") / "course"
    shutil.copytree(template_course, root)
    submit(root, "alice", {"one": "# score: 1", "two": "# score: 1"})
    submit(root, "bob", {"one": "# score: 0.5", "two": "# score: 0"})
    submit(root, "carol", {"one": "# score: 1", "two": None})
    submit(root, "dave", {"one": "# score: 1", "two": "# score: 1"}, when="2026-01-11 12:00:00 UTC")
    run(root)
    c = load_course(str(root))
    with Gradebook(c.db_url, c.course_id) as gb:       # carol is known to Canvas by another login
        gb.update_or_create_student("carol", lms_user_id="c.arol")
    return root


def _read(path, encoding="utf-8", delimiter=","):
    with open(path, newline="", encoding=encoding) as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def _export(root, canvas, *flags):
    return cli_run(root, "export", ASG, "--canvas", str(canvas), *flags)


def _one_line_error(p, text):
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and text in p.stderr, p.stderr


def test_canvas_column_found_by_title_and_students_by_login_ignoring_case(graded, tmp_path):
    canvas = tmp_path / "canvas.csv"
    canvas.write_text(CANVAS, encoding="utf-8")
    p = _export(graded, canvas)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "canvas-import.csv"
    assert p.stdout.strip() == str(out)
    assert "asg: filled the column 'Asg (4321)' for 3 students" in p.stderr
    rows, given = _read(out), list(csv.reader(CANVAS.splitlines()))
    assert len(rows) == len(given) and [r[0] for r in rows] == [r[0] for r in given]   # order, count
    assert rows[0] == given[0] and rows[1] == given[1]       # header and Points Possible as Canvas wrote them
    assert {r[3]: r[5] for r in rows[2:]} == {**TOTALS, "zed": "", "": ""}
    assert rows[2][6] == "7.00" and rows[-1] == given[-1]    # other columns, the test student untouched
    assert "in the LMS file but not in the gradebook (left as they were): Doe, Zed (SIS Login ID zed)" in p.stderr
    assert "Test Student" not in p.stderr and "Student, Test" not in p.stderr
    assert "in the gradebook but not in the LMS file (not exported): dave" in p.stderr
    assert not out.read_bytes().startswith(b"\xef\xbb\xbf")


def test_canvas_semicolons_bom_and_windows_1252_come_back_as_canvas_reads_them(graded, tmp_path):
    semi = tmp_path / "semi.csv"        # Canvas's "semicolons" setting, with decimal commas and a BOM
    given = list(csv.reader(CANVAS.splitlines()))
    given[1][5:7] = ["6,00", "10,00"]
    semi.write_text("\ufeff" + "\n".join(";".join(r) for r in given), encoding="utf-8")
    p = _export(graded, semi)
    assert p.returncode == 0, p.stderr
    raw = (tmp_path / "semi-import.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _read(tmp_path / "semi-import.csv", "utf-8-sig", ";")
    assert rows[0][5] == "Asg (4321)" and rows[1][5] == "6,00" and rows[4][0] == "Müller, Carol"
    assert {r[3]: r[5] for r in rows[2:5]} == TOTALS

    excel = tmp_path / "excel.csv"      # re-saved by Excel on Windows
    excel.write_bytes(CANVAS.encode("cp1252"))
    p = _export(graded, excel, "--output", str(tmp_path / "to-canvas.csv"))
    assert p.returncode == 0, p.stderr
    rows = _read(tmp_path / "to-canvas.csv", "utf-8-sig")   # UTF-8 for Canvas, a BOM for Excel
    assert rows[4][0] == "Müller, Carol" and {r[3]: r[5] for r in rows[2:5]} == TOTALS


def test_canvas_column_mapped_or_added_only_when_asked(graded, tmp_path):
    canvas = tmp_path / "gb.csv"
    canvas.write_text(CANVAS.replace("Asg (4321)", "Jacobians (123456)"))
    p = _export(graded, canvas)
    _one_line_error(p, "no column for asg (assignment columns: 'Jacobians (123456)', 'Quiz 1 (999)')")
    assert "--column asg=" in p.stderr and "--add-column" in p.stderr
    assert not (tmp_path / "gb-import.csv").exists()
    for mapping in ('asg=Jacobians (123456)', "asg=jacobians", "asg=123456"):
        p = _export(graded, canvas, "--column", mapping)
        assert p.returncode == 0, p.stderr
        assert "asg: filled the column 'Jacobians (123456)' for 3 students" in p.stderr
        assert {r[3]: r[5] for r in _read(tmp_path / "gb-import.csv")[2:5]} == TOTALS
    with open(graded / "nbgrader_config.py") as fh:
        config = fh.read()
    try:                                # the same mapping as a setting
        with open(graded / "nbgrader_config.py", "a") as fh:
            fh.write('c.CanvasExport.columns = {"asg": "Jacobians"}\n')
        assert _export(graded, canvas).returncode == 0
    finally:
        (graded / "nbgrader_config.py").write_text(config)
    _one_line_error(_export(graded, canvas, "--column", "asg=Homework 9"), "no column 'Homework 9' for asg")
    _one_line_error(_export(graded, canvas, "--column", "asg"), "write it ASSIGNMENT=")

    p = _export(graded, canvas, "--add-column")
    assert p.returncode == 0, p.stderr
    assert "a new column: Canvas creates the assignment on import" in p.stderr
    rows = _read(tmp_path / "gb-import.csv")
    assert rows[0][-1] == ASG and rows[1][-1] == "6" and rows[2][-1] == "5"


def test_canvas_match_column_and_nothing_matched(graded, tmp_path):
    canvas = tmp_path / "gb.csv"
    canvas.write_text(CANVAS.replace(",2001,", ",alice,"))
    p = _export(graded, canvas, "--match", "SIS User ID")
    assert p.returncode == 0, p.stderr
    assert {r[2]: r[5] for r in _read(tmp_path / "gb-import.csv")[2:4]} == {"alice": "5", "2002": ""}
    (tmp_path / "gb-import.csv").unlink()
    p = _export(graded, canvas, "--match", "Section")
    _one_line_error(p, "no student of")
    assert "matched the gradebook by 'Section'" in p.stderr and not (tmp_path / "gb-import.csv").exists()
    _one_line_error(_export(graded, canvas, "--match", "Login"), "no 'Login' column")


def test_canvas_bad_files_get_one_line(graded, tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text(CANVAS.splitlines()[0] + "\n")
    _one_line_error(_export(graded, header_only), "has no student rows")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(_export(graded, empty), "is empty")
    xlsx = tmp_path / "grades.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    _one_line_error(_export(graded, xlsx), "(an Excel .xlsx or OpenDocument workbook?), not a CSV file")
    png = tmp_path / "grades.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    _one_line_error(_export(graded, png), "is not a text file")
    _one_line_error(_export(graded, tmp_path / "nowhere.csv"), "nowhere.csv: no such file")
    _one_line_error(_export(graded, tmp_path), "is a folder")
    canvas = tmp_path / "canvas.csv"
    canvas.write_text(CANVAS)
    _one_line_error(_export(graded, canvas, "--output", str(tmp_path / "no" / "out.csv")),
                    f"cannot write {tmp_path / 'no' / 'out.csv'}: no folder")
    _one_line_error(_export(graded, canvas, "--output", str(canvas)), "would overwrite the Canvas export")
    _one_line_error(cli_run(graded, "export", ASG, "--csv", str(tmp_path / "no" / "g.csv")), "no folder")


def test_csv_one_column_per_exercise(graded, tmp_path):
    out = tmp_path / "grades.csv"
    p = cli_run(graded, "export", ASG, "--csv", str(out))
    assert p.returncode == 0, p.stderr
    rows = _read(out)
    assert rows[0] == ["student", "asg:alpha", "asg:explain_alpha", "asg:beta", "asg:late_penalty", "asg:total"]
    by = {r[0]: r[1:] for r in rows[1:]}
    assert by["alice"] == ["2", "", "3", "0", "5"]               # the written answer awaits a human
    assert by["bob"] == ["1", "", "0", "0", "1"]
    assert by["dave"] == ["2", "", "3", "5", "0"]                # late: penalty_method = "zero"
