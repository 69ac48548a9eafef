"""compare.judge / diagnose_array: one test per diagnosis, in the student's terms."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autograder.inside.calling import call_student
from autograder.judge.compare import as_array, diagnose_array, judge
from autograder.course.authoring import probes
from autograder.course.builders import T
from autograder.protocol.values import Probe
from jacobians_course import EXERCISES
from autograder.protocol.rules import rules_for
from autograder.protocol.values import Outcome, StudentError, Unconvertible

RTOL, ATOL = 1e-5, 1e-8
J = np.array([[2.0, 1.0], [2.0, 1.0], [math.e, 0.0]])   # (1, 2) worked example, 3×2
SQ = np.array([[1.0, 2.0], [3.0, 4.0]])


def d(got, exp=J, kind="matrix"):
    return diagnose_array(np.asarray(got, dtype=float), np.asarray(exp, dtype=float), RTOL, ATOL, kind)


def test_correct_and_float32_pass():
    assert d(J)[:2] == (True, "ok")
    assert d(J.astype(np.float32).astype(np.float64))[0]


def test_wrong_shape_reports_both_shapes():
    ok, code, msg = d(np.zeros((2, 2)))
    assert (ok, code) == (False, "wrong_shape")
    assert "(2, 2)" in msg and "(3, 2)" in msg


def test_transpose_non_square_and_square():
    assert d(J.T)[1] == "transpose"
    assert "transpose of the expected Jacobian" in d(J.T)[2]
    assert d(SQ.T, SQ)[1] == "transpose"


def test_transposed_shape_with_wrong_values_is_wrong_shape_with_note():
    ok, code, msg = d(J.T + 1)
    assert code == "wrong_shape" and "transposed shape" in msg


def test_sign():
    assert d(-J)[1] == "sign"


def test_scaled_factor_two():
    ok, code, msg = d(2 * J)
    assert code == "scaled" and "2 times" in msg


def test_rows_and_columns_named():
    got = J.copy()
    got[2, 0] = 1.0  # e^x entry wrong: row 2 (output f_2), column 0 (input x)
    ok, code, msg = d(got)
    assert code == "rows_cols"
    assert "rows (outputs f_i): 2" in msg and "columns (inputs x_j): 0" in msg


def test_rows_scaled_by_their_own_factor():
    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    dsig = np.array([0.2, 0.1, 0.05])
    ok, code, msg = d(W, dsig[:, None] * W)  # forgot diag(σ'(z))
    assert code == "row_scaled"


def test_gradient_and_row_sum_instead_of_matrix():
    assert d(J.sum(axis=0))[1] == "gradient"
    assert d(J.sum(axis=1))[1] == "row_sum"


def test_only_the_diagonal_returned():
    E = np.diag([0.25, 0.1, 0.2])
    ok, code, msg = d(np.diag(E), E)
    assert code == "diagonal" and "torch.diag" in msg


def test_nan_and_inf():
    got = J.copy()
    got[0, 1] = np.nan
    ok, code, msg = d(got)
    assert code == "nan_inf" and "NaN" in msg and "(0, 1)" in msg
    got[0, 1] = np.inf
    assert d(got)[1] == "nan_inf"


def test_flattened_right_numbers():
    ok, code, msg = d(J.reshape(-1))
    assert code == "wrong_shape" and "numbers are right" in msg


def test_vector_components():
    ok, code, msg = d([1.0, 0.0, 3.0], [1.0, 2.0, 3.0], kind="vector")
    assert code == "wrong_value" and "components 1" in msg


def _verdict(name, value=None, error=None, type_name="x", autograd=(), probe_index=0):
    ex = EXERCISES[name]
    probe = probes(ex)[probe_index]
    return judge(ex, probe, Outcome(value, type_name, error, autograd), ex.reference(probe))


def test_none_returned():
    v = _verdict("jacobian_by_hand", None, type_name="NoneType")
    assert (v.passed, v.diagnosis) == (False, "none") and "return" in v.message
    assert "p = [1, 2]" in v.inputs


def test_exception_with_student_line():
    def jacobian_by_hand(p):
        x, y = p
        return [[2 * x, 1], [y, x], [math.exp(x) / 0, 0]]
    ex = EXERCISES["jacobian_by_hand"]
    probe = probes(ex)[0]
    out = call_student(jacobian_by_hand, probe, rules=rules_for(ex))
    assert out.error.exc_type == "ZeroDivisionError"
    assert "math.exp(x) / 0" in out.error.line
    v = judge(ex, probe, out, ex.reference(probe))
    assert v.diagnosis == "exception" and "math.exp(x) / 0" in v.message and "ZeroDivisionError" in v.message


def test_non_numeric_never_passes():
    for value in ("[[2, 1], [2, 1], [e, 0]]", Unconvertible("dict", "{}"), True, (("a", 1),), ((1.0, 2.0), (3.0,))):
        v = _verdict("jacobian_by_hand", value)
        assert not v.passed and v.diagnosis == "not_numeric", value


def test_autograd_used_fails_by_hand():
    v = _verdict("jacobian_by_hand", J.copy(), autograd=("torch.autograd.functional.jacobian",))
    assert (v.passed, v.diagnosis) == (False, "autograd_used")


def test_fraction_negative_or_out_of_range_never_credit():
    ex = EXERCISES["saturated_fraction"]
    probe = Probe((T([[0.001]]), T([0.0]), T([[1.0]])), {}, "nothing saturated")
    exp = ex.reference(probe)
    assert exp.value == 0.0
    for bad in (-1e-9, -0.0001, 1.5, "0", None, True, float("nan")):
        v = judge(ex, probe, Outcome(bad, type(bad).__name__), exp)
        assert not v.passed, bad
    assert judge(ex, probe, Outcome(0.0, "float"), exp).passed
    assert judge(ex, probe, Outcome(np.array(0.0), "tensor"), exp).passed


def test_fraction_count_instead_of_fraction_named():
    ex = EXERCISES["saturated_fraction"]
    probe = probes(ex)[0]
    exp = ex.reference(probe)
    k, m = probe.args[2].shape[0], probe.args[0].shape[0]
    v = judge(ex, probe, Outcome(exp.value * k * m, "float"), exp)
    assert v.diagnosis == "scaled" and "count" in v.message


def test_shape_exercise_accepts_tuple_list_size_numpy_ints_only():
    ex = EXERCISES["network_jacobian_shape"]
    probe = probes(ex)[0]
    exp = ex.reference(probe)
    assert exp.value == (1, 3)
    from autograder.inside.calling import to_plain
    for good in [(1, 3), [1, 3], torch.Size([1, 3]), (np.int64(1), np.int32(3))]:
        assert judge(ex, probe, Outcome(to_plain(good), "t"), exp).passed, good
    for bad in [(3, 1), (1.0, 3.0), (True, 3), np.array([1, 3]), torch.tensor([1, 3]), "(1, 3)", (1, 3, 1), None]:
        assert not judge(ex, probe, Outcome(to_plain(bad), "t"), exp).passed, bad
    assert judge(ex, probe, Outcome((3, 1), "tuple"), exp).diagnosis == "transpose"


def test_as_array_rejects_bools_and_ragged():
    assert as_array(True) is None
    assert as_array(((1.0, 2.0), (3.0,))) is None
    assert as_array((1, 2)).tolist() == [1.0, 2.0]


def test_relu_hint_names_zero_preactivation():
    ex = EXERCISES["relu_jacobian"]
    probe = probes(ex)[1]  # z = (0, 1.5, -2)
    got = np.diag([1.0, 1.0, 0.0])  # derivative 1 at 0
    v = judge(ex, probe, Outcome(got, "ndarray"), ex.reference(probe))
    assert not v.passed and any("z = 0" in d for d in v.details)


# ----------------------------------------------------------------------------- precise diagnoses

def _gelu_jacobians():
    z = torch.linspace(-3, 3, 7, dtype=torch.float64)
    exact = torch.func.jacrev(torch.nn.functional.gelu)(z).numpy()
    tanh_form = torch.func.jacrev(lambda v: torch.nn.functional.gelu(v, approximate="tanh"))(z).numpy()
    return exact, tanh_form


def test_a_near_miss_is_close_and_states_the_tolerance():
    exact, tanh_form = _gelu_jacobians()
    assert 5e-4 < np.abs(exact - tanh_form).max() < 9e-4
    ok, code, msg = d(tanh_form, exact)
    assert (ok, code) == (False, "close")
    assert "largest difference is 0.000867" in msg and "atol 1e-08 + rtol 1e-05" in msg
    assert "an approximation" in msg and "GELU" in msg and "all rows and columns" not in msg


def test_a_near_miss_of_a_scalar_is_close_too():
    ex = EXERCISES["saturated_fraction"]
    probe = probes(ex)[0]
    exp = ex.reference(probe)
    v = judge(ex, probe, Outcome(exp.value * 1.001, "float"), exp)
    assert v.diagnosis == "close" and "rtol 1e-05" in v.message


def test_an_elementwise_jacobian_wrong_only_on_its_diagonal():
    exact, _ = _gelu_jacobians()
    got = exact.copy()
    got[np.diag_indices(7)] += np.linspace(0.1, 0.7, 7) * (np.arange(7) % 2)   # a term missing, here and there
    ok, code, msg = d(got, exact)
    assert code == "diagonal_only"
    assert "(i, i) for i = 1, 3, 5" in msg and "3 of 7" in msg and "diag(f'(z))" in msg


def test_one_wrong_row_and_one_wrong_column_are_named_as_such():
    got = J.copy()
    got[1] = [1.0, 2.0]                    # ∂(x·y) as (x, y)
    ok, code, msg = d(got)
    assert code == "one_row" and "only row 1 (output f_1)" in msg
    got = J.copy()
    got[:, 0] += [1.0, 2.0, 3.0]
    ok, code, msg = d(got)
    assert code == "one_column" and "only column 0 (input x_0)" in msg
    got = J.copy()
    got[2, 0] = 1.0                        # a single entry: its row and its column
    assert d(got)[1] == "rows_cols"


def test_a_sign_wrong_on_some_entries_only():
    got = J.copy()
    got[0, 0] *= -1
    got[1, 1] *= -1
    ok, code, msg = d(got)
    assert code == "sign_some" and "(0, 0), (1, 1)" in msg and "2 of 5 nonzero entries" in msg
    ok, code, msg = d([1.0, -2.0, 3.0], [1.0, 2.0, 3.0], kind="vector")
    assert code == "sign_some" and "components 1" in msg


def test_no_constant_factor_where_one_nonzero_entry_cannot_tell_a_scale_from_another_error():
    for got, exp in (([[3.0]], [[2.0]]), ([[0.0, 5.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]]), ([7.0], [2.0])):
        ok, code, msg = d(got, exp)
        assert code != "scaled" and "factor" not in msg, (got, msg)
    assert "the single entry should be 2, you returned 3" in d([[3.0]], [[2.0]])[2]
    assert d(3 * SQ, SQ)[1] == "scaled"     # with many nonzero entries the factor is a finding
