"""`autograder serve`: graded on submit, end to end with the real nbgrader CLI.

Students submit with `nbgrader submit` from homes of their own, which writes the exchange's
inbound; the service grades on the hardened path with warm workers and releases feedback that
the students fetch with `nbgrader fetch_feedback`. One course serves the whole module, in
order: a first submission, a resubmission, one past the limit (``max_graded = 2``), hostile
submissions beside an honest one, the same gradebook as `autograder grade`, SIGTERM,
submissions made while the service was down (a crowd, graded in arrival order), and a `kill -9`
in the middle of a round.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.dev import samples, scaffold
from hostile_harness import student_code
from serve_harness import ASG, Served, Student, journal_rows, open_course, score_history

pytestmark = pytest.mark.slow

LIMIT = 2
SETTINGS = f"c.GradeOnSubmit.max_graded = {LIMIT}"
SERVE_ARGS = ("--workers", "2", "--timeout", "10", "--notebook-timeout", "120")
HOSTILE = {"mallory": "sigkill_itself", "oscar": "spawn_detached_processes_and_a_fork_bomb",
           "trudy": "print_50mb"}


@pytest.fixture(scope="module")
def world(course_template, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    course = open_course(course_template, tmp / "course", settings=SETTINGS)
    state = {"course": course, "homes": tmp / "homes", "students": {}}

    def student(name: str) -> Student:
        if name not in state["students"]:
            state["students"][name] = Student(course, name, state["homes"])
        return state["students"][name]

    state["student"] = student
    state["served"] = Served(course, *SERVE_ARGS)
    yield state
    state["served"].stop(signal.SIGKILL)


def _scores(course: Path) -> dict[str, dict[str, float]]:
    return scaffold.gradebook_scores(course, ASG)


def _source(course: Path) -> Path:
    return course / "source" / ASG


def test_the_rules_refuse_past_the_limit_and_too_soon():
    from autograder.serve.rules import GradeOnSubmit
    rules = GradeOnSubmit(max_graded=3, min_minutes_between=10)
    assert rules.refusal([], now=1000.0) is None
    assert rules.refusal([0.0], now=601.0) is None
    soon = rules.refusal([0.0], now=599.0)
    assert "10 minutes apart" in soon and "1970-01-01 00:10:00 UTC" in soon
    assert "all 3 graded submissions" in rules.refusal([0.0, 700.0, 1400.0], now=9999.0)
    assert GradeOnSubmit().refusal([0.0] * 50, now=1.0) is None      # no limits unless set


def test_scores_only_keeps_a_test_cells_score_and_drops_its_diagnosis():
    import nbformat
    from autograder.serve.deliver import ScoresOnly
    test = nbformat.v4.new_code_cell("check('f', f)", outputs=[nbformat.v4.new_output("stream", text="transpose")])
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_f", "points": 2}
    answer = nbformat.v4.new_code_cell("def f(x): return x", outputs=[nbformat.v4.new_output("stream", text="hi")])
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "f"}
    nb, _ = ScoresOnly().preprocess(nbformat.v4.new_notebook(cells=[answer, test]), {})
    assert nb.cells[1].outputs == [] and nb.cells[0].outputs[0].text == "hi"


def test_the_journal_records_a_submission_once(tmp_path):
    from autograder.serve.journal import GRADED, Journal
    journal = Journal(str(tmp_path / "j.sqlite"))
    seen = dict(assignment=ASG, name="ada+jacobians+t1", student="ada", timestamp="t1")
    assert journal.note(**seen) and not journal.note(**seen)
    [entry] = journal.queued()
    journal.finish(entry, GRADED, "7/7")
    journal.close()
    again = Journal(str(tmp_path / "j.sqlite"))
    assert again.queued() == [] and len(again.graded_at(ASG, "ada")) == 1
    again.close()


def test_a_submission_is_graded_and_its_feedback_fetchable(world):
    ada = world["student"]("ada")
    ada.work("perfect")
    ada.submit()
    world["served"].wait_for("graded ada/")
    feedback = ada.fetch_feedback()
    assert list(feedback) == ada.submissions()           # the feedback of the one submission
    pages = feedback[ada.submissions()[0]]
    assert sorted(pages) == sorted(p.stem for p in (world["course"] / "release" / ASG).glob("*.ipynb"))
    assert all("BEGIN HIDDEN TESTS" not in html for html in pages.values())
    assert samples.unexpected_scores(_scores(world["course"])["ada"], "perfect", _source(world["course"])) == {}


def test_a_resubmission_is_graded_and_the_latest_kept(world):
    ada = world["student"]("ada")
    ada.work("transposed_jacobian")
    ada.submit()
    world["served"].wait_for("graded ada/", 2)
    scores = _scores(world["course"])["ada"]
    assert samples.unexpected_scores(scores, "transposed_jacobian", _source(world["course"])) == {}
    assert scores["test_jacobian_by_hand"] == 0
    first, second = ada.submissions()
    feedback = ada.fetch_feedback()
    assert set(feedback) == {first, second}
    assert "transpose" in feedback[second]["jacobian"]
    assert "transpose" not in feedback[first]["jacobian"]
    assert len(score_history(world["course"], "ada")) == 2


def test_past_the_limit_the_feedback_says_why_and_the_grade_stays(world):
    ada = world["student"]("ada")
    before = _scores(world["course"])["ada"]
    ada.work("perfect")
    ada.submit()
    world["served"].wait_for("not graded ada/")
    third = ada.submissions()[-1]
    feedback = ada.fetch_feedback()
    assert f"all {LIMIT} graded submissions" in feedback[third]["jacobian"]
    assert "not graded" in feedback[third]["chain_rule"]
    assert _scores(world["course"])["ada"] == before
    assert len(score_history(world["course"], "ada")) == 2


def test_hostile_submissions_affect_only_themselves(world):
    course = world["course"]
    bo = world["student"]("bo")
    bo.work("perfect")
    hostile = {name: world["student"](name) for name in HOSTILE}
    for name, attack in HOSTILE.items():
        hostile[name].work("perfect", extra={"jacobian": student_code(attack)})
    for s in [*hostile.values(), bo]:      # all at once: one round grades them together
        s.submit()
    # a link in the inbound (to the instructor's notebooks) is no submission
    inbound = course / "exchange" / "jacobians-dl" / "inbound"
    os.symlink(course / "source" / ASG, inbound / f"eve+{ASG}+2026-12-01 10:00:00.000000 UTC+x")
    world["served"].wait_for("graded bo/")
    for name in HOSTILE:
        world["served"].wait_for(f"graded {name}/")
    assert samples.unexpected_scores(_scores(course)["bo"], "perfect", _source(course)) == {}
    for name in HOSTILE:
        assert hostile[name].fetch_feedback(), name
    assert "eve" not in _scores(course)
    assert not (course / "submitted" / "eve").exists()
    assert "eve" not in {s for s, _, _ in journal_rows(course)}
    # and the service goes on serving
    cy = world["student"]("cy")
    cy.work("forgot_return")
    cy.submit()
    world["served"].wait_for("graded cy/")
    assert samples.unexpected_scores(_scores(course)["cy"], "forgot_return", _source(course)) == {}


def test_scores_identical_to_autograder_grade(world, course_template, tmp_path):
    batch = tmp_path / "batch"
    shutil.copytree(course_template, batch)
    shutil.copytree(world["course"] / "submitted", batch / "submitted")
    (batch / ".autograder").mkdir(exist_ok=True)        # the same hidden probes: the same secret
    shutil.copy(world["course"] / ".autograder" / "secret", batch / ".autograder" / "secret")
    subprocess.run([sys.executable, "-m", "autograder", "grade", ASG, "--workers", "2", "--timeout", "10"],
                   cwd=batch, env=scaffold.course_env(batch), check=True, capture_output=True)
    served = scaffold.gradebook_cells(world["course"], ASG)
    graded = scaffold.gradebook_cells(batch, ASG)
    assert served == graded


def test_sigterm_finishes_the_round_in_flight_and_stops(world):
    served = world["served"]
    ivy = world["student"]("ivy")
    ivy.work("perfect")
    ivy.submit()
    served.wait_for("grading jacobians: ivy")
    assert served.stop(signal.SIGTERM, timeout=300) == 0
    text = served.text()
    assert text.index("graded ivy/") < text.index("stopped")
    assert text.rstrip().endswith("stopped")
    assert all(state != "queued" for _, _, state in journal_rows(world["course"]))
    assert ivy.fetch_feedback()


def test_submissions_made_while_down_are_graded_on_restart_once_each_in_arrival_order(world):
    """What arrived while the service was down is a crowd seen in one look, as just before a
    deadline: queued and graded in the order its submissions finished, not by name, each once.
    Costs about a minute: four real `nbgrader submit`s and four students graded, the fewest that
    fill one round of two workers."""
    crowd = ["dee", "zoe", "kim", "amy"]
    for name in crowd:
        world["student"](name).work("relu_one_at_zero" if name == "dee" else "perfect")
        world["student"](name).submit()
    world["served"] = Served(world["course"], *SERVE_ARGS)
    for name in crowd:
        world["served"].wait_for(f"graded {name}/")
    assert "grading jacobians: dee, zoe, kim, amy\n" in world["served"].text()
    assert samples.unexpected_scores(_scores(world["course"])["dee"], "relu_one_at_zero",
                                     _source(world["course"])) == {}
    rows = journal_rows(world["course"])
    for name in crowd:
        assert [state for s, _, state in rows if s == name] == ["graded"], name
        assert len(score_history(world["course"], name)) == 1, name


def test_kill_9_loses_none_and_grades_none_twice(world):
    names = ["fay", "gus", "hal"]
    for name in names:
        world["student"](name).work("perfect")
        world["student"](name).submit()
    world["served"].wait_for("graded fay/")
    world["served"].stop(signal.SIGKILL)
    world["served"] = Served(world["course"], *SERVE_ARGS)
    for name in names:
        if not any(s == name and state == "graded" for s, _, state in journal_rows(world["course"])):
            world["served"].wait_for(f"graded {name}/")
    rows = journal_rows(world["course"])
    for name in names:
        assert [state for s, _, state in rows if s == name] == ["graded"], name
        assert len(score_history(world["course"], name)) == 1, name
        assert world["student"](name).fetch_feedback(), name
    # every submission of the module, recorded once
    timestamps = [(s, t) for s, t, _ in rows]
    assert len(timestamps) == len(set(timestamps))
    for s, student in world["students"].items():
        assert sorted(t for name, t, _ in rows if name == s) == student.submissions(), s


def test_a_round_waits_while_autograder_grade_holds_the_course(world):
    from autograder.batch.lock import hold
    from autograder.course.directory import load_course
    course = load_course(str(world["course"]))
    lock = hold(course_root=course.root, db_url=course.db_url, course_id=course.course_id)
    try:
        jo = world["student"]("jo")
        jo.work("perfect")
        jo.submit()
        world["served"].wait_for("waiting: another `autograder grade`")
        assert "jo" not in _scores(world["course"])
    finally:
        lock.close()
    world["served"].wait_for("graded jo/")
    assert samples.unexpected_scores(_scores(world["course"])["jo"], "perfect", _source(world["course"])) == {}
