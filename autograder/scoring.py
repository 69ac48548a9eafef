"""Points for one test cell: points × fraction of probes passed, rounded to 2 decimals."""
from __future__ import annotations

from .values import Verdict


def score(exercise, verdicts: list[Verdict], violation: list[str] | None = None) -> float:
    """``exercise.points`` × (passed / total), rounded to 2 decimals; 0 on a policy violation
    or when there are no verdicts. Always within [0, points]."""
    if violation or not verdicts:
        return 0.0
    passed = sum(1 for v in verdicts if v.passed is True)
    value = round(float(exercise.points) * passed / len(verdicts), 2)
    return min(max(value, 0.0), float(exercise.points))
