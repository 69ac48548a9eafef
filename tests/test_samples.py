"""autograder.samples builds the submissions other tests, the demo and the benchmark use:
check they are what they claim to be (no grading here, except the one slow test at the end)."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder import samples

SOURCE = samples.REPO_ROOT / "source" / samples.ASSIGNMENT
RELEASE = samples.REPO_ROOT / "release" / samples.ASSIGNMENT


def _cells(nbs):
    return {samples.nbgrader_meta(c)["grade_id"]: c.source
            for nb in nbs.values() for c in nb.cells
            if samples.nbgrader_meta(c).get("solution")}


def test_every_mistake_targets_a_solution_cell_in_its_notebook():
    for m in samples.MISTAKES.values():
        nb = nbformat.read(SOURCE / f"{m.notebook}.ipynb", as_version=4)
        ids = {samples.nbgrader_meta(c).get("grade_id") for c in nb.cells
               if samples.nbgrader_meta(c).get("solution")}
        assert m.exercise in ids, m.name
        assert f"def {m.exercise}(" in m.source, m.name
        compile(m.source, m.name, "exec")


def test_blank_is_the_release_untouched():
    blank = samples.submission("blank")
    for name, nb in blank.items():
        assert nb == nbformat.read(RELEASE / f"{name}.ipynb", as_version=4)


def test_perfect_fills_every_solution_cell_with_the_worked_solution():
    perfect = _cells(samples.submission("perfect"))
    blank = _cells(samples.submission("blank"))
    assert set(perfect) == set(blank)
    for gid, text in perfect.items():
        assert text != blank[gid]
        assert "BEGIN SOLUTION" not in text and "NotImplementedError" not in text


@pytest.mark.parametrize("name", list(samples.MISTAKES))
def test_a_mistake_changes_only_its_own_cell(name):
    perfect = _cells(samples.submission("perfect"))
    wrong = _cells(samples.submission(name))
    changed = {gid for gid in perfect if perfect[gid] != wrong[gid]}
    assert changed == {samples.MISTAKES[name].exercise}


def test_specs_are_validated():
    with pytest.raises(KeyError):
        samples.submission("no_such_mistake")
    with pytest.raises(ValueError):
        samples.submission(["transposed_jacobian", "autograd_in_by_hand"])  # same cell


def test_expected_scores():
    points = samples.test_points(SOURCE)
    assert sum(points.values()) == 29
    assert samples.expected_scores("perfect") == {g: (p, p) for g, p in points.items()}
    assert samples.expected_scores("blank") == {g: (0.0, 0.0) for g in points}
    exp = samples.expected_scores(["transposed_jacobian", "warning_but_correct", "relu_one_at_zero"])
    assert exp["test_jacobian_by_hand"] == (0.0, 0.0)       # wrong in general
    assert exp["test_affine_jacobian"] == (1.0, 1.0)        # a right answer
    assert exp["test_relu_jacobian"] == (0.01, 1.99)        # wrong only at a special case
    assert {m.credit for m in samples.MISTAKES.values()} == {"none", "partial", "full"}


def test_write_class(tmp_path):
    course = samples.make_course(tmp_path / "course")
    folders = samples.write_class(course, {"ada": "perfect", "bo": "blank"})
    for student, folder in folders.items():
        assert folder == course / "submitted" / student / samples.ASSIGNMENT
        assert sorted(p.stem for p in folder.glob("*.ipynb")) == sorted(samples.NOTEBOOKS)
        assert (folder / "timestamp.txt").read_text().endswith("UTC")


def test_demo_class_covers_every_mistake():
    used = [m for spec in samples.DEMO_CLASS.values() if not isinstance(spec, str) for m in spec]
    assert sorted(used) == sorted(samples.MISTAKES)
    assert "perfect" in samples.DEMO_CLASS.values() and "blank" in samples.DEMO_CLASS.values()


@pytest.mark.slow
def test_every_mistake_costs_points_with_autograder_grade(make_class):
    """The demo class (every mistake once, a perfect and a blank student), graded by
    `autograder grade`: each mistake costs points on its exercise and nowhere unexpected."""
    pytest.importorskip("autograder.cli")
    roster = dict(samples.DEMO_CLASS)
    course = make_class(roster)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", samples.ASSIGNMENT],
                          cwd=course, env=samples.course_env(course), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    scores = samples.gradebook_scores(course)
    wrong = {student: found for student, spec in roster.items()
             if (found := samples.unexpected_scores(scores.get(student, {}), spec))}
    assert not wrong, wrong
