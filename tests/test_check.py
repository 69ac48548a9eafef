"""check(): what a notebook test cell sees; call_student's capture and conversion; secrets."""
from __future__ import annotations

import math
import os
import shutil
import stat
import sys
import warnings

import numpy as np
import pytest
import torch

from autograder import Score, check
from autograder.inside.calling import call_student, to_plain
from autograder.course.builders import T
from autograder.judge.selfcheck import grading_context
from autograder.protocol.rules import Rules
from autograder.course.seeds import course_secret, student_seed
from autograder.protocol.values import Probe, Unconvertible
from jacobians_course import REPO_ROOT


def jacobian_by_hand(p):
    x, y = p[0], p[1]
    return [[2 * x, 1.0], [y, x], [torch.exp(x), 0.0]]  # nested list with 0-d tensors


def test_check_prints_feedback_and_returns_a_score(capfd):
    s = check("jacobian_by_hand", jacobian_by_hand)
    out, err = capfd.readouterr()
    assert isinstance(s, Score) and isinstance(s, float) and s == 3.0 and repr(s) == "3.0"
    assert "visible check passed: 1 of 1" in out and "This is not your grade" in out
    assert "score" not in out.split("This is not")[0] and "Well done" not in out
    assert s._repr_markdown_() == ("jacobian_by_hand: visible check passed: 1 of 1. Not your grade: hidden inputs "
                                   "and special cases decide it.")
    assert err == ""


def test_a_self_check_right_at_general_inputs_only_does_not_look_like_the_grade(capfd):
    """An answer with ReLU's slope 1 at 0 passes the visible general checks, fails the visible
    special case, and is told which checks those were, with no score."""
    def layer_jacobian(W, b, x, activation):
        z = W @ x + b
        slope = {"relu": (z >= 0).to(z.dtype), "tanh": 1 - torch.tanh(z) ** 2,
                 "sigmoid": torch.sigmoid(z) * torch.sigmoid(-z)}[activation]
        return slope[:, None] * W
    s = check("layer_jacobian", layer_jacobian)
    out = capfd.readouterr().out
    assert 0 < s < 3
    assert out.startswith("layer_jacobian: visible checks partly passed: 3 of 4\n")
    assert "score 0" not in out and "/3" not in out and "Well done" not in out and "All checks passed" not in out
    assert "(special case)" in out and "This is not your grade" in out


def test_under_nbgrader_validate_a_failing_check_writes_its_feedback_to_stderr(capfd, monkeypatch):
    monkeypatch.setenv("NBGRADER_VALIDATING", "1")
    assert check("jacobian_by_hand", lambda p: torch.zeros(2, 3, dtype=torch.float64)) == 0
    out, err = capfd.readouterr()
    assert out == "" and "wrong shape: you returned (2, 3), expected (3, 2)" in err and "p = [1, 2]" in err
    assert check("jacobian_by_hand", jacobian_by_hand) == 3
    out, err = capfd.readouterr()
    assert err == "" and "visible check passed: 1 of 1" in out


def test_score_repr_is_rounded():
    assert repr(Score(2.2500000001)) == "2.25" and float(Score(1 / 3)) == 0.33


def test_wrong_answer_does_not_raise_and_shows_how_to_reproduce(capfd):
    def jacobian_by_hand(p):
        x, y = p
        return torch.tensor([[2 * x, 1.0], [y, x], [torch.exp(x), 0.0]]).T
    s = check("jacobian_by_hand", jacobian_by_hand, hidden=True, seed=3)
    out, err = capfd.readouterr()
    assert s == 0 and err == ""
    assert "transpose" in out and "hidden check" in out and "p = [" in out
    assert "0 of 5 checks (4 of them hidden) passed — score 0/3" in out


def test_student_exception_warning_and_stderr_stay_out_of_stderr(capfd):
    def noisy(p):
        warnings.warn("careful!")
        print("to stderr", file=sys.stderr)
        os.write(2, b"fd two\n")
        x, y = float(p[0]), float(p[1])
        return [[2 * x, 1], [y, x], [math.exp(x), 0]]
    assert check("jacobian_by_hand", noisy) == 3
    out, err = capfd.readouterr()
    assert err == ""

    def broken(p):
        raise ValueError("oops")
    assert check("jacobian_by_hand", broken) == 0
    out, err = capfd.readouterr()
    assert err == "" and "ValueError: oops" in out and 'raise ValueError("oops")' in out and "Traceback" not in out


def test_system_exit_is_a_failed_probe_not_a_dead_grader(capfd):
    def quits(p):
        sys.exit(3)
    assert check("jacobian_by_hand", quits) == 0
    assert "SystemExit" in capfd.readouterr().out


def test_none_and_unknown_exercise(capfd):
    assert check("jacobian_by_hand", lambda p: None) == 0
    assert "did you forget the `return`" in capfd.readouterr().out
    assert check("no_such_thing", lambda p: None) is None      # not found: no score at all
    assert check("jacobian_by_hand", 42) == 0


def test_policy_violation_scores_zero_with_reason(capfd):
    def jacobian_by_hand(p):
        return torch.func.jacrev(lambda q: torch.stack([q[0] ** 2 + q[1], q[0] * q[1], torch.exp(q[0])]))(p)
    assert check("jacobian_by_hand", jacobian_by_hand) == 0
    out = capfd.readouterr().out
    assert "by hand" in out and "torch.func" in out


