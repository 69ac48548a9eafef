"""Compare a student's plain value with the autograd reference and say what is wrong.

``judge`` never raises for anything a student returns, and never gives credit to a value
that is not a finite number of the right shape (strings, booleans, NaN, a negative
fraction ...). Comparison is in float64 with the exercise's ``rtol``/``atol``:
``|got - expected| <= atol + rtol * |expected|`` entrywise.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.judge.diagnoses import say
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

# An answer wrong only by this much (relative to the expected entry, and to the largest one)
# is a near miss, "close": an approximation, not a mistake in the formula.
CLOSE_RELATIVE = 1e-2
CLOSE_OF_SCALE = 1e-3


def _entry(index: tuple, ndim: int) -> str:
    if ndim == 2:
        return f"row {index[0]}, column {index[1]}"
    return f"component {index[0]}" if ndim == 1 else "the value"


def _near_miss(got: np.ndarray, exp: np.ndarray, rtol: float, atol: float) -> str | None:
    """The "close" sentence, stating the tolerance, when every entry is within a near miss."""
    diff = np.abs(got - exp)
    scale = float(np.max(np.abs(exp))) if exp.size else 0.0
    if not np.all(diff <= CLOSE_RELATIVE * np.abs(exp) + CLOSE_OF_SCALE * scale):
        return None
    worst = np.unravel_index(int(np.argmax(diff - (atol + rtol * np.abs(exp)))), exp.shape)
    return say("close", diff=f"{float(diff[worst]):.3g}", where=_entry(worst, exp.ndim),
               allowed=f"{atol + rtol * abs(float(exp[worst])):.2g}", atol=f"{atol:g}", rtol=f"{rtol:g}")


def _nonzero(exp: np.ndarray, atol: float) -> np.ndarray:
    return np.abs(exp) > atol


def diagnose_array(got: np.ndarray, exp: np.ndarray, rtol: float, atol: float,
                   kind: str = "matrix") -> tuple[bool, str, str]:
    """(passed, diagnosis, message) for numeric arrays. A diagnosis names a mistake only where
    the probe can tell it from others: no constant factor from a single nonzero entry."""
    if not _all_finite(got):
        bad = np.argwhere(~np.isfinite(got))
        where = ", ".join(str(tuple(int(i) for i in b)) if len(b) > 1 else str(int(b[0])) for b in bad[:6])
        kinds = "NaN" if np.isnan(got).any() else "Inf"
        if np.isnan(got).any() and np.isinf(got).any():
            kinds = "NaN and Inf"
        return False, "nan_inf", say("nan_inf", kinds=kinds, where=f" at {where}" if got.ndim else "")

    if got.shape != exp.shape:
        return _diagnose_shape(got, exp, rtol, atol, kind)

    if _allclose(got, exp, rtol, atol):
        return True, "ok", say("ok")

    if exp.ndim == 2 and exp.shape[0] == exp.shape[1] and not _allclose(exp, exp.T, rtol, atol) \
            and _allclose(got, exp.T, rtol, atol):
        return False, "transpose", say("transpose", shapes="")
    nonzero = _nonzero(exp, atol)
    if nonzero.any() and _allclose(got, -exp, rtol, atol):
        return False, "sign", say("sign", what="every entry has" if exp.size > 1 else "the value has")
    if np.count_nonzero(nonzero) >= 2:  # with one nonzero entry any wrong value is a "multiple"
        denom = float(np.sum(exp * exp))
        c = float(np.sum(got * exp) / denom)
        if np.isfinite(c) and not np.isclose(c, 1.0, rtol=1e-3) and abs(c) > 1e-12 \
                and _allclose(got, c * exp, rtol, atol):
            return False, "scaled", say("scaled", factor=f"{c:.4g}", why="")

    near = _near_miss(got, exp, rtol, atol)
    if near is not None:
        return False, "close", near
    bad = ~_close(got, exp, rtol, atol)
    flipped = bad & nonzero & _close(got, -exp, rtol, atol)
    if flipped.any() and np.all(flipped == bad):
        where = (_where_2d(np.argwhere(flipped)) if exp.ndim == 2 else f"components {_indices(np.where(flipped)[0])}")
        return False, "sign_some", say("sign_some", where=where, count=int(flipped.sum()),
                                       total=int(np.count_nonzero(nonzero)))
    if exp.size == 1:
        return False, "wrong_value", say("wrong_value", detail=f"the single entry should be {fmt_value(exp.item())}, "
                                                               f"you returned {fmt_value(got.item())}")
    if exp.ndim == 2:
        return False, *_diagnose_matrix(got, exp, bad, rtol, atol)
    if exp.ndim == 1:
        idx = np.where(bad)[0]
        if len(idx) < exp.size:
            return False, "wrong_value", say("wrong_value", detail=f"components {_indices(idx)} are wrong "
                                                                   f"({len(idx)} of {exp.size})")
        return False, "wrong_value", say("wrong_value", detail="every component is wrong (largest difference "
                                                               f"{float(np.max(np.abs(got - exp))):.3g})")
    return False, "wrong_value", say("wrong_value", detail=f"expected {fmt_value(exp)}, the difference is "
                                                           f"{float(np.max(np.abs(got - exp))):.3g}")


def _where_2d(cells: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(f"({int(i)}, {int(j)})" for i, j in cells[:limit])
    return "entries " + shown + (f" (and {len(cells) - limit} more)" if len(cells) > limit else "")


def _diagnose_matrix(got, exp, bad, rtol, atol) -> tuple[str, str]:
    """(diagnosis, message) for a wrong matrix of the right shape, by where it is wrong."""
    m, n = exp.shape
    rows = np.where(bad.any(axis=1))[0]
    cols = np.where(bad.any(axis=0))[0]
    off_diagonal = ~np.eye(m, n, dtype=bool)
    if m == n and m > 1 and not np.any(_nonzero(exp, atol) & off_diagonal) and not np.any(bad & off_diagonal):
        where = np.where(np.diag(bad))[0]
        return "diagonal_only", say("diagonal_only", where=f"(i, i) for i = {_indices(where)}", count=len(where),
                                    total=m)
    # every wrong row a multiple of the right one: a missing/extra diagonal factor on the left
    if _rows_scaled(got, exp, rows, rtol, atol):
        return "row_scaled", say("row_scaled", rows=_indices(rows))
    if len(rows) == 1 and m > 1 and len(cols) > 1:
        return "one_row", say("one_row", row=int(rows[0]), cols=_indices(cols))
    if len(cols) == 1 and n > 1 and len(rows) > 1:
        return "one_column", say("one_column", col=int(cols[0]), rows=_indices(rows))
    if len(rows) < m or len(cols) < n:
        return "rows_cols", say("rows_cols", rows=_indices(rows), cols=_indices(cols), count=int(bad.sum()),
                                total=bad.size)
    err = float(np.max(np.abs(got - exp)))
    return "wrong_value", say("wrong_value", detail=f"all rows and columns have wrong entries (largest difference "
                                                    f"{err:.3g})")


def _rows_scaled(got, exp, rows, rtol, atol) -> bool:
    if len(rows) == 0 or exp.ndim != 2 or exp.shape[1] < 2:
        return False
    if len(rows) < 2 and exp.shape[0] > 1:
        return False  # one wrong row is better described as one row
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

    def wrong_shape(why=""):
        return False, "wrong_shape", say("wrong_shape", got=gs, expected=es, why=why)
    if exp.ndim == 2:
        m, n = exp.shape
        if got.shape == (n, m):
            if _allclose(got, exp.T, rtol, atol):
                return False, "transpose", say("transpose", shapes=f" ({gs} instead of {es})")
            return wrong_shape(" — the transposed shape: a Jacobian has one row per output")
        if got.ndim == 1:
            if m == n and np.count_nonzero(exp - np.diag(np.diag(exp))) == 0 and got.shape == (n,) \
                    and _allclose(got, np.diag(exp), rtol, atol):
                return False, "diagonal", say("diagonal", got=gs, expected=es)
            if got.shape == (n,) and _allclose(got, exp.sum(axis=0), rtol, atol):
                return False, "gradient", say("gradient", got=gs, expected=es)
            if got.shape == (m,) and _allclose(got, exp.sum(axis=1), rtol, atol):
                return False, "row_sum", say("row_sum", got=gs, expected=es)
    if got.size == exp.size and _allclose(got.reshape(exp.shape), exp, rtol, atol):
        return wrong_shape(" — the numbers are right but arranged in the wrong shape")
    if kind == "vector" and got.ndim == 2:
        return wrong_shape(" — return a vector, without forming the matrix")
    return wrong_shape()


def _judge_shape(value: Any, exp: tuple) -> tuple[bool, str, str]:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                             for v in value):
        if tuple(value) == tuple(exp):
            return True, "ok", say("ok")
        if tuple(value) == tuple(exp[::-1]):
            return False, "transpose", say("transpose", shapes=f" ({value} instead of {tuple(exp)})")
        return False, "wrong_value", say("wrong_value", detail=f"the shape should be {tuple(exp)} (outputs × inputs: "
                                                               f"m = the last width, n = the first), you returned "
                                                               f"{value}")
    if isinstance(value, np.ndarray) or (isinstance(value, tuple) and len(value) == 2):
        return False, "not_int", say("not_int", detail="return a tuple of two ints, like (m, n) — not floats or an array")
    return False, "not_numeric", say("not_numeric", detail="return a tuple of two ints (m, n)")


def _judge_scalar(value: Any, exp: float, rtol, atol) -> tuple[bool, str, str]:
    arr = as_array(value)
    if arr is None:
        return False, "not_numeric", say("not_numeric", detail="return a number (a float)")
    if arr.size != 1:
        return False, "wrong_shape", say("wrong_shape", got=_shape(arr.shape), expected="a single number",
                                         why=": return one number")
    x = float(arr.reshape(-1)[0])
    if not np.isfinite(x):
        return False, "nan_inf", say("nan_inf", kinds="NaN" if np.isnan(x) else "Inf", where="")
    close = lambda target: bool(np.isclose(x, target, rtol=rtol, atol=atol))  # noqa: E731
    got, want = fmt_value(x), fmt_value(exp)
    # a number of the other sign is a different answer, however small (0 counts as positive)
    if close(exp) and (x < 0) == (exp < 0):
        return True, "ok", say("ok")
    if exp != 0 and close(-exp):
        return False, "sign", say("sign", what=f"expected {want}, you returned {got}, a number of")
    if exp not in (0.0, 1.0):
        if close(exp * exp):
            return False, "squared", say("squared", got=got, expected=want)
        if exp > 0 and close(np.sqrt(exp)):
            return False, "square_root", say("square_root", got=got, expected=want)
    if exp != 0:
        k = x / exp
        # a whole multiple, to within the tolerance, is a count or a sum, not a chance
        if round(k) > 1 and close(round(k) * exp):
            return False, "scaled", say("scaled", factor=str(round(k)),
                                        why=": a count or a sum where a fraction or a mean is expected?")
    if 0 < exp < 1 and close(1 - exp):
        return False, "complement", say("complement", expected=want)
    near = _near_miss(np.array(x), np.array(exp), rtol, atol)
    if near is not None and (x < 0) == (exp < 0):
        return False, "close", f"you returned {got}, expected {want}: " + near
    return False, "wrong_value", say("wrong_value", detail=f"expected {want}, you returned {got}")


def _judge_index(value: Any, exp: int) -> tuple[bool, str, str]:
    if isinstance(value, float):
        return False, "not_int", say("not_int", detail=f"you returned the float {fmt_value(value)}: an index is an int")
    if isinstance(value, np.ndarray) and value.size == 1:
        return False, "not_int", say("not_int", detail=f"you returned an array or tensor of shape {_shape(value.shape)}: "
                                                       "an index is one int (int(...) or .item() turns an integer "
                                                       "tensor into one)")
    if isinstance(value, (np.ndarray, tuple)):
        return False, "wrong_shape", say("wrong_shape", got=f"{fmt_value(value)}", expected="one index (an int)",
                                         why="")
    if not isinstance(value, int):
        return False, "not_numeric", say("not_numeric", detail="return an index (an int)")
    if value == exp:
        return True, "ok", say("ok")
    if value < 0:
        return False, "out_of_range", say("out_of_range", got=value)
    if abs(value - exp) == 1:
        return False, "off_by_one", say("off_by_one", expected=exp, got=value)
    return False, "wrong_value", say("wrong_value", detail=f"expected index {exp}, you returned {value}")


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
        passed, diagnosis, message, details = False, "internal_error", say("internal_error", error=repr(exc)), []
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
            return False, "changed_argument", say("changed_argument", detail=e.message), details
        return False, "exception", say("exception", exc_type=e.exc_type, message=e.message, where=where), details
    if outcome.autograd_calls:
        diagnosis = violation_diagnosis(rules_for(exercise), outcome.autograd_calls)
        return False, diagnosis, say(diagnosis, calls=", ".join(outcome.autograd_calls[:4])), details
    value = outcome.value
    if value is None:
        return False, "none", say("none"), details
    if isinstance(value, Unconvertible) and value.too_large:
        return False, "too_large", say("too_large", text=value.text, expected=_expected_size(expected)), details
    if isinstance(value, Unconvertible):
        return False, "not_numeric", say("not_numeric", detail=f"your function returned a {value.type_name}, which is "
                                          "not numbers; return a torch tensor, a numpy array or nested lists of "
                                          "numbers"), details
    if isinstance(value, (str, bool)):
        return False, "not_numeric", say("not_numeric", detail=f"your function returned {type(value).__name__} {value!r}, "
                                                              "not numbers"), details

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
        return False, "not_numeric", say("not_numeric", detail="your function returned something that is not a "
                                                               "rectangular array of numbers (ragged lists, or "
                                                               "non-numbers inside)"), details
    if answer == "property":
        ok, diagnosis, message = expected.check(got)
        return ok, diagnosis, message, details

    exp = np.asarray(expected.value, dtype=np.float64)
    passed, diagnosis, message = diagnose_array(got, exp, exercise.rtol, exercise.atol, answer)
    if got.shape == exp.shape:
        details += _hint(exercise, probe, got, exp, passed)
    return passed, diagnosis, message, details


def _hint(exercise, probe, got, exp, passed: bool) -> list[str]:
    """The exercise's hint for a wrong answer of the expected type, as a detail line."""
    if passed or exercise.hint is None:
        return []
    try:
        hint = exercise.hint(probe, got, exp)
    except Exception:
        hint = None
    return ["hint: " + hint] if hint else []
