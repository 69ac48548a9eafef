"""The by-hand rule, stepped around: autograd in a thread started before the call, in the methods
of the answer the grader reads after it, the tracer's class rewritten, a function kept in a
module-level container; and what must cost nothing: a cell Python cannot compile, an honest
answer that is a callable object, a ``functools.partial`` or a bound method.

Every exercise of jacobian.ipynb is by hand, so a notebook-wide finding (a thread started in any
cell before a test cell) costs each exercise graded after it. Each submission graded here is
also graded on the routed `nbgrader autograde` path by test_hostile_paths.py's comparison (run
the hostile files together). Harness: tests/hostile_harness.py.
"""
from __future__ import annotations

import nbformat
import pytest

from autograder.judge import grading
from autograder.judge.policy import compile_error

from hostile_harness import (FULL, POINTS, TESTS, ZERO, assert_outputs_are_the_graders, cell_index, insert_after,
                             outputs_of, scores, set_source, student_code, text_of)

SETUP_CELL = 1          # the setup cell is In [1]: a cell inserted after it runs as In [2]


def _violations(result) -> dict[str, list[str]]:
    return {gid: result.cells[gid].diagnoses for gid in TESTS}


def _all_autograd_used(result, *phrases: str) -> None:
    """Every exercise scores 0 for using autograd, and its feedback says each phrase."""
    assert scores(result) == ZERO
    assert _violations(result) == {gid: ["autograd_used"] for gid in TESTS}
    for gid in TESTS:
        message = result.cells[gid].message
        assert "Score 0: this exercise must be done by hand, without autograd" in message, gid
        for phrase in phrases:
            assert phrase in message, (gid, phrase, message)
    assert_outputs_are_the_graders(result)


# ============================================================================ threads
def test_a_thread_started_before_the_call_is_found_in_the_source(grader):
    """The thread that computes the answer is started in a cell of its own, at module level,
    before any call; the graded function only hands it the probe."""
    nb = grader.nb()
    insert_after(nb, None, student_code("by_hand_thread_started_before_the_call"))
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_asks_the_thread"))
    result = grader.grade(nb)
    _all_autograd_used(result, f"`threading` (cell {SETUP_CELL + 1}, line 2)", "another thread or process")


def test_a_thread_the_source_does_not_show_is_found_while_the_function_runs(grader):
    """A logging QueueListener is a thread no line of the notebook names: the child notices a
    second thread when the call starts."""
    nb = grader.nb()
    insert_after(nb, None, student_code("by_hand_thread_hidden_in_a_log_listener"))
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_asks_the_log_listener"))
    result = grader.grade(nb)
    _all_autograd_used(result, "another thread of the notebook was running when your function was called")


# ============================================================================ the answer, read
def test_autograd_in_the_methods_of_the_returned_object_gains_nothing(grader):
    """A list subclass that holds zeros and runs autograd when iterated: it is read by its exact
    type (not at all), never by calling its methods after the call."""
    nb = grader.nb()
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_returns_rows_that_differentiate_when_read"))
    result = grader.grade(nb)
    assert scores(result) == {**FULL, "test_jacobian_by_hand": (0.0, 3.0)}
    by_hand = result.cells["test_jacobian_by_hand"]
    assert by_hand.diagnoses == ["autograd_used"]
    assert "`torch.autograd.functional.jacobian`" in by_hand.message
    assert_outputs_are_the_graders(result)


# ============================================================================ the tracer
def test_rewriting_the_tracers_class_and_module_changes_nothing_it_sees(grader):
    nb = grader.nb()
    insert_after(nb, None, student_code("patch_the_tracers_class"))
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_with_autograd_through_getattr"))
    result = grader.grade(nb)
    _all_autograd_used(result, "`autograder.inside.calling` (cell 2, line 1)")
    # the tracer still ran and saw the autograd call itself
    assert "torch.autograd.functional.jacobian (ran while your function was called)" in \
        result.cells["test_jacobian_by_hand"].message


