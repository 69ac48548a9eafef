"""Every diagnosis the engine can give, in one table: its code, the sentence the student reads,
and the label the instructor's report uses.

``say(code, **values)`` is how a diagnosis is written for the student: the code must be in
``DIAGNOSES`` (a misspelt code fails where it is made, not in the report), and the sentence is
filled in with the probe's numbers. ``label(code)`` is the report's name for it. A diagnosis
counts in the report as a mistake to re-explain only when it is ``founded``: it names a mistake
a student made (not the grader's own trouble, not a coincidence of the input), and
``cell_diagnoses`` keeps, for one test cell, the diagnoses its probes in general position
support.

May import: ``protocol``.
"""
from __future__ import annotations

from dataclasses import dataclass

from autograder.protocol.rules import Rules, violation_diagnosis
from autograder.protocol.values import Verdict


@dataclass(frozen=True)
class Diagnosis:
    student: str          # what the student reads; ``{name}`` fields come from ``say``
    label: str            # what the instructor's report calls it
    founded: bool = True  # a mistake the student made, counted in the report


DIAGNOSES: dict[str, Diagnosis] = {
    "ok": Diagnosis("correct", "right", founded=False),
    # --- arrays (compare.diagnose_array) -------------------------------------------------------
    "wrong_shape": Diagnosis("wrong shape: you returned {got}, expected {expected}{why}", "wrong shape"),
    "transpose": Diagnosis("this is the transpose of the expected Jacobian{shapes}: rows are outputs (∂f_i), "
                           "columns are inputs (∂x_j)", "transposed Jacobian"),
    "sign": Diagnosis("off by a sign: {what} the opposite sign", "sign error"),
    "sign_some": Diagnosis("the sizes are right but the sign is wrong at {where} ({count} of {total} "
                           "nonzero entries); every other entry is right — look for a minus sign, or a "
                           "difference taken the wrong way round, in the terms those entries share",
                           "sign wrong on some entries"),
    "scaled": Diagnosis("every entry is {factor} times the expected one (off by a constant factor{why})",
                        "off by a constant factor"),
    "row_scaled": Diagnosis("rows {rows} each differ from the expected row by their own factor — a missing or "
                            "extra per-output factor (e.g. the activation's derivative) multiplying the rows",
                            "rows scaled wrongly (e.g. a missing activation derivative)"),
    "diagonal_only": Diagnosis("only diagonal entries are wrong, at {where} ({count} of {total}); the rest of "
                               "the matrix (zero off the diagonal) is right. The Jacobian of an elementwise "
                               "function is diag(f'(z)): check the derivative f' itself (a missing term, "
                               "a wrong formula)", "wrong derivative on the diagonal (elementwise function)"),
    "one_row": Diagnosis("only row {row} (output f_{row}) is wrong, in columns {cols}; every other output's "
                         "derivatives are right — look at how that one output is differentiated",
                         "one output's row wrong"),
    "one_column": Diagnosis("only column {col} (input x_{col}) is wrong, in rows {rows}; the derivatives with "
                            "respect to every other input are right — look at how that one input enters",
                            "one input's column wrong"),
    "rows_cols": Diagnosis("wrong rows (outputs f_i): {rows}; wrong columns (inputs x_j): {cols}; {count} of "
                           "{total} entries differ", "some rows/columns wrong"),
    "close": Diagnosis("close, but outside the tolerance: the largest difference is {diff} ({where}), and the "
                       "check allows {allowed} there (atol {atol} + rtol {rtol} × |expected|). Is this an "
                       "approximation where the exact formula is asked (the tanh form of GELU, a finite "
                       "difference, too few iterations), or single-precision arithmetic?",
                       "close but outside the tolerance (an approximation?)"),
    "gradient": Diagnosis("you returned a vector {got}: the gradient of the sum of the outputs (the column sums), "
                          "not the full {expected} Jacobian", "returned a gradient instead of the Jacobian"),
    "row_sum": Diagnosis("you returned a vector {got}: each row of the Jacobian summed (J times a vector of "
                         "ones), not the full {expected} matrix", "rows summed (J times ones, not the Jacobian)"),
    "diagonal": Diagnosis("you returned only the diagonal as a vector {got}; the Jacobian of an elementwise "
                          "function is the full {expected} matrix with that diagonal (try torch.diag)",
                          "returned only the diagonal, not the matrix"),
    "nan_inf": Diagnosis("your result contains {kinds}{where} — look for a division by zero, an overflow "
                         "(exp of a large number) or log of 0", "NaN or Inf in the answer"),
    "wrong_value": Diagnosis("{detail}", "wrong values"),
    # --- scalars, indices and shapes ----------------------------------------------------------
    "squared": Diagnosis("you returned {got}, the square of the expected {expected} — a missing square root?",
                         "the square of the answer (a missing square root)"),
    "square_root": Diagnosis("you returned {got}, the square root of the expected {expected} — a square root "
                             "too many?", "the square root of the answer"),
    "complement": Diagnosis("you returned 1 minus the expected {expected} — is a comparison the wrong way "
                            "round?", "the complement (1 - the answer)"),
    "off_by_one": Diagnosis("expected index {expected}, you returned {got}, one away: if you counted from 1, "
                            "Python counts from 0", "index off by one"),
    "out_of_range": Diagnosis("you returned {got}: count the index from 0, without negative (from the end) "
                              "indices", "a negative index"),
    "not_int": Diagnosis("{detail}", "a float where an int is expected (a shape or an index)"),
    "not_numeric": Diagnosis("{detail}", "returned something that is not numeric"),
    "too_large": Diagnosis("your answer would hold {text}; expected {expected}, so it was not read",
                           "returned far more numbers than expected"),
    "none": Diagnosis("your function returned None — did you forget the `return` statement?", "returned None"),
    "exception": Diagnosis("your function raised {exc_type}: {message}{where}", "raised an exception"),
    "not_dead": Diagnosis("{detail}", "neurons not all dead at the returned x"),
    # --- the rules (policy, tracer) -----------------------------------------------------------
    "changed_argument": Diagnosis("{detail}", "changed the model it was given"),
    "autograd_used": Diagnosis("this exercise is by hand, but autograd ran during the call: {calls}",
                               "used autograd in a by-hand exercise"),
    "jacobian_built": Diagnosis("this exercise is matrix-free, but a whole Jacobian or Hessian was built during "
                                "the call: {calls}", "built the whole Jacobian in a matrix-free exercise"),
    "forbidden_call": Diagnosis("a call this exercise does not allow ran during the call: {calls}",
                                "called a function the exercise does not allow"),
    # --- a notebook or cell the grader could not decide on ------------------------------------
    "blank": Diagnosis("you left this answer as it was released", "left blank", founded=False),
    "not_run": Diagnosis("not graded: the notebook's process {why}", "not run (the notebook's process died)"),
    "kernel_died": Diagnosis("the notebook's process {why}", "the notebook's process died in this cell"),
    "unreadable": Diagnosis("{why}", "notebook could not be read (scored 0)"),
    "not_graded": Diagnosis("not graded: the grader reached no decision for this cell", "not graded (no decision)",
                            founded=False),
    "cannot_cross": Diagnosis("{why}", "the test cell needs what the sandbox does not carry", founded=False),
    "error": Diagnosis("the test cell raised an error", "an instructor's test failed"),
    "internal_error": Diagnosis("the grader could not compare ({error})", "grader could not compare (internal error)",
                                founded=False),
}


def say(code: str, **values) -> str:
    """The student's sentence for ``code``, its fields filled in."""
    return DIAGNOSES[code].student.format(**values)


def label(code: str) -> str:
    """The report's words for ``code`` (an unknown code, from an older grading, as it is)."""
    entry = DIAGNOSES.get(code)
    return entry.label if entry else code


def founded(code: str) -> bool:
    """Whether the report counts ``code`` as a mistake to re-explain."""
    entry = DIAGNOSES.get(code)
    return entry.founded if entry else True


def cell_diagnoses(rules: Rules, verdicts: list[Verdict], violation: list[str]) -> list[str]:
    """What one test cell's answer got wrong, for the report: the violation when there is one,
    else the diagnoses of the failing probes in general position, or of the failing special
    cases when only those failed (at a special case some wrong answers coincide, so it does not
    speak for the answer when a general probe does)."""
    if violation:
        return [violation_diagnosis(rules, violation)]
    failing = [v for v in verdicts if not v.passed]
    general = [v for v in failing if not v.edge]
    return sorted({v.diagnosis for v in (general or failing)})
