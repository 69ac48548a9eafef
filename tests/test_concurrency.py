"""Concurrent writers lose nothing, on SQLite and on PostgreSQL.

While `autograder grade` (the real CLI, with the stand-in grader of test_batch taking four seconds
per notebook) writes a class, this test records manual grades and comments the way the
Formgrader's API does, for every student as soon as their submission is in the gradebook; a
second `autograder grade` started meanwhile refuses, naming the first.  Afterwards every
autograde score, manual grade and comment is there.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from autograder.cli import BUSY
from autograder.course.directory import load_course
from small_course import VENV_BIN
from test_batch import ASG, FAKE, submit

TESTS = str(Path(__file__).parent)
STUDENTS = [f"s{i:02d}" for i in range(8)]
# Long enough that the first grader still runs after a second CLI starts on a loaded machine.
SLOW = {"one": "# score: 1\n# sleep 4", "two": "# score: 0.5\n# sleep 4"}


def _use_database(root: Path, db_url: str) -> None:
    """Point a copy of the small course at another gradebook and register the assignment there."""
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(f"c.CourseDirectory.db_url = {db_url!r}\n")
    (root / "gradebook.db").unlink(missing_ok=True)
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    for args in (["db", "assignment", "add", ASG, "--duedate=2026-01-10 12:00:00 UTC"],
                 ["generate_assignment", ASG, "--force"]):
        subprocess.run([str(VENV_BIN / "nbgrader"), *args], cwd=root, check=True,
                       capture_output=True, env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def class_course(request, template_course, tmp_path):  # noqa: F811
    root = tmp_path / "course"
    shutil.copytree(template_course, root)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database(f"c{uuid.uuid4().hex[:12]}")
        _use_database(root, url)
    for student in STUDENTS:
        submit(root, student, SLOW)
    return root


def _grade_cmd(root: Path, log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=TESTS)
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASG, "--grader", FAKE,
                                 "--workers", "2"], cwd=root, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _run_grade(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", ASG, "--grader", FAKE],
                          cwd=root, env=dict(os.environ, PYTHONPATH=TESTS), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _grade_by_hand(gb, student: str) -> bool:
    """What the Formgrader's grade and comment handlers do; False if not in the gradebook yet."""
    from nbgrader.api import MissingEntry
    try:
        grade = gb.find_grade("explain_alpha", "one", ASG, student)
        comment = gb.find_comment("explain_alpha", "one", ASG, student)
    except MissingEntry:
        gb.db.rollback()
        return False
    grade.manual_score = 0.5
    grade.extra_credit = 0.25
    grade.needs_manual_grade = False
    gb.db.commit()
    comment.manual_comment = f"{student}: right idea, say why the sign flips"
    gb.db.commit()
    return True


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"grader exited early:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} in time:\n{log.read_text()}"
        time.sleep(0.1)


@pytest.mark.slow
def test_manual_grades_while_grading_and_a_second_grader_refuses(class_course, tmp_path):
    from nbgrader.api import Gradebook

    root = class_course
    course = load_course(str(root))
    postgres = course.db_url.startswith("postgresql")
    if postgres:   # a copy of the course on another machine, sharing the gradebook
        elsewhere = tmp_path / "elsewhere"
        shutil.copytree(root, elsewhere)
    log = tmp_path / "grade.log"
    first = _grade_cmd(root, log)
    try:
        _wait_for(log, "[1/", first)           # it holds the course and is writing

        second = _run_grade(root)
        assert second.returncode == BUSY, second.stdout + second.stderr
        assert f"another `autograder grade` (pid {first.pid} on " in second.stderr
        assert "wait for it to finish" in second.stderr
        if postgres:
            other = _run_grade(elsewhere)
            assert other.returncode == BUSY, other.stdout + other.stderr
            assert "advisory lock" in other.stderr
        assert first.poll() is None, "the first grader finished before the others tried"

        by_hand_while_grading = set()
        with Gradebook(course.db_url, course.course_id) as gb:
            while first.poll() is None:
                for student in sorted(set(STUDENTS) - by_hand_while_grading):
                    if _grade_by_hand(gb, student) and first.poll() is None:
                        by_hand_while_grading.add(student)
                time.sleep(0.2)
            assert first.wait() == 0, log.read_text()
            for student in STUDENTS:
                assert _grade_by_hand(gb, student)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert by_hand_while_grading, "no manual grade landed while the grader was writing"
    assert "16 notebooks graded (8 students committed), 0 failed" in log.read_text()

    with Gradebook(course.db_url, course.course_id) as gb:
        for student in STUDENTS:
            sub = gb.find_submission(ASG, student)
            grades = {(nb.name, g.name): g for nb in sub.notebooks for g in nb.grades}
            assert grades[("one", "test_alpha")].auto_score == 2.0
            assert grades[("two", "test_beta")].auto_score == 1.5
            manual = grades[("one", "explain_alpha")]
            assert (manual.manual_score, manual.extra_credit, manual.needs_manual_grade) == (0.5, 0.25, False)
            comment = gb.find_comment("explain_alpha", "one", ASG, student)
            assert comment.manual_comment == f"{student}: right idea, say why the sign flips"
            assert sub.score == 2.0 + 1.5 + 0.5 + 0.25
            assert (root / "autograded" / student / ASG / "one.ipynb").exists()
    # the lock went with the first grader: grading again runs (and finds nothing left)
    again = _run_grade(root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 notebooks graded (0 students committed), 0 failed, 8 skipped" in again.stdout


HOLDER = """
import sys, time
from autograder.batch.lock import hold
lock = hold(course_root=sys.argv[1], db_url="sqlite:///x", course_id="c")
print("held", flush=True)
time.sleep(600)
"""


def test_a_killed_grader_leaves_no_lock(tmp_path):
    from autograder.batch.lock import CourseBusy, hold

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CourseBusy, match=f"pid {holder.pid} on "):
            hold(course_root=str(tmp_path), db_url="sqlite:///x", course_id="c")
    finally:
        holder.kill()          # SIGKILL: no clean-up runs
        holder.wait()
    hold(course_root=str(tmp_path), db_url="sqlite:///x", course_id="c").close()
