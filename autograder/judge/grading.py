"""One exercise, graded: probes → the student's answers → verdicts → policy → score.

The same loop serves the notebook's ``check()`` (answers from an in-process call) and the
trusted grader (answers fetched from the sandbox child): only ``call`` differs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from autograder.inside.calling import MAX_ANSWER_NUMBERS
from autograder.judge.compare import judge
from autograder.course.authoring import Exercise, own_probes, shared_probes
from autograder.course.seeds import Seed
from autograder.judge.policy import static_violations
from autograder.protocol.rules import ran_findings, rules_for
from autograder.judge.scoring import score
from autograder.protocol.values import Expected, Outcome, Probe, Verdict

# An answer is read when it holds at most ANSWER_FACTOR times the numbers of the expected one,
# or ANSWER_FLOOR numbers (so a wrong shape, a matrix where a vector is expected, is still
# diagnosed), and never more than the hard cap; a larger one is refused from its shape.
ANSWER_FACTOR = 16
ANSWER_FLOOR = 10_000


def answer_bound(expected: Expected) -> int:
    """The most numbers the child may read of an answer to a probe with this reference."""
    size = np.size(expected.value) if expected.value is not None else 0
    return min(max(ANSWER_FACTOR * int(size), ANSWER_FLOOR), MAX_ANSWER_NUMBERS)


# exercise name -> (what drew them, [(probe, reference)]): the shared probes last drawn in
# this process, one set per exercise, reused read-only by every student graded here.
_SHARED: dict[str, tuple[tuple, list[tuple[Probe, Expected]]]] = {}


def shared_checks(exercise: Exercise, seed: int | Seed | None) -> list[tuple[Probe, Expected]]:
    """The exercise's shared probes with their references, drawn and computed once per process
    for a given declaration and course seed."""
    if seed is None or exercise.shared is None:
        return []
    key = (exercise.shared, exercise.reference, seed.shared if isinstance(seed, Seed) else int(seed))
    cached = _SHARED.get(exercise.name)
    if cached is None or cached[0] != key:
        _SHARED.pop(exercise.name, None)        # the old set's memory, before the new one is drawn
        cached = _SHARED[exercise.name] = key, [(p, exercise.reference(p)) for p in shared_probes(exercise, seed)]
    return cached[1]


def run_exercise(exercise: Exercise, call: Callable[..., Outcome], seed: int | Seed | None,
                 sources: list[str], function_name: str | None = None, *, notebook: bool = True
                 ) -> tuple[list[Verdict], list[str], float]:
    """Judge ``call(probe, max_numbers=...)`` on every probe; return (verdicts, policy
    violations, score).

    The reference comes first: the call is told how many numbers an answer may hold. The
    shared probes' references are computed once per process (``shared_checks``).
    What the exercise's rules (``policy.Rules``: its kind and ``forbid``) do not allow is
    looked for twice: in the student's source, reached from the function (trusted: we read the
    text; ``notebook``: whether ``sources`` are the notebook's cells, see ``static_violations``),
    and while it runs (the tracer's report).
    """
    rules = rules_for(exercise)
    violation = static_violations(sources, function_name or exercise.name, rules=rules, notebook=notebook)
    verdicts, ran = [], []
    checks = [(p, None) for p in own_probes(exercise, seed)] + shared_checks(exercise, seed)
    for probe, expected in checks:
        if expected is None:
            expected = exercise.reference(probe)
        outcome = call(probe, max_numbers=answer_bound(expected))
        ran += [c for c in outcome.autograd_calls if c not in ran]
        verdicts.append(judge(exercise, probe, outcome, expected))
    violation += ran_findings(rules, ran, violation)
    return verdicts, violation, score(exercise, verdicts, violation)
