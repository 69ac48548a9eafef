"""`autograder report`: HTML (plot embedded) and CSV from the gradebook and the writer's sidecars."""
from __future__ import annotations

import csv
import os
import re

import pytest

from autograder.dev import demo
from autograder.term import report
import jacobians_course
from autograder.course.directory import load_course

from test_batch import ASG, course, run, submit  # noqa: F401  (fixtures)


def test_report_html_and_csv(course, tmp_path):  # noqa: F811
    submit(course, "zoe", {"one": "# score: 0", "two": "# score: 0"})
    run(course)
    out = tmp_path / "rep"
    paths = report.write_report(load_course(str(course)), ASG, str(out))
    assert [p.rsplit("/", 1)[1] for p in paths] == ["report.html", "scores.csv", "diagnoses.csv"]
    page = (out / "report.html").read_text()
    # self-contained: the plot is an inline PNG, nothing is fetched
    png = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert png and len(png.group(1)) > 1000
    assert "http" not in page.replace("http-equiv", "")
    # per exercise: test_alpha scored 2, 1, 2, 2, 0 of 2 -> mean 1.40; 3 full, 1 partial, 1 wrong
    assert ("<tr><td>alpha</td><td>one</td><td class='n'>2</td><td class='n'>1.40</td>"
            "<td class='n'>3</td><td class='n'>1</td><td class='n'>1</td><td class='n'>0</td></tr>") in page
    # most common diagnoses, counted in students: bob and zoe transposed both exercises
    assert "<td>alpha</td><td>transposed Jacobian</td><td class='n'>2</td><td>bob, zoe</td>" in page
    # problems: carol did not submit notebook two
    assert "two.ipynb was not submitted" in page

    rows = list(csv.DictReader(open(out / "scores.csv")))
    by = {r["student"]: r for r in rows}
    assert by["alice"]["total"] == "5" and by["bob"]["test_alpha"] == "1"
    # dave was late and penalty_method = "zero": his total is 0 after the penalty
    assert by["dave"]["late_penalty"] == "5" and by["dave"]["total"] == "0"
    diags = list(csv.DictReader(open(out / "diagnoses.csv")))
    assert {"exercise": "beta", "diagnosis": "transposed Jacobian", "students": "2",
            "who": "bob zoe"} in diags


# --------------------------------------------------------------- a real class, really graded
# (the graded_class fixture of conftest.py)
def test_categories_course_order_and_blank_apart(graded_class):
    course = load_course(str(graded_class))
    data = report.collect(course, jacobians_course.ASSIGNMENT)
    assert data.notebooks == jacobians_course.TAUGHT           # the order the course teaches
    assert list(data.exercises)[:3] == ["test_jacobian_by_hand", "test_numerical_jacobian",
                                        "test_affine_jacobian"]
    by_hand = data.exercises["test_jacobian_by_hand"]
    assert by_hand.categories == {"ada": "full", "cy": "full", "ben": "wrong", "bo": "wrong",
                                  "finn": "blank"}
    relu = data.exercises["test_relu_jacobian"]
    assert relu.categories["ben"] == "partial" and relu.count("full") == 3
    affine = data.exercises["test_affine_jacobian"]
    assert affine.categories["cy"] == "wrong"
    # written answers: the blank one is blank, the others wait for a human
    explain = data.exercises["explain_jacobian_entry"]
    assert explain.manual and explain.count("awaiting") == 4 and explain.categories["finn"] == "blank"
    # the blank student raised NotImplementedError everywhere: not a diagnosis to re-explain
    diags = report.common_diagnoses(data)
    assert not any("finn" in d.students for d in diags)
    assert [(d.exercise, d.code, d.students) for d in diags] == [
        ("jacobian_by_hand", "transpose", ["ben", "bo"]), ("affine_jacobian", "none", ["cy"]),
        ("relu_jacobian", "diagonal_only", ["ben"])]


def test_report_page_examples_and_links(graded_class, tmp_path):
    course = load_course(str(graded_class))
    out = tmp_path / "rep"
    report.write_report(course, jacobians_course.ASSIGNMENT, str(out))
    page = (out / "report.html").read_text()
    assert str(out / "report.html") in page                     # says where it was written
    assert "awaiting manual grading (4 of 5)" in page
    assert page.count("data:image/png;base64,") == 2           # category chart + histogram
    # one anonymised example per common diagnosis: the function's code and its feedback
    example = page.split("What these mistakes look like", 1)[1].split("<h2>", 1)[0]
    first = example.split("<h4>", 2)[1]
    assert first.startswith("jacobian_by_hand:") and "def jacobian_by_hand(p):" in first
    assert "ben" not in example and "bo" not in example
    assert "expected" in first.lower()
    # student rows link to the feedback files that exist
    href = os.path.relpath(graded_class / "feedback" / "ada" / jacobians_course.ASSIGNMENT / "jacobian.html", out)
    assert f"<a href='{href}'>jacobian 7</a>" in page
    assert (out / href).resolve().is_file()
    # worth a second look: the two who handed in the same transposed answer; ada and cy share
    # only the instructor's worked solution, which is the course's own code and no evidence
    second_look = page.split("Answers worth a second look", 1)[1].split("<h2>", 1)[0]
    assert re.findall(r"<h4>(\w+ and \w+: \w+)", second_look) == ["ben and bo: jacobian_by_hand"]
    assert "<td>finn</td>" in page and "href" not in page.split("<td>finn</td>", 1)[1].split("</tr>", 1)[0]


@pytest.mark.slow
def test_make_demo_report_shows_the_copied_pair_and_the_late_student(tmp_path):
    assert demo.main(["--dest", str(tmp_path / "demo")]) == 0
    page = (tmp_path / "demo" / ".autograder" / "reports" / jacobians_course.ASSIGNMENT / "report.html").read_text()
    second_look = page.split("Answers worth a second look", 1)[1].split("<h2>", 1)[0]
    assert second_look.count("<h4>") == 1 and "<h4>gwen and hugo: numerical_jacobian (jacobian)" in second_look
    row = page.split("<td>ivy</td>", 1)[1].split("</tr>", 1)[0]
    assert "submitted 1 d 3 h after the due date 2026-11-21 12:00 UTC: -5.8 points" in row
