"""The visible checks as they travel with a release: what a student's own ``check`` needs, and
nothing of how the course grades.

A declaration's reference is code, and for answers graded by value it is the solution itself
(``value(fgsm_reference)``); its hidden probes are generators seeded by the course secret.
Neither may leave the course. So the release carries a *record*: each exercise with its
visible probes, the reference's result on each of them computed here, on the instructor's
side, and the rules (kind, answer, tolerances, forbidden calls, points, notebook). No hidden
probe, no shared probe, no hint and no reference function is in it. An answer graded by a
property (``satisfies``) keeps its checker, which says what any right answer is, as the
prompt does.

``record`` is what nbgrader's ``generate_assignment`` writes as ``VISIBLE_CHECKS`` beside the
released notebooks (``hooks.release``); ``read_record`` is how a check outside the course
finds it (``declarations.find_exercise``).

May import: ``course.authoring``, ``protocol``, cloudpickle.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Iterable

from autograder.course.authoring import Exercise
from autograder.course.directory import VISIBLE_CHECKS
from autograder.protocol.values import Expected, Probe


def no_hidden_probes(rng) -> list[Probe]:
    """A recorded exercise's hidden probes: none, since they are drawn only when graded."""
    return []


@dataclasses.dataclass(frozen=True)
class Recorded:
    """A reference that answers from what the course's reference returned on each visible
    probe. Probes are matched by identity, which pickling keeps within one record."""
    answers: tuple[tuple[Probe, Expected], ...]
    arg_names: tuple[str, ...] = ()

    def __call__(self, probe: Probe) -> Expected:
        for known, expected in self.answers:
            if known is probe:
                return expected
        raise LookupError(f"no recorded answer for the probe {probe.label!r}")


def recorded(exercise: Exercise) -> Exercise:
    """``exercise`` with its visible probes' answers computed now and every function of the
    course's taken out."""
    probes = tuple(exercise.visible())
    answers = tuple((p, exercise.reference(p)) for p in probes)
    return dataclasses.replace(
        exercise, reference=Recorded(answers=answers, arg_names=exercise.arg_names),
        visible=functools.partial(list, probes), hidden=no_hidden_probes, shared=None, hint=None)


def record(exercises: Iterable[Exercise]) -> bytes:
    """The record of ``exercises`` (bound to their notebooks), as the release carries it."""
    import cloudpickle

    return cloudpickle.dumps({e.name: recorded(e) for e in exercises})


def read_record(folder: str) -> dict[str, Exercise]:
    """The record in ``folder`` (name -> exercise), empty when there is none; LookupError,
    saying what to do, when it cannot be read."""
    import pickle

    path = os.path.join(folder, VISIBLE_CHECKS)
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        return {}
    except Exception as exc:  # noqa: BLE001 - a damaged copy, or one from another version
        raise LookupError(f"{path} cannot be read ({type(exc).__name__}: {exc}): fetch the assignment "
                          "again") from None
