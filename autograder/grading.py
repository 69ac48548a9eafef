"""One exercise, graded: probes → the student's answers → verdicts → policy → score.

The same loop serves the notebook's ``check()`` (answers from an in-process call) and the
trusted grader (answers fetched from the sandbox child): only ``call`` differs.
"""
from __future__ import annotations

from typing import Callable

from .compare import judge
from .authoring import Exercise, probes
from .policy import ran_findings, rules_for, static_violations
from .scoring import score
from .values import Outcome, Probe, Verdict


def run_exercise(exercise: Exercise, call: Callable[[Probe], Outcome], seed: int | None,
                 sources: list[str], function_name: str | None = None
                 ) -> tuple[list[Verdict], list[str], float]:
    """Judge ``call(probe)`` on every probe; return (verdicts, policy violations, score).

    What the exercise's rules (``policy.Rules``: its kind and ``forbid``) do not allow is
    looked for twice: in the student's source, reached from the function (trusted: we read the
    text), and while it runs (the tracer's report).
    """
    rules = rules_for(exercise)
    violation = static_violations(sources, function_name or exercise.name, rules=rules)
    verdicts, ran = [], []
    for probe in probes(exercise, seed):
        outcome = call(probe)
        ran += [c for c in outcome.autograd_calls if c not in ran]
        verdicts.append(judge(exercise, probe, outcome, exercise.reference(probe)))
    violation += ran_findings(rules, ran, violation)
    return verdicts, violation, score(exercise, verdicts, violation)
