"""Probes every student shares (`exercise(shared=...)`): drawn from the course's seed, their
references computed once per process, and written to the child's share file once."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from autograder.course import seeds
from autograder.course.authoring import exercise, probe, probes, value
from autograder.course.builders import T
from autograder.inside.calling import call_student
from autograder.judge import grading
from autograder.protocol.rules import rules_for
from autograder.sandbox.share import ShareFiles

SECRET = b"s" * 32
REFERENCES: list[int] = []


def doubled(x):
    REFERENCES.append(int(x.numel()))
    return 2 * x


def _exercise():
    return exercise(name="doubled", kind="free", answer="vector", reference=value(doubled),
                    visible=[probe(T([1.0, 2.0]), label="x = (1, 2)")],
                    hidden=lambda rng: [probe(T(rng.standard_normal(3)), label="small")],
                    shared=lambda rng: [probe(torch.from_numpy(rng.standard_normal(50_000)), label="big")])


def test_shared_probes_are_the_same_for_every_student_and_the_own_ones_are_not():
    ex = _exercise()
    ada, bo = (probes(ex, seeds.exercise_seed(SECRET, s, ex.name)) for s in ("ada", "bo"))
    assert [p.label for p in ada] == ["x = (1, 2)", "small", "big"] and all(p.hidden for p in ada[1:])
    assert [p.shared for p in ada] == [False, False, True]
    assert not torch.equal(ada[1].args[0], bo[1].args[0])
    assert torch.equal(ada[2].args[0], bo[2].args[0])
    other_course = probes(ex, seeds.exercise_seed(b"t" * 32, "ada", ex.name))
    assert not torch.equal(ada[2].args[0], other_course[2].args[0])
    assert seeds.shared_seed(SECRET, ex.name) not in {seeds.student_seed(SECRET, s, ex.name) for s in ("", "ada")}


def test_shared_references_are_computed_once_per_process_and_scores_do_not_change():
    ex = _exercise()
    grading._SHARED.clear()
    REFERENCES.clear()
    right = lambda x: x * 2          # noqa: E731
    wrong_at_scale = lambda x: x * 2 if x.numel() < 1000 else x    # noqa: E731
    scores = {}
    for student in ("ada", "bo", "cy"):
        seed = seeds.exercise_seed(SECRET, student, ex.name)
        for name, fn in (("right", right), ("wrong", wrong_at_scale)):
            verdicts, _, score = grading.run_exercise(ex, lambda p, max_numbers, fn=fn: call_student(
                fn, p, rules=rules_for(ex), max_numbers=max_numbers), seed, [])
            scores[student, name] = score, [v.passed for v in verdicts]
    assert REFERENCES.count(50_000) == 1, "the shared reference was computed again"
    assert REFERENCES.count(3) == 6 and REFERENCES.count(2) == 6
    for student in ("ada", "bo", "cy"):
        assert scores[student, "right"][1] == [True, True, True]
        assert scores[student, "wrong"][1] == [True, True, False]
    # a plain int seed (tests, notebooks' own seeds) still draws them, from a generator of its own
    assert [p.label for p in probes(ex, 7)][-1] == "big"


def test_a_share_file_is_written_again_only_when_its_tensor_or_the_file_changed(tmp_path):
    files = ShareFiles(None)
    try:
        big = torch.arange(1 << 18, dtype=torch.float64)
        shared = files.put(0, big)
        first = os.stat(shared.path).st_ctime_ns
        files.put(0, big)
        assert os.stat(shared.path).st_ctime_ns == first, "the same tensor was written again"
        big[0] = -1.0                                     # changed in place: written again
        files.put(0, big)
        assert np.fromfile(shared.path, dtype=np.float64)[0] == -1.0
        os.chmod(shared.path, 0o600)                      # someone touched the file
        with open(shared.path, "r+b") as fh:
            fh.write(b"\0" * 8)
        files.put(0, big)
        assert np.fromfile(shared.path, dtype=np.float64)[0] == -1.0
        other = big.clone()                               # another tensor, equal or not
        other[1] = 42.0
        files.put(0, other)
        assert np.fromfile(shared.path, dtype=np.float64)[1] == 42.0
        files.clear_from(0)                               # a student's own probe: emptied
        assert os.path.getsize(shared.path) == 0
        files.put(0, other, shared=True)                  # a shared one stays for the next student
        files.clear_from(0)
        assert os.path.getsize(shared.path) == other.numel() * 8
        before = os.stat(shared.path).st_ctime_ns
        files.put(0, other, shared=True)
        assert os.stat(shared.path).st_ctime_ns == before
        files.put(0, big)                                 # the slot reused for an own probe
        files.clear_from(0)
        assert os.path.getsize(shared.path) == 0
    finally:
        files.close()


@pytest.mark.parametrize("assignment", ["jacobians", "sensitivity"])
def test_the_courses_probes_at_scale_are_shared(assignment):
    from autograder.course.declarations import assignment_exercises
    from autograder.course.directory import CHECKOUT
    declared = assignment_exercises(CHECKOUT, assignment)
    shared = {name for name, ex in declared.items() if ex.shared is not None}
    assert shared == ({"relu_vjp"} if assignment == "jacobians"
                      else {"linear_prediction", "coupling_log_det", "spectral_norm"})
    for name in shared:   # the student's own hidden probes stay small: the big ones are drawn once
        sizes = [sum(a.numel() for a in p.args if isinstance(a, torch.Tensor))
                 for p in declared[name].hidden(np.random.default_rng(0))]
        assert max(sizes) < 10 ** 5, (name, sizes)
