"""Words for a stuck student: what was expected, what came back, where they differ, and the
probe input to reproduce it. Big tensors are abbreviated (shape and first values)."""
from __future__ import annotations

import types
from typing import Any

import numpy as np

from autograder.protocol.values import Unconvertible, Verdict

MAX_ENTRIES = 36     # show arrays up to this many entries in full
HEAD = 6             # first values shown for bigger ones


def fmt_number(x: float) -> str:
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x)}" if x != 0 or np.copysign(1, x) > 0 else "0"
    return f"{x:.6g}"


def fmt_array(a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.ndim == 0:
        return fmt_number(a.item())
    if a.size > MAX_ENTRIES:
        head = ", ".join(fmt_number(v) for v in a.reshape(-1)[:HEAD])
        return f"array of shape {tuple(a.shape)}, first values [{head}, ...]"
    with np.printoptions(precision=6, suppress=False, linewidth=100, threshold=MAX_ENTRIES):
        text = np.array2string(a, separator=", ", formatter={"float_kind": fmt_number})
    return text


def fmt_value(v: Any) -> str:
    """A plain value (or a probe argument) in a few lines at most."""
    try:
        import torch
        if isinstance(v, torch.Tensor):
            return fmt_array(v.detach().to(torch.float64).numpy())
    except Exception:
        pass
    if v is None:
        return "None"
    if isinstance(v, Unconvertible):
        return f"{v.type_name}: {v.text}"
    if isinstance(v, np.ndarray):
        return fmt_array(v)
    if isinstance(v, (bool, str)):
        return repr(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return fmt_number(v)
    if isinstance(v, (list, tuple)):
        inner = ", ".join(fmt_value(x) for x in v[:8]) + (", ..." if len(v) > 8 else "")
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    if isinstance(v, types.FunctionType):  # a probe's function says what it computes in its docstring
        doc = (v.__doc__ or "").strip().splitlines()
        return doc[0] if doc else f"the function {v.__name__}"
    return repr(v)[:200]


def fmt_probe(exercise, probe) -> str:
    """The probe's arguments by name, e.g. ``W = [[1, 2], ...]; b = ...``."""
    names = list(getattr(exercise, "arg_names", ()) or ())
    parts = []
    for i, a in enumerate(probe.args):
        name = names[i] if i < len(names) else f"arg{i}"
        parts.append(f"{name} = {fmt_value(a)}")
    for k, v in probe.kwargs.items():
        parts.append(f"{k} = {fmt_value(v)}")
    return "\n".join(parts)


# what a policy violation (see policy.violation_diagnosis) means, and what to do instead
VIOLATIONS = {
    "autograd_used": ("this exercise must be done by hand, without autograd, but your code uses:",
                      "Write the derivative yourself (autograd is fine elsewhere, e.g. to check your answer in "
                      "another cell, as long as this function does not reach it)."),
    "jacobian_built": ("this exercise is matrix-free: autograd products (torch.func.jvp / vjp, "
                       "torch.autograd.grad, .backward()) are allowed, building the whole Jacobian or Hessian "
                       "is not, but your code uses:",
                       "Get what you need from one product at a time: J·v with torch.func.jvp, vᵀ·J with "
                       "torch.func.vjp. The hidden checks are too large for the whole Jacobian to fit in memory."),
    "forbidden_call": ("your code uses what this exercise does not allow:", ""),
}


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def summary(verdicts: list[Verdict], score: float, points: float) -> str:
    """The graded line: how many checks passed, how many of them hidden, and the score."""
    k, n = sum(v.passed for v in verdicts), len(verdicts)
    hidden = sum(v.hidden for v in verdicts)
    among = f" ({hidden} of them hidden)" if hidden else ""
    return f"{k} of {n} check{'s' if n != 1 else ''}{among} passed — score {fmt_number(score)}/{fmt_number(points)}"


def visible_summary(verdicts: list[Verdict]) -> str:
    """The self-check's line: what was checked, and no score."""
    k, n = sum(v.passed for v in verdicts), len(verdicts)
    state = "passed" if k == n else "failed" if k == 0 else "partly passed"
    return f"visible check{'s' if n != 1 else ''} {state}: {k} of {n}"


# what the self-check is not (its result is no grade)
NOT_THE_GRADE = ("  This is not your grade: when grading, your function is also called on hidden inputs, special "
                 "cases among them, and the score comes from all of them. Passing the visible checks is "
                 "necessary, not sufficient.")


def special_cases(verdicts: list[Verdict]) -> list[str]:
    """How the special cases weighed on the score, when there were any and something failed
    (see ``scoring``)."""
    from autograder.judge.scoring import EDGE_WEIGHT, tally
    t = tally(verdicts)
    if not t.edge or (t.general_passed, t.edge_passed) == (t.general, t.edge):
        return []
    lines = [f"  General checks: {t.general_passed} of {t.general} passed. Special cases: {t.edge_passed} of "
             f"{t.edge} passed (inputs where some wrong answers coincide with the right one, so they can only "
             "take points away)."]
    if t.general_passed == 0 and t.edge_passed:
        lines.append("  Your function is right only at special inputs: an answer that is wrong in general is not "
                     "right, so it earns no credit.")
    elif t.general_passed == t.general and t.edge_passed < t.edge:
        lines.append(f"  Right in general, but not at the special cases marked below: each one failed costs "
                     f"its share of {EDGE_WEIGHT:.0%} of the points.")
    return lines


def render(exercise, verdicts: list[Verdict], violation: list[str] | str | None,
           score: float | None = None, *, graded: bool = True) -> str:
    """The feedback block for one exercise: a one-line summary, how special cases counted,
    the policy violation if any, and for each failing probe (at most 4, general ones first)
    the message, input, expected and returned value. ``graded=False`` is the student's
    self-check on the visible inputs: it says what it checked and that it is not the grade,
    and shows no score."""
    from autograder.protocol.rules import rules_for, violation_diagnosis
    from autograder.judge.scoring import score as compute_score
    if isinstance(violation, str):  # a caller may pass one sentence instead of a list
        violation = [violation]
    if score is None:
        score = compute_score(exercise, verdicts, violation)
    if graded:
        lines = [f"{exercise.name}: " + summary(verdicts, score, exercise.points)]
        if not violation:
            lines.extend(special_cases(verdicts))
    else:
        lines = [f"{exercise.name}: " + visible_summary(verdicts) + (", but the rules below are broken"
                                                                    if violation else "")]
    if violation:
        headline, advice = VIOLATIONS[violation_diagnosis(rules_for(exercise), violation)]
        lines.append(f"  {'Score 0' if graded else 'This scores 0 when graded'}: {headline}")
        lines.extend(f"    - {v}" for v in violation)
        if advice:
            lines.append(f"  {advice}")
    failing = sorted((v for v in verdicts if not v.passed), key=lambda v: v.edge)
    if violation:  # already explained above
        failing = [v for v in failing if v.diagnosis not in VIOLATIONS]
    shown = 0
    for v in failing:
        if shown == 4:
            lines.append(f"  ... and {len(failing) - shown} more failing check(s) of the same kind.")
            break
        shown += 1
        tags = ", ".join(t for t, on in (("hidden check", v.hidden), ("special case", v.edge)) if on)
        lines.append(f"  ✗ {v.label}{f' ({tags})' if tags else ''}: {v.message}")
        if v.inputs:
            lines.append("    input:")
            lines.append(_indent(v.inputs))
        if v.expected:
            lines.append("    expected:")
            lines.append(_indent(v.expected))
        if v.got:
            lines.append("    you returned:")
            lines.append(_indent(v.got))
        for d in v.details:
            lines.append(f"    {d}")
    if not graded:
        lines.append(NOT_THE_GRADE)
    elif not failing and not violation:
        lines.append("  Every check passed" + (", the hidden ones included." if any(v.hidden for v in verdicts) else "."))
    return "\n".join(lines)
