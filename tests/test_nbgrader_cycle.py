"""The instructor's whole cycle with the REAL nbgrader CLI on a temp course:

generate_assignment -> release_assignment -> (students) fetch_assignment, answer, submit
-> collect -> autograde -> generate_feedback -> export

with a course-local exchange and three students: one who hands in the worked solutions, one
who hands in the untouched release, and one with a typical mistake in every notebook (plus a
right answer that emits a Python warning).

It runs twice: as the course is configured (`nbgrader autograde` routed through the hardened
grader by nbgrader_config.py) and with AUTOGRADER_STOCK_EXECUTE=1, nbgrader's own kernel
execution of the test cells in the student's kernel, for the student with mistakes and a
warning only (there stderr output would cost points; each notebook costs a kernel start).
Autograde costs seconds per notebook, so each class is graded once and every test reads the
results.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from autograder.intake import notebook_text
from autograder.dev import samples, scaffold
import jacobians_course

pytestmark = pytest.mark.slow

A = jacobians_course.ASSIGNMENT
COURSE_ID = "jacobians-dl"
MIXED = ["transposed_jacobian", "warning_but_correct", "chain_in_wrong_order",
         "full_matrix_vjp", "missing_sigmoid_derivative"]
ROSTER = {"perfect_pat": "perfect", "blank_bo": "blank", "mixed_mo": MIXED}


def _student(args, home: Path, exchange: Path, student: str):
    env = scaffold.course_env(home, {"HOME": str(home)})
    return scaffold.nbgrader(*args, "--course", COURSE_ID, f"--Exchange.root={exchange}",
                            cwd=home, env=env)


MODES = {"configured": {}, "kernel": {"AUTOGRADER_STOCK_EXECUTE": "1"}}


@pytest.fixture(scope="module", params=list(MODES))
def cycle(request, tmp_path_factory):
    mode = request.param
    roster = {s: spec for s, spec in ROSTER.items() if mode == "configured" or s == "mixed_mo"}
    tmp = tmp_path_factory.mktemp(f"cycle-{mode}")
    course = scaffold.make_course(tmp / "course", release=False)
    exchange = course / "exchange"
    run = {}

    def instructor(*args):
        t0 = time.monotonic()
        proc = scaffold.nbgrader(*args, cwd=course,
                                env=scaffold.course_env(course, MODES[mode]))
        run[args[0]] = proc.stdout + proc.stderr
        print(f"[{mode}] nbgrader {args[0]}: {time.monotonic() - t0:.1f} s")
        return proc

    instructor("generate_assignment", A, "--force")
    instructor("release_assignment", A)
    assert (exchange / COURSE_ID / "outbound" / A / "jacobian.ipynb").exists()

    for student, spec in roster.items():
        home = tmp / "home" / student
        home.mkdir(parents=True)
        _student(["fetch_assignment", A], home, exchange, student)
        fetched = home / A
        assert sorted(p.stem for p in fetched.glob("*.ipynb")) == sorted(jacobians_course.NOTEBOOKS)
        samples.write_submission(fetched, spec, release_dir=fetched,
                                 source_dir=course / "source" / A)
        _student(["submit", A, "--student", student], home, exchange, student)

    instructor("collect", A)
    instructor("autograde", A)
    instructor("generate_feedback", A)
    instructor("export", "--to", str(course / "grades.csv"))
    return {"course": course, "log": run, "mode": mode, "roster": roster,
            "scores": scaffold.gradebook_scores(course, A)}


def test_collect_puts_each_submission_in_place(cycle):
    for student in cycle["roster"]:
        folder = cycle["course"] / "submitted" / student / A
        assert sorted(p.stem for p in folder.glob("*.ipynb")) == sorted(jacobians_course.NOTEBOOKS)
        assert (folder / "timestamp.txt").exists()


def test_perfect_submission_gets_every_autograded_point(cycle):
    if "perfect_pat" not in cycle["roster"]:
        pytest.skip("no perfect student in this mode")
    scores = cycle["scores"]["perfect_pat"]
    points = notebook_text.test_points(cycle["course"] / "source" / A)
    assert {gid: scores[gid] for gid in points} == points
    assert sum(scores[gid] for gid in points) == 29


def test_blank_submission_gets_nothing(cycle):
    if "blank_bo" not in cycle["roster"]:
        pytest.skip("no blank student in this mode")
    scores = cycle["scores"]["blank_bo"]
    assert sum(scores[nb] for nb in jacobians_course.NOTEBOOKS) == 0


def test_each_mistake_loses_points_only_where_it_is(cycle):
    scores = cycle["scores"]["mixed_mo"]
    wrong = samples.unexpected_scores(scores, MIXED, cycle["course"] / "source" / A)
    assert not wrong, f"score outside the expected range: {wrong}"


def test_a_warning_costs_nothing(cycle):
    assert cycle["scores"]["mixed_mo"]["test_affine_jacobian"] == 1.0


def test_export_writes_the_scores(cycle):
    with open(cycle["course"] / "grades.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(cycle["roster"])
    expected_total = {"perfect_pat": 29.0, "blank_bo": 0.0,
                      "mixed_mo": sum(cycle["scores"]["mixed_mo"][nb] for nb in jacobians_course.NOTEBOOKS)}
    for student, row in rows.items():
        assert float(row["raw_score"]) == pytest.approx(expected_total[student])
        assert float(row["max_score"]) == 33.0
    assert 0 < float(rows["mixed_mo"]["raw_score"]) < 29


def _feedback(cycle, student, notebook) -> str:
    path = cycle["course"] / "feedback" / student / A / f"{notebook}.html"
    assert path.exists(), f"no feedback at {path}"
    return path.read_text()


@pytest.mark.parametrize("student", list(ROSTER))
def test_every_student_gets_feedback_without_hidden_tests(cycle, student):
    if student not in cycle["roster"]:
        pytest.skip("not in this mode's class")
    for notebook in jacobians_course.NOTEBOOKS:
        html = _feedback(cycle, student, notebook)
        assert "hidden=True" not in html
        assert "BEGIN HIDDEN TESTS" not in html


def test_feedback_shows_scores(cycle):
    if "perfect_pat" not in cycle["roster"]:
        pytest.skip("no perfect student in this mode")
    html = _feedback(cycle, "perfect_pat", "jacobian")
    # 7 autograded points; the explanation (1 point) is graded by hand later
    assert "7.0" in html and "8.0" in html
    assert "Score:" in html or "score" in html.lower()


def test_feedback_names_the_mistake(cycle):
    html = _feedback(cycle, "mixed_mo", "jacobian").lower()
    assert "transpose" in html
    assert "jacobian_by_hand" in html
