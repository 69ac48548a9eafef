"""Index and scalar answers: what is accepted, what is never credited, and the diagnoses a stuck
student can act on; a hint that names a typical mistake reaches the feedback."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.course.authoring import exercise, probe, value
from autograder.course.builders import T
from autograder.inside.calling import to_plain
from autograder.judge.compare import judge
from autograder.protocol.values import Expected, Outcome

J = np.array([[0.1, 3.0, -0.2, 0.5], [2.5, -0.1, 0.3, 0.2], [0.4, 0.2, 0.1, -0.3]])  # rows: outputs
PROBE = probe(T(J), label="a 3×4 Jacobian")


def _row_index_hint(probe, got, expected):
    rows = np.linalg.norm(probe.args[0].numpy(), axis=1)
    if got == int(np.argmax(rows)):
        return "that is the output (row) with the largest norm; the question asks for an input (a column)"
    return None


INDEX = exercise(name="most_sensitive", kind="free", answer="index",
                 reference=value(lambda J: torch.argmax(torch.linalg.vector_norm(J, dim=0))),
                 visible=[PROBE], hidden=lambda rng: [], hint=_row_index_hint)


def _index(value):
    return judge(INDEX, PROBE, Outcome(to_plain(value), type(value).__name__), INDEX.reference(PROBE))


def test_column_norm_index_is_what_we_expect():
    assert INDEX.reference(PROBE).value == 1 and int(np.argmax(np.linalg.norm(J, axis=1))) == 0


@pytest.mark.parametrize("value", [1, np.int64(1), np.int32(1), torch.tensor(1), torch.tensor(1, dtype=torch.int32),
                                   torch.argmax(torch.tensor([0.0, 5.0, 1.0])), np.array(1)])
def test_an_index_as_int_integer_tensor_or_numpy_integer_is_accepted(value):
    v = _index(value)
    assert (v.passed, v.diagnosis) == (True, "ok")


@pytest.mark.parametrize("value,diagnosis", [
    (1.0, "not_int"), (torch.tensor(1.0), "not_int"), (np.float64(1.0), "not_int"),
    (torch.tensor([1]), "not_int"), ([1, 2], "wrong_shape"), (torch.tensor([0, 1]), "wrong_shape"),
    (True, "not_numeric"), ("1", "not_numeric"), (None, "none"), (-3, "out_of_range"),
    (2, "off_by_one"), (3, "wrong_value"),
])
def test_an_index_that_is_not_the_int_is_never_credited(value, diagnosis):
    v = _index(value)
    assert (v.passed, v.diagnosis) == (False, diagnosis), v.message


def test_off_by_one_and_row_index_are_named():
    assert "one away" in _index(2).message and "counts from 0" in _index(2).message
    row = _index(0)    # the row index, here also one away: the exercise's hint says which mistake it is
    assert row.diagnosis == "off_by_one" and "expected index 1, you returned 0" in row.message
    assert any("row" in d and "column" in d for d in row.details)
    assert not _index(2).details
    assert "an index is an int" in _index(1.0).message


def _scalar_exercise(rtol: float):
    return exercise(name="spectral", kind="free", answer="scalar", reference=value(lambda J: 2.75),
                    visible=[PROBE], hidden=lambda rng: [], rtol=rtol)


SCALAR = _scalar_exercise(rtol=1e-4)


def _scalar(value, expected=2.75, exercise=SCALAR):
    return judge(exercise, PROBE, Outcome(to_plain(value), type(value).__name__), Expected(expected))


@pytest.mark.parametrize("value", [2.75, 2.75 * (1 + 9e-5), np.float32(2.75), torch.tensor(2.75),
                                   torch.tensor([2.75]), torch.tensor(2.75, requires_grad=True), [2.75]])
def test_a_scalar_within_rtol_is_accepted(value):
    assert _scalar(value).passed


@pytest.mark.parametrize("value,diagnosis", [
    (2.75 * (1 + 2e-4), "close"), (2.75 * 1.1, "wrong_value"), (-2.75, "sign"), (2.75 ** 2, "squared"), (2.75 ** 0.5, "square_root"),
    (3 * 2.75, "scaled"), (float("nan"), "nan_inf"), (float("inf"), "nan_inf"), ([2.75, 1.0], "wrong_shape"),
    ("2.75", "not_numeric"), (None, "none"),
])
def test_a_wrong_scalar_gets_its_diagnosis(value, diagnosis):
    v = _scalar(value)
    assert (v.passed, v.diagnosis) == (False, diagnosis), v.message


def test_a_scalar_uses_the_exercise_tolerance():
    loose = _scalar_exercise(rtol=1e-2)
    assert _scalar(2.75 * 1.005, exercise=loose).passed and not _scalar(2.75 * 1.005).passed


def test_a_value_of_the_other_sign_is_never_credited_however_small():
    assert not _scalar(-1e-12, expected=0.0).passed
    assert _scalar(0.0, expected=0.0).passed
    assert not _scalar(1e-9, expected=-1e-9).passed


def test_a_fraction_and_its_complement():
    v = _scalar(0.7, expected=0.3)
    assert v.diagnosis == "complement" and "1 minus" in v.message
