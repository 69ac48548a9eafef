"""Probes tell the right answer from every plausible misreading of the exercise.

Each assignment's declarations list, next to the exercises, the misreadings its probes must
separate (``MISREADINGS``: row for column, entry for column norm, depth for width, ...). For
many course secrets, each misreading fails every probe in general position of its exercise,
visible and hidden, so it earns nothing; the right answer still passes them all.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from autograder.course import declarations
from autograder.course.authoring import probes
from autograder.course.directory import exercises_directory
from autograder.course.seeds import student_seed
from autograder.inside.calling import call_student
from autograder.judge.compare import judge
from autograder.protocol.rules import Rules
from course_layout import ASSIGNMENTS, REPO_ROOT

SECRETS = [bytes([k]) * 32 for k in range(8)]
# probes this big are about scale, not about telling answers apart; the misreadings, which
# build whole Jacobians, are not run on them
LARGEST = 10_000


def _declared(assignment):
    text = declarations.read_declarations(exercises_directory(str(REPO_ROOT)), assignment)
    return declarations.declarations_module(text), declarations.assignment_exercises(str(REPO_ROOT), assignment)


COURSE = {a: _declared(a) for a in ASSIGNMENTS}
CASES = [(a, name) for a in ASSIGNMENTS for name in sorted(COURSE[a][1])]


def _size(value) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    if isinstance(value, torch.nn.Module):
        return sum(p.numel() for p in value.parameters())
    return 1


def _general_probes(exercise, secret):
    seed = student_seed(secret, "student", exercise.name)
    return [p for p in probes(exercise, seed) if not p.edge and _size((*p.args, *p.kwargs.values())) <= LARGEST]


@pytest.mark.parametrize("assignment,name", CASES)
def test_every_exercise_lists_its_misreadings(assignment, name):
    module, _ = COURSE[assignment]
    assert len(module.MISREADINGS.get(name, {})) >= 2, f"write the misreadings of {name} in {assignment}'s MISREADINGS"


@pytest.mark.parametrize("assignment,name", CASES)
def test_probes_separate_each_misreading_from_the_right_answer(assignment, name):
    module, exercises = COURSE[assignment]
    exercise = exercises[name]
    misreadings = module.MISREADINGS.get(name, {})
    for secret in SECRETS:
        for probe in _general_probes(exercise, secret):
            expected = exercise.reference(probe)
            for reading, wrong in misreadings.items():
                outcome = call_student(wrong, dataclasses.replace(probe), rules=Rules())
                verdict = judge(exercise, probe, outcome, expected)
                assert not verdict.passed, (f"{name}: the misreading {reading!r} passes the probe {probe.label!r} "
                                            f"(secret {secret[:1].hex()})")


def test_the_two_shortcuts_found_by_held_out_answers_earn_nothing():
    """The column of the single largest |entry| is not the largest column, and the number of
    layers is not the output width, on every probe of every seed."""
    from autograder.judge.grading import run_exercise
    import functools

    _, jacobians = COURSE["jacobians"]
    _, sensitivity = COURSE["sensitivity"]

    def largest_entry_column(f, x):
        J = torch.func.jacrev(f)(x)
        return int(np.unravel_index(int(J.abs().argmax()), tuple(J.shape))[1])

    def depth_for_width(layer_sizes):
        return (len(layer_sizes) - 1, layer_sizes[0])

    for secret in SECRETS:
        for exercise, fn in ((sensitivity["most_sensitive_input"], largest_entry_column),
                             (jacobians["network_jacobian_shape"], depth_for_width)):
            seed = student_seed(secret, "student", exercise.name)
            _, _, score = run_exercise(exercise, functools.partial(call_student, fn, rules=Rules()), seed, [])
            assert score == 0, (exercise.name, secret[:1].hex())
