"""Points for one test cell, from the verdicts on its probes.

Credit comes from the probes in general position: points × the fraction of them passed.
Special cases (``Probe.edge``: a pre-activation exactly 0, every unit active or dead, a
single unit ...) can only take credit away: failing all of them costs ``EDGE_WEIGHT`` of
the score, failing some costs that share of it. So an answer wrong on every general probe
earns 0 however many special cases it passes, and one wrong only at special cases keeps
more than half. A policy violation scores 0. Rounded to 2 decimals.
"""
from __future__ import annotations

from dataclasses import dataclass

from autograder.protocol.values import Verdict

# the share of the score that failing every special case takes away
EDGE_WEIGHT = 0.5


@dataclass(frozen=True)
class Tally:
    general_passed: int
    general: int
    edge_passed: int
    edge: int


def tally(verdicts: list[Verdict]) -> Tally:
    """How many general and special-case probes there were, and how many of each passed."""
    general = [v.passed is True for v in verdicts if not v.edge]
    edge = [v.passed is True for v in verdicts if v.edge]
    return Tally(general_passed=sum(general), general=len(general), edge_passed=sum(edge), edge=len(edge))


def score(exercise, verdicts: list[Verdict], violation: list[str] | None = None) -> float:
    """``exercise.points`` × (general probes passed / general probes) × (1 − ``EDGE_WEIGHT`` ×
    special cases failed / special cases), rounded to 2 decimals; 0 on a policy violation or
    without a general probe. Always within [0, points]."""
    t = tally(verdicts)
    if violation or not t.general:
        return 0.0
    penalty = EDGE_WEIGHT * (t.edge - t.edge_passed) / t.edge if t.edge else 0.0
    value = round(float(exercise.points) * t.general_passed / t.general * (1.0 - penalty), 2)
    return min(max(value, 0.0), float(exercise.points))
