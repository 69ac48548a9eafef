"""Hostile submissions that try to fool the judge: patched comparisons and grader modules, return
values that lie about themselves, input transformers and exception hooks, printed scores,
probe inputs changed in place, the autograd tracer switched off.

None of it gains anything: a wrong answer gets 0 (or 0, when the trick breaks the student's own
process), and a right answer keeps full marks unless the trick reaches the grader's machinery in
the student's process (the grader's modules, IPython's, a library the grader's code uses): then
every by-hand exercise graded after it scores 0 for that reason (docs/security.md, "The by-hand
rule"). Harness: tests/hostile_harness.py.
"""
from __future__ import annotations

import pytest

from autograder.batch.jobs import CellResult

from hostile_harness import (BROKE, FULL, POINTS, TESTS, WRONG, ZERO, assert_outputs_are_the_graders,
                             by_hand_refused, cell_by_id, insert_after, outputs_of, same_as, scores, set_source,
                             student_code, text_of)


# ============================================================================ the baseline
def test_perfect_submission_gets_full_marks(grader):
    result = grader.grade(grader.nb())
    assert result.status == "graded" and result.problems == []
    assert scores(result) == FULL
    assert_outputs_are_the_graders(result)


def test_autograded_notebook_holds_no_hidden_tests(grader):
    """Hidden probes are graded from the registry; their test code never reaches students."""
    text = grader.grade(grader.nb()).autograded_nb_json
    assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text
    assert 'check(\\"jacobian_by_hand\\", jacobian_by_hand)' in text


def test_wrong_answers_get_zero(wrong_baseline):
    assert {gid: c.diagnoses for gid, c in wrong_baseline.cells.items() if gid in POINTS} == {
        "test_jacobian_by_hand": ["wrong_value"], "test_numerical_jacobian": ["wrong_value"],
        "test_affine_jacobian": ["wrong_value"]}
    assert wrong_baseline.cells["test_affine_jacobian"].message.startswith(
        "affine_jacobian: 0 of ")
    assert_outputs_are_the_graders(wrong_baseline)


# ============================================================================ patching the grader
@pytest.mark.parametrize("attack, found", [("patch_autograder_package", "`autograder.judge.compare` (cell 2, line 2)"),
                                           ("patch_math_numpy_torch", "`math.isclose = ...` (cell 2, line 2)")])
def test_monkeypatching_gains_nothing(grader, wrong_baseline, attack, found):
    nb = grader.wrong()
    insert_after(nb, None, student_code(attack))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    by_hand_refused(result, found)
    assert result.problems == []
    assert_outputs_are_the_graders(result)


def test_replacing_modules_in_sys_modules_gains_nothing(grader):
    nb = grader.wrong()
    insert_after(nb, None, student_code("replace_modules_in_sys_modules"))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    # the grader's modules in the child, the tracer included, were imported before student code
    # ran: the child answers, the wrong answers are judged wrong, and the source says why it is 0
    by_hand_refused(result, "`sys.modules` (cell 2, line 5)")
    for gid in TESTS:
        assert "0 of " in result.cells[gid].message, gid
    assert result.problems == []


def test_monkeypatching_builtins_breaks_only_the_students_process(grader):
    nb = grader.wrong()
    insert_after(nb, None, student_code("patch_builtins"))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    reason = BROKE
    for gid in POINTS:
        assert result.cells[gid] == CellResult(0.0, POINTS[gid], ["not_run"],
                                               f"not graded: the notebook's process {reason}")
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    assert result.status == "graded"
    died = outputs_of(result, "builtins.isinstance")
    assert [(o.output_type, o.ename) for o in died] == [("error", "KernelDied")]


def test_monkeypatching_the_grader_voids_the_by_hand_rule_even_with_right_answers(grader):
    nb = grader.nb()
    insert_after(nb, None, student_code("patch_autograder_package") + student_code("make_comparisons_fail"))
    result = grader.grade(nb)
    by_hand_refused(result, "`autograder.judge.compare` (cell 2, line 2)")
    assert "... and 11 more lines like these" in result.cells["test_jacobian_by_hand"].message


