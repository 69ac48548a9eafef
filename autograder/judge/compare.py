"""Compare a student's plain value with the autograd reference and say what is wrong.

``judge`` never raises for anything a student returns, and never gives credit to a value
that is not a finite number of the right shape (strings, booleans, NaN, a negative
fraction ...). Comparison is in float64 with the exercise's ``rtol``/``atol``:
``|got - expected| <= atol + rtol * |expected|`` entrywise.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.judge.feedback import fmt_probe, fmt_value
from autograder.protocol.rules import rules_for, violation_diagnosis
from autograder.protocol.values import ARGUMENT_CHANGED, Expected, Outcome, Unconvertible, Verdict


# ----------------------------------------------------------------------------- helpers

def as_array(value: Any) -> np.ndarray | None:
    """A float64 array from a plain value, or None when it is not numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, Unconvertible)):
        return None
    if isinstance(value, (int, float)):
        return np.array(value, dtype=np.float64)
    if isinstance(value, np.ndarray):
        return value.astype(np.float64, copy=False) if value.dtype.kind == "f" else None
    if isinstance(value, tuple):
        if _has_non_number(value):
            return None
        try:
            arr = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return arr
    return None


def _has_non_number(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(_has_non_number(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind != "f"
    return isinstance(value, bool) or not isinstance(value, (int, float))


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    # np.isclose's rule (|a - b| <= atol + rtol |b|), written out with two temporaries: several
    # times faster on the 10**7-entry probes; NaN or an infinity on either side is never close.
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.asarray(np.subtract(a, b, dtype=np.float64))
        np.abs(diff, out=diff)
        bound = np.asarray(np.abs(b), dtype=np.float64)
        bound *= rtol
        bound += atol
        return diff <= bound


CHUNK = 1 << 16     # entries per slice when checking big arrays: temporaries stay in cache


def _allclose(a, b, rtol, atol) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.reshape(-1), b.reshape(-1)
    return all(np.all(_close(a[i:i + CHUNK], b[i:i + CHUNK], rtol, atol)) for i in range(0, max(a.size, 1), CHUNK))


def _all_finite(a: np.ndarray) -> bool:
    a = a.reshape(-1)
    return all(np.isfinite(a[i:i + CHUNK]).all() for i in range(0, a.size, CHUNK))


def _indices(idx, limit: int = 8) -> str:
    idx = [int(i) for i in idx]
    text = ", ".join(map(str, idx[:limit]))
    return text + (f" (and {len(idx) - limit} more)" if len(idx) > limit else "")


def _shape(s) -> str:
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


# ----------------------------------------------------------------------------- diagnoses

def diagnose_array(got: np.ndarray, exp: np.ndarray, rtol: float, atol: float,
                   kind: str = "matrix") -> tuple[bool, str, str]:
    """(passed, diagnosis, message) for numeric arrays."""
    if not _all_finite(got):
        bad = np.argwhere(~np.isfinite(got))
        where = ", ".join(str(tuple(int(i) for i in b)) if len(b) > 1 else str(int(b[0])) for b in bad[:6])
        kinds = "NaN" if np.isnan(got).any() else "Inf"
        if np.isnan(got).any() and np.isinf(got).any():
            kinds = "NaN and Inf"
        return False, "nan_inf", (f"your result contains {kinds}" + (f" at {where}" if got.ndim else "")
                                  + " — look for a division by zero, an overflow (exp of a large number) or log of 0")

    if got.shape != exp.shape:
        return _diagnose_shape(got, exp, rtol, atol, kind)

    if _allclose(got, exp, rtol, atol):
        return True, "ok", "correct"

    if exp.ndim == 2 and exp.shape[0] == exp.shape[1] and not _allclose(exp, exp.T, rtol, atol) \
            and _allclose(got, exp.T, rtol, atol):
        return False, "transpose", ("this is the transpose of the expected Jacobian: rows must be outputs "
                                    "(∂f_i) and columns inputs (∂x_j)")
    if np.any(np.abs(exp) > atol) and _allclose(got, -exp, rtol, atol):
        return False, "sign", "off by a sign: every entry has the opposite sign"
    denom = float(np.sum(exp * exp))
    if denom > 0:
        c = float(np.sum(got * exp) / denom)
        if np.isfinite(c) and not np.isclose(c, 1.0, rtol=1e-3) and abs(c) > 1e-12 \
                and _allclose(got, c * exp, rtol, atol):
            return False, "scaled", f"every entry is {c:.4g} times the expected one (off by a constant factor)"

    bad = ~_close(got, exp, rtol, atol)
    if exp.ndim == 2:
        rows = np.where(bad.any(axis=1))[0]
        cols = np.where(bad.any(axis=0))[0]
        m, n = exp.shape
        # every wrong row a multiple of the right one: a missing/extra diagonal factor on the left
        if _rows_scaled(got, exp, rows, rtol, atol):
            msg = (f"rows {_indices(rows)} each differ from the expected row by their own factor — "
                   "a missing or extra per-output factor (e.g. the activation's derivative) "
                   "multiplying the rows")
            return False, "row_scaled", msg
        if len(rows) < m or len(cols) < n:
            return False, "rows_cols", (
                f"wrong rows (outputs f_i): {_indices(rows)}; wrong columns (inputs x_j): {_indices(cols)}; "
                f"{int(bad.sum())} of {bad.size} entries differ")
        err = float(np.max(np.abs(got - exp)))
        return False, "wrong_value", f"all rows and columns have wrong entries (largest difference {err:.3g})"
    if exp.ndim == 1:
        idx = np.where(bad)[0]
        if len(idx) < exp.size:
            return False, "wrong_value", f"components {_indices(idx)} are wrong ({len(idx)} of {exp.size})"
        return False, "wrong_value", f"every component is wrong (largest difference {float(np.max(np.abs(got - exp))):.3g})"
    return False, "wrong_value", f"expected {fmt_value(exp)}, the difference is {float(np.max(np.abs(got - exp))):.3g}"


def _rows_scaled(got, exp, rows, rtol, atol) -> bool:
    if len(rows) == 0 or exp.ndim != 2 or exp.shape[1] < 2:
        return False
    if len(rows) < 2 and exp.shape[0] > 1:
        return False  # one wrong row is better described by rows/columns
    for i in rows:
        e, g = exp[i], got[i]
        d = float(e @ e)
        if d == 0 or np.count_nonzero(np.abs(e) > atol) < 2:
            return False
        c = float(g @ e) / d
        if np.isclose(c, 1.0) or not _allclose(g, c * e, rtol, atol):
            return False
    return True


def _diagnose_shape(got, exp, rtol, atol, kind) -> tuple[bool, str, str]:
    gs, es = _shape(got.shape), _shape(exp.shape)
    base = f"wrong shape: you returned {gs}, expected {es}"
    if exp.ndim == 2:
        m, n = exp.shape
        if got.shape == (n, m):
            if _allclose(got, exp.T, rtol, atol):
                return False, "transpose", (f"this is the transpose of the expected Jacobian ({gs} instead of {es}): "
                                            "rows are outputs (∂f_i), columns are inputs (∂x_j)")
            return False, "wrong_shape", base + " — the transposed shape: a Jacobian has one row per output"
        if got.ndim == 1:
            if m == n and np.count_nonzero(exp - np.diag(np.diag(exp))) == 0 and got.shape == (n,) \
                    and _allclose(got, np.diag(exp), rtol, atol):
                return False, "diagonal", (f"you returned only the diagonal as a vector {gs}; the Jacobian of an "
                                           f"elementwise function is the full {es} matrix with that diagonal "
                                           "(try torch.diag)")
            if got.shape == (n,) and _allclose(got, exp.sum(axis=0), rtol, atol):
                return False, "gradient", (f"you returned a vector {gs}: the gradient of the sum of the outputs "
                                           f"(the column sums), not the full {es} Jacobian")
            if got.shape == (m,) and _allclose(got, exp.sum(axis=1), rtol, atol):
                return False, "row_sum", (f"you returned a vector {gs}: each row of the Jacobian summed "
                                          f"(J times a vector of ones), not the full {es} matrix")
        if got.size == exp.size and _allclose(got.reshape(exp.shape), exp, rtol, atol):
            return False, "wrong_shape", base + " — the numbers are right but arranged in the wrong shape"
    if got.size == exp.size and got.reshape(-1).shape == exp.reshape(-1).shape \
            and _allclose(got.reshape(exp.shape), exp, rtol, atol):
        return False, "wrong_shape", base + " — the numbers are right but arranged in the wrong shape"
    if kind == "vector" and got.ndim == 2:
        return False, "wrong_shape", base + " — return a vector, without forming the matrix"
    return False, "wrong_shape", base


def _judge_shape(value: Any, exp: tuple) -> tuple[bool, str, str]:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                             for v in value):
        if tuple(value) == tuple(exp):
            return True, "ok", "correct"
        if tuple(value) == tuple(exp[::-1]):
            return False, "transpose", (f"{value} is the shape of the transpose: a Jacobian ∂y/∂x has one row per "
                                        "output (m = last width) and one column per input (n = first width)")
        return False, "wrong_value", f"the shape should be {tuple(exp)} (outputs × inputs), you returned {value}"
    if isinstance(value, np.ndarray) or (isinstance(value, tuple) and len(value) == 2):
        return False, "not_int", "return a tuple of two ints, like (m, n) — not floats or an array"
    return False, "not_numeric", "return a tuple of two ints (m, n)"


def _judge_scalar(value: Any, exp: float, rtol, atol) -> tuple[bool, str, str]:
    arr = as_array(value)
    if arr is None:
        return False, "not_numeric", "return a number (a float)"
    if arr.size != 1:
        return False, "wrong_shape", f"return a single number, not an array of shape {_shape(arr.shape)}"
    x = float(arr.reshape(-1)[0])
    if not np.isfinite(x):
        return False, "nan_inf", "your result is NaN or Inf"
    close = lambda target: bool(np.isclose(x, target, rtol=rtol, atol=atol))  # noqa: E731
    # a number of the other sign is a different answer, however small (0 counts as positive)
    if close(exp) and (x < 0) == (exp < 0):
        return True, "ok", "correct"
    if exp != 0 and close(-exp):
        return False, "sign", f"off by a sign: expected {fmt_value(exp)}, you returned {fmt_value(x)}"
    if exp not in (0.0, 1.0):
        if close(exp * exp):
            return False, "squared", (f"you returned {fmt_value(x)}, the square of the expected {fmt_value(exp)} "
                                      "— a missing square root?")
        if exp > 0 and close(np.sqrt(exp)):
            return False, "square_root", (f"you returned {fmt_value(x)}, the square root of the expected "
                                          f"{fmt_value(exp)} — a square root too many?")
    if exp != 0:
        k = x / exp
        if round(k) > 1 and close(round(k) * exp):
            return False, "scaled", (f"you returned {round(k)} times the expected {fmt_value(exp)} — a count or "
                                     "a sum where a fraction or a mean is expected?")
    if 0 < exp < 1 and close(1 - exp):
        return False, "complement", (f"you returned 1 minus the expected {fmt_value(exp)} — is a comparison the "
                                     "wrong way round?")
    return False, "wrong_value", f"expected {fmt_value(exp)}, you returned {fmt_value(x)}"


def _judge_index(value: Any, exp: int) -> tuple[bool, str, str]:
    if isinstance(value, float):
        return False, "not_int", f"you returned the float {fmt_value(value)}: an index is an int"
    if isinstance(value, np.ndarray) and value.size == 1:
        return False, "not_int", (f"you returned an array or tensor of shape {_shape(value.shape)}: an index is "
                                  "one int (int(...) or .item() turns an integer tensor into one)")
    if isinstance(value, (np.ndarray, tuple)):
        return False, "wrong_shape", "return one index (an int), not several numbers"
    if not isinstance(value, int):
        return False, "not_numeric", "return an index (an int)"
    if value == exp:
        return True, "ok", "correct"
    if value < 0:
        return False, "out_of_range", (f"you returned {value}: count the index from 0, without negative "
                                       "(from the end) indices")
    if abs(value - exp) == 1:
        return False, "off_by_one", (f"expected index {exp}, you returned {value}, one away: if you counted "
                                     "from 1, Python counts from 0")
    return False, "wrong_value", f"expected index {exp}, you returned {value}"


# ----------------------------------------------------------------------------- judge

def _got_text(outcome: Outcome) -> str:
    if outcome.error is not None:
        return ""
    text = fmt_value(outcome.value)
    if outcome.type_name and outcome.type_name not in ("NoneType",):
        text = f"{text}\n(type {outcome.type_name})"
    return text


def judge(exercise, probe, outcome: Outcome, expected: Expected) -> Verdict:
    """Verdict for one probe: passed?, a diagnosis code and a message in the student's terms."""
    try:
        passed, diagnosis, message, details = _judge(exercise, probe, outcome, expected)
    except Exception as exc:  # a bug here must not crash a student's cell
        passed, diagnosis, message, details = False, "internal_error", f"the grader could not compare ({exc!r})", []
    inputs = exp_text = got_text = ""
    if not passed:
        try:
            exp_text = expected.describe if expected.check is not None else fmt_value(expected.value)
            inputs = fmt_probe(exercise, probe)
            got_text = _got_text(outcome)
        except Exception:  # formatting must never cost the verdict
            pass
        if outcome.stderr:
            details = list(details) + ["your code printed warnings: "
                                       + outcome.stderr.strip().splitlines()[0][:200]]
    return Verdict(
        passed=bool(passed), diagnosis=diagnosis, message=message, label=probe.label, hidden=probe.hidden,
        edge=probe.edge, inputs=inputs, expected=exp_text if diagnosis != "autograd_used" else "", got=got_text,
        details=tuple(details),
    )


def _expected_size(expected: Expected) -> str:
    """How big the answer should be, and no more (a shape exercise's answer is not given away)."""
    value = expected.value
    if isinstance(value, np.ndarray):
        return f"shape {_shape(value.shape)}"
    if isinstance(value, tuple):
        return f"{len(value)} numbers"
    if value is not None:
        return "a single number"
    return expected.describe


def _judge(exercise, probe, outcome: Outcome, expected: Expected):
    details: list[str] = []
    if outcome.error is not None:
        e = outcome.error
        where = ""
        if e.lineno is not None:
            where = f" at line {e.lineno}" + (f" of {e.function}" if e.function and e.function != "<module>" else "")
            where += f": {e.line}" if e.line else ""
        if e.exc_type == ARGUMENT_CHANGED:
            return False, "changed_argument", e.message, details
        return False, "exception", f"your function raised {e.exc_type}: {e.message}{where}", details
    if outcome.autograd_calls:
        diagnosis = violation_diagnosis(rules_for(exercise), outcome.autograd_calls)
        return False, diagnosis, f"{_RAN[diagnosis]}: " + ", ".join(outcome.autograd_calls[:4]), details
    value = outcome.value
    if value is None:
        return False, "none", "your function returned None — did you forget the `return` statement?", details
    if isinstance(value, Unconvertible) and value.too_large:
        return False, "too_large", (f"your answer would hold {value.text}; expected {_expected_size(expected)}, "
                                    "so it was not read"), details
    if isinstance(value, Unconvertible):
        return False, "not_numeric", (f"your function returned a {value.type_name}, which is not numbers; "
                                      "return a torch tensor, a numpy array or nested lists of numbers"), details
    if isinstance(value, (str, bool)):
        return False, "not_numeric", f"your function returned {type(value).__name__} {value!r}, not numbers", details

    answer = exercise.answer
    if answer == "shape":
        return (*_judge_shape(value, expected.value), details)
    if answer == "index":
        exp = int(expected.value)
        passed, diagnosis, message = _judge_index(value, exp)
        return passed, diagnosis, message, details + _hint(exercise, probe, value, exp, passed)
    if answer == "scalar":
        exp = float(expected.value)
        passed, diagnosis, message = _judge_scalar(value, exp, exercise.rtol, exercise.atol)
        got = as_array(value)
        if got is not None and got.size == 1:
            details += _hint(exercise, probe, float(got.reshape(-1)[0]), exp, passed)
        return passed, diagnosis, message, details

    got = as_array(value)
    if got is None:
        return False, "not_numeric", ("your function returned something that is not a rectangular array of "
                                      "numbers (ragged lists, or non-numbers inside)"), details
    if answer == "property":
        ok, diagnosis, message = expected.check(got)
        return ok, diagnosis, message, details

    exp = np.asarray(expected.value, dtype=np.float64)
    passed, diagnosis, message = diagnose_array(got, exp, exercise.rtol, exercise.atol, answer)
    if got.shape == exp.shape:
        details += _hint(exercise, probe, got, exp, passed)
    return passed, diagnosis, message, details


# how a per-probe policy violation (policy.violation_diagnosis) is said
_RAN = {"autograd_used": "this exercise is by hand, but autograd ran during the call",
        "jacobian_built": "this exercise is matrix-free, but a whole Jacobian or Hessian was built during the call",
        "forbidden_call": "a call this exercise does not allow ran during the call"}


def _hint(exercise, probe, got, exp, passed: bool) -> list[str]:
    """The exercise's hint for a wrong answer of the expected type, as a detail line."""
    if passed or exercise.hint is None:
        return []
    try:
        hint = exercise.hint(probe, got, exp)
    except Exception:
        hint = None
    return ["hint: " + hint] if hint else []
