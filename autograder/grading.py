"""One exercise, graded: probes → the student's answers → verdicts → policy → score.

The same loop serves the notebook's ``check()`` (answers from an in-process call) and the
trusted grader (answers fetched from the sandbox child): only ``call`` differs.
"""
from __future__ import annotations

from typing import Callable

from .compare import judge
from .authoring import Exercise, probes
from .policy import static_violations
from .scoring import score
from .values import Outcome, Probe, Verdict


def run_exercise(exercise: Exercise, call: Callable[[Probe], Outcome], seed: int | None,
                 sources: list[str], function_name: str | None = None
                 ) -> tuple[list[Verdict], list[str], float]:
    """Judge ``call(probe)`` on every probe; return (verdicts, policy violations, score).

    A by-hand exercise is checked for autograd twice: in the student's source, reached from
    the function (trusted: we read the text), and while it runs (the tracer's report).
    """
    violation: list[str] = []
    if exercise.by_hand:
        violation = list(static_violations(sources, function_name or exercise.name))
    verdicts, ran = [], []
    for probe in probes(exercise, seed):
        outcome = call(probe)
        ran += [c for c in outcome.autograd_calls if c not in ran]
        verdicts.append(judge(exercise, probe, outcome, exercise.reference(probe)))
    if exercise.by_hand:
        violation += [f"{c} (ran while your function was called)" for c in ran]
    return verdicts, violation, score(exercise, verdicts, violation)
