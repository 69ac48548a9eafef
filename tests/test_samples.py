"""autograder.dev.samples builds the submissions other tests, the demo and the benchmark use,
from each assignment's release and its course-side catalogue of typical mistakes: check them
for every assignment that keeps one."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder.intake import cells, notebook_text
from autograder.dev import samples, scaffold
from course_layout import ASSIGNMENTS, REPO_ROOT

WITH_MISTAKES = [a for a in ASSIGNMENTS if samples.catalogue(str(REPO_ROOT), a).mistakes]
MISTAKES = [(a, name) for a in WITH_MISTAKES for name in samples.catalogue(str(REPO_ROOT), a).mistakes]


def dirs(assignment):
    return {"release_dir": REPO_ROOT / "release" / assignment, "source_dir": REPO_ROOT / "source" / assignment}


def catalogue(assignment):
    return samples.catalogue(str(REPO_ROOT), assignment)


def _cells(nbs):
    return {cells.meta(c)["grade_id"]: c.source
            for nb in nbs.values() for c in nb.cells
            if cells.meta(c).get("solution")}


@pytest.mark.parametrize("assignment, name", MISTAKES)
def test_every_mistake_targets_a_solution_cell(assignment, name):
    m = catalogue(assignment).mistakes[name]
    assert m.exercise in notebook_text.solution_notebooks(dirs(assignment)["source_dir"]), m.name
    assert f"def {m.exercise}(" in m.source, m.name
    compile(m.source, m.name, "exec")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_is_the_release_untouched(assignment):
    blank = samples.submission("blank", **dirs(assignment))
    for name, nb in blank.items():
        assert nb == nbformat.read(dirs(assignment)["release_dir"] / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_perfect_fills_every_solution_cell_with_the_worked_solution(assignment):
    perfect = _cells(samples.submission("perfect", **dirs(assignment)))
    blank = _cells(samples.submission("blank", **dirs(assignment)))
    assert set(perfect) == set(blank)
    for gid, text in perfect.items():
        assert text != blank[gid]
        assert "BEGIN SOLUTION" not in text and "NotImplementedError" not in text


@pytest.mark.parametrize("assignment, name", MISTAKES)
def test_a_mistake_changes_only_its_own_cell(assignment, name):
    perfect = _cells(samples.submission("perfect", **dirs(assignment)))
    wrong = _cells(samples.submission(name, **dirs(assignment)))
    changed = {gid for gid in perfect if perfect[gid] != wrong[gid]}
    assert changed == {catalogue(assignment).mistakes[name].exercise}


def test_specs_are_validated():
    jacobians = dirs("jacobians")
    with pytest.raises(KeyError):
        samples.submission("no_such_mistake", **jacobians)
    with pytest.raises(ValueError):
        samples.submission(["transposed_jacobian", "autograd_in_by_hand"], **jacobians)  # same cell


def test_expected_scores():
    source = dirs("jacobians")["source_dir"]
    points = notebook_text.test_points(source)
    assert samples.expected_scores("perfect", source) == {g: (p, p) for g, p in points.items()}
    assert samples.expected_scores("blank", source) == {g: (0.0, 0.0) for g in points}
    exp = samples.expected_scores(["transposed_jacobian", "warning_but_correct", "relu_one_at_zero"], source)
    assert exp["test_jacobian_by_hand"] == (0.0, 0.0)       # wrong in general
    assert exp["test_affine_jacobian"] == (points["test_affine_jacobian"],) * 2      # a right answer
    assert exp["test_relu_jacobian"] == (0.01, points["test_relu_jacobian"] - 0.01)  # wrong only at a special case


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_write_class(tmp_path, assignment):
    course = scaffold.make_course(tmp_path / "course")
    folders = samples.write_class(course, {"ada": "perfect", "bo": "blank"}, assignment=assignment)
    for student, folder in folders.items():
        assert folder == course / "submitted" / student / assignment
        assert notebook_text.notebook_names(folder) == notebook_text.notebook_names(dirs(assignment)["source_dir"])
        assert (folder / "timestamp.txt").read_text().endswith("UTC")


@pytest.mark.parametrize("assignment", WITH_MISTAKES)
def test_demo_class_covers_every_mistake(assignment):
    demo = catalogue(assignment).demo_class
    used = [m for spec in demo.values() if not isinstance(spec, str) for m in spec]
    assert sorted(used) == sorted(catalogue(assignment).mistakes)
    assert "perfect" in demo.values() and "blank" in demo.values()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", WITH_MISTAKES)
def test_every_mistake_costs_points_with_autograder_grade(tmp_path, assignment):
    """The demo class (every mistake once, a perfect and a blank student), graded by
    `autograder grade`: each mistake costs points on its exercise and nowhere unexpected."""
    roster = catalogue(assignment).demo_class
    course = scaffold.make_course(tmp_path / "course")
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)
    samples.write_class(course, roster, assignment=assignment)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", assignment],
                          cwd=course, env=scaffold.course_env(course), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    scores = scaffold.gradebook_scores(course, assignment)
    source = dirs(assignment)["source_dir"]
    wrong = {student: found for student, spec in roster.items()
             if (found := samples.unexpected_scores(scores.get(student, {}), spec, source))}
    assert not wrong, wrong