def test_disabling_the_autograd_tracer_in_the_child_gains_nothing(grader):
    """Rewriting the tracer's module changes nothing the tracer sees; the rewrite itself, in the
    source, voids the by-hand rule for every exercise after it."""
    nb = grader.nb()
    insert_after(nb, None, student_code("switch_off_the_autograd_tracer"))
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_with_autograd_through_getattr"))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    by_hand_refused(result, "`autograder.inside.tracer` (cell 2, line 1)")
    message = result.cells["test_jacobian_by_hand"].message
    assert "Score 0: this exercise must be done by hand, without autograd" in message
    assert "torch.autograd.functional.jacobian (ran while your function was called)" in message


# ============================================================================ lying return values
@pytest.mark.parametrize("liar", ["lie_with_a_torch_function_subclass", "lie_with_fake_arrays_and_floats"])
def test_lying_return_values_score_zero(grader, liar):
    nb = grader.nb()
    for gid in WRONG:
        set_source(nb, gid, student_code(liar))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    for gid in POINTS:
        assert result.cells[gid].diagnoses, gid
        assert "ok" not in result.cells[gid].diagnoses
    assert_outputs_are_the_graders(result)


# ============================================================================ the student's IPython
def test_input_transformer_blanking_later_cells(grader):
    nb = grader.wrong()
    insert_after(nb, None, student_code("blank_later_cells_with_input_transformers"))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    by_hand_refused(result, "`get_ipython()` (cell 2, line 1)")
    for gid in POINTS:
        assert "never defined a function called" in result.cells[gid].message
    assert_outputs_are_the_graders(result)


def test_input_transformer_after_right_answers_costs_only_what_follows_it(grader):
    """It rewrites the cells after it, which the grader then cannot read as they run: the
    exercise whose test cell follows it scores 0; those graded before keep full marks."""
    nb = grader.nb()
    insert_after(nb, "affine_jacobian", student_code("print_a_score_in_place_of_every_later_cell"))
    result = grader.grade(nb)
    assert scores(result) == {**FULL, "test_affine_jacobian": (0.0, 1.0)}
    by_hand_refused(result, "`get_ipython()` (cell ", tests=("test_affine_jacobian",))
    assert_outputs_are_the_graders(result)


def test_showtraceback_and_excepthook_overrides(grader):
    nb = grader.nb()
    insert_after(nb, None, student_code("override_traceback_display"))
    for gid in WRONG:
        set_source(nb, gid, student_code("raise_value_error"))
    result = grader.grade(nb)
    assert scores(result) == ZERO
    by_hand_refused(result, "`get_ipython()` (cell 2, line 2)")
    for gid in POINTS:
        assert "ValueError" in result.cells[gid].message and "nope" in result.cells[gid].message
    assert_outputs_are_the_graders(result)


def test_printed_and_displayed_fake_scores(grader, wrong_baseline):
    nb = grader.wrong()
    for gid, src in WRONG.items():
        set_source(nb, gid, src + student_code("print_and_display_a_score"))
    result = grader.grade(nb)
    same_as(result, wrong_baseline)
    solution = outputs_of(result, "def affine_jacobian")
    assert text_of(solution) == "Score: 3/3\n3.03.0"
    assert [o.output_type for o in solution] == ["stream", "display_data", "execute_result"]
    assert_outputs_are_the_graders(result)


# ============================================================================ the probes
def test_mutating_probe_inputs_leaves_the_reference_alone(grader):
    nb = grader.nb()
    # right answers computed first, then every input trashed in place
    set_source(nb, "affine_jacobian", student_code("affine_jacobian_trashes_its_inputs_after_answering"))
    set_source(nb, "jacobian_by_hand", cell_by_id(grader.nb(), "jacobian_by_hand").source
               .replace("def jacobian_by_hand(p):", "def jacobian_by_hand(p):\n    p0 = p.clone(); p.fill_(1e6); p = p0"))
    result = grader.grade(nb)
    assert scores(result) == FULL
    # returning the trashed input: wrong, since the reference was not computed from it
    set_source(nb, "affine_jacobian", student_code("affine_jacobian_returns_its_trashed_input"))
    result = grader.grade(nb)
    assert scores(result)["test_affine_jacobian"] == (0.0, 1.0)
    assert result.cells["test_affine_jacobian"].diagnoses and "ok" not in result.cells["test_affine_jacobian"].diagnoses
    assert scores(result)["test_jacobian_by_hand"] == (3.0, 3.0)