def test_hidden_seed_from_course_secret_and_student(tmp_path, monkeypatch, capfd):
    course = tmp_path / "course"
    work = course / "autograded" / "ada" / "jacobians"
    work.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    shutil.copytree(REPO_ROOT / "autograding", course / "autograding")   # the declarations, and the
    src = course / "source" / "jacobians"                                  # points in the notebooks
    shutil.copytree(REPO_ROOT / "source" / "jacobians", src)
    monkeypatch.delenv("AUTOGRADER_STUDENT_ID", raising=False)
    monkeypatch.delenv("AUTOGRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(work)
    assert grading_context() == (str(course), "ada")
    assert check("jacobian_by_hand", jacobian_by_hand, hidden=True) == 3
    secret_file = course / ".autograder" / "secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert grading_context(str(src)) == (str(course), "instructor")


def test_secrets_are_stable_and_seeds_reproducible(tmp_path):
    a = course_secret(tmp_path)
    assert len(a) == 32 and course_secret(tmp_path) == a
    s1 = student_seed(a, "ada", "relu_vjp")
    assert s1 == student_seed(a, "ada", "relu_vjp")
    assert s1 != student_seed(a, "bob", "relu_vjp") != student_seed(a, "ada", "dead_input")
    assert 0 <= s1 < 2 ** 63


# ----------------------------------------------------------------------------- call_student

def test_returned_value_conversions():
    assert to_plain(torch.ones(2, requires_grad=True) * 2).tolist() == [2.0, 2.0]
    assert to_plain(torch.ones(2, dtype=torch.float16)).dtype == np.float64
    assert to_plain(torch.tensor(3.0)).shape == ()
    assert to_plain([[1, 2], [3, 4]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert to_plain([torch.tensor(1.0), np.float32(2)]).tolist() == [1.0, 2.0]
    assert to_plain((np.int64(1), 3)) == (1, 3)
    assert to_plain(torch.Size([1, 3])) == (1, 3)
    assert isinstance(to_plain({"a": 1}), Unconvertible)
    assert isinstance(to_plain(torch.ones(2, dtype=torch.complex64)), Unconvertible)
    assert isinstance(to_plain(np.array([True])), Unconvertible)


def test_an_answer_far_larger_than_expected_is_refused_from_its_shape(capfd):
    """The bound comes from the expected answer: 9 million numbers (below the hard cap) for a
    3×2 Jacobian are refused from the view's shape; a wrong shape of modest size is diagnosed."""
    def jacobian_by_hand(p):
        return torch.zeros(()).expand(3000, 3000)

    def too_wide(p):
        return torch.zeros(3, 40)

    assert check("jacobian_by_hand", jacobian_by_hand) == 0
    assert ("your answer would hold 9,000,000 numbers (shape (3000, 3000)); expected shape (3, 2), "
            "so it was not read") in capfd.readouterr().out
    assert check("jacobian_by_hand", too_wide) == 0
    out = capfd.readouterr().out
    assert "shape (3, 40)" in out and "would hold" not in out


def test_call_student_copies_arguments_and_records_type():
    z = T([1.0, -1.0])
    probe = Probe((z,), {}, "t")

    def mutate(v):
        v.zero_()
        return v.float()
    out = call_student(mutate, probe)
    assert z.tolist() == [1.0, -1.0]
    assert out.type_name == "torch.Tensor(float32)" and out.error is None


def test_outcome_is_plain_data():
    import pickle
    out = call_student(lambda p: 1 / 0, Probe((1,), {}, "t"), rules=Rules(kind="by hand"))
    again = pickle.loads(pickle.dumps(out))
    assert again == out and again.error.exc_type == "ZeroDivisionError" and again.error.lineno


def test_render_accepts_a_single_violation_sentence():
    from jacobians_course import get
    from autograder.judge.feedback import render
    text = render(get("relu_jacobian"), [], "relu_jacobian uses autograd (torch.func.jacrev)")
    assert "- relu_jacobian uses autograd (torch.func.jacrev)" in text and "score 0/2" in text


def test_a_students_own_nbgrader_config_does_not_hide_the_course(tmp_path, monkeypatch, capfd):
    """A student's folder with an nbgrader_config.py of their own (for the exchange) and no
    declarations: check() goes on to the course this package comes from."""
    home = tmp_path / "alice"
    work = home / "jacobians"
    shutil.copytree(REPO_ROOT / "release" / "jacobians", work)
    (home / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'jacobians-dl'\n")
    monkeypatch.delenv("AUTOGRADER_COURSE_ROOT", raising=False)
    monkeypatch.chdir(work)
    assert check("jacobian_by_hand", jacobian_by_hand) == 3
    assert "no autograded exercise" not in capfd.readouterr().out


def test_a_check_that_cannot_find_its_exercise_says_how_and_scores_nothing(capfd):
    assert check("no_such_exercise", lambda x: x) is None
    said = capfd.readouterr().out
    assert said.startswith("no_such_exercise was not checked, and this is no score: no exercise called "
                           "'no_such_exercise' is declared in")
    assert said.rstrip().endswith("or set AUTOGRADER_COURSE_ROOT to it.")
    assert check("no_such_exercise", lambda x: x, hidden=True) == 0.0     # graded: nothing found earns nothing