# ============================================================================ module-level lines
def test_a_function_kept_in_a_module_level_container_is_followed(grader):
    """The graded function reaches `_tools`; the lines that put autograd into it are separate
    module-level statements in other cells (`_tools.append(...)`, `_named[...] = ...`)."""
    nb = grader.nb()
    insert_after(nb, None, student_code("keep_autograd_in_module_level_containers"))
    nb.cells.insert(cell_index(nb, "setup") + 2, nbformat.v4.new_code_cell(student_code("fill_the_containers")))
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_from_the_containers"))
    result = grader.grade(nb)
    assert scores(result) == {**FULL, "test_jacobian_by_hand": (0.0, 3.0)}
    message = result.cells["test_jacobian_by_hand"].message
    assert "`torch.autograd.functional.jacobian`" in message
    assert result.cells["test_jacobian_by_hand"].diagnoses == ["autograd_used"]


# ============================================================================ what costs nothing
COMPILE_FAILURES = {
    "a 20,000-term sum": ("total = " + " + ".join(["1"] * 20_000) + "\n", "RecursionError"),
    "a null byte": ("x = 1\0\n", "null bytes"),
    "a syntax error": ("def broken(:\n    pass\n", "SyntaxError"),
}


@pytest.mark.parametrize("case", sorted(COMPILE_FAILURES))
def test_a_cell_python_cannot_compile_costs_only_itself(grader, case):
    source, reason = COMPILE_FAILURES[case]
    nb = grader.nb()
    insert_after(nb, None, source)
    result = grader.grade(nb)
    assert scores(result) == FULL
    assert result.problems == [f"code cell In [{SETUP_CELL + 1}] could not be compiled "
                               f"({compile_error(source)}); the notebook was graded without it"]
    assert reason in result.problems[0]
    said = text_of(outputs_of(result, source[:12]))
    assert f"Cell In [{SETUP_CELL + 1}] could not be compiled" in said and "graded without it" in said
    assert_outputs_are_the_graders(result)


def test_honest_callable_objects_partials_and_bound_methods_earn_full_marks(grader):
    """Each graded name is bound to something that is not a `def`: an instance of a class with
    `__call__`, a `functools.partial`, a bound method of an object built in another cell."""
    nb = grader.nb()
    insert_after(nb, None, student_code("honest_callable_objects"))
    set_source(nb, "jacobian_by_hand", "jacobian_by_hand = _HandJacobian()\n")
    set_source(nb, "numerical_jacobian", "numerical_jacobian = functools.partial(_central_differences, h=1e-5)\n")
    set_source(nb, "affine_jacobian", "affine_jacobian = _affine.jacobian\n")
    result = grader.grade(nb)
    assert scores(result) == FULL
    assert result.problems == []
    assert_outputs_are_the_graders(result)


def test_the_graders_own_failure_on_one_exercise_costs_only_that_exercise(grader, monkeypatch):
    """A crash of the source check for one exercise is the grader's error, logged for the
    instructor: that exercise is marked for regrading, every other is graded as usual."""
    real = grading.static_violations

    def failing_for_one(sources, name, *args, **kwargs):
        if name == "numerical_jacobian":
            raise AttributeError("'Call' object has no attribute 'body'")
        return real(sources, name, *args, **kwargs)

    monkeypatch.setattr(grading, "static_violations", failing_for_one)
    result = grader.grade(grader.nb())
    assert scores(result) == {**FULL, "test_numerical_jacobian": (0.0, 3.0)}
    failed = result.cells["test_numerical_jacobian"]
    assert failed.diagnoses == ["internal_error"]
    assert "the grader itself failed (AttributeError" in failed.message and "not in your code" in failed.message
    assert result.problems == [f"test cell 'test_numerical_jacobian' scored 0: {failed.message}"]
    assert set(POINTS) <= set(result.cells)
