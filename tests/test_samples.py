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
import contract
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


@pytest.mark.parametrize("assignment", WITH_MISTAKES)
def test_the_catalogue_fits_the_notebooks(assignment):
    problems = contract.catalogue_problems(REPO_ROOT, assignment)
    assert not problems, "\n".join(problems)


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
        assert text != blank[gid], (f"solution cell {gid} of source/{assignment} is released as it is: put the "
                                    f"solution between ### BEGIN SOLUTION and ### END SOLUTION")
        assert "BEGIN SOLUTION" not in text and "NotImplementedError" not in text, \
            f"solution cell {gid}: its worked solution still holds a marker or a stub: one BEGIN/END pair, no stub"


@pytest.mark.parametrize("assignment, name", MISTAKES)
def test_a_mistake_changes_only_its_own_cell(assignment, name):
    perfect = _cells(samples.submission("perfect", **dirs(assignment)))
    wrong = _cells(samples.submission(name, **dirs(assignment)))
    changed = {gid for gid in perfect if perfect[gid] != wrong[gid]}
    own = catalogue(assignment).mistakes[name].exercise
    assert changed == {own}, (f"mistake {name} changes the cells {sorted(changed)}, not just {own}: its exercise= "
                              f"must name the one solution cell it replaces")


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
def test_the_demo_class_has_a_perfect_and_a_blank_student(assignment):
    demo = catalogue(assignment).demo_class
    assert "perfect" in demo.values() and "blank" in demo.values(), \
        f"DEMO_CLASS of {assignment}: add a \"perfect\" and a \"blank\" student, the two ends `make demo` compares with"


def test_a_mistake_left_out_of_the_demo_class_is_graded_by_itself(tmp_path):
    course = scaffold.make_course(tmp_path / "course", source_root=REPO_ROOT)
    path = course / "autograding" / "jacobians" / "mistakes.py"
    path.write_text(path.read_text().replace('"ben": ["transposed_jacobian", ', '"ben": ['))
    assert contract.graded_roster(course, "jacobians")["only_transposed_jacobian"] == ["transposed_jacobian"]
    assert not contract.catalogue_problems(course, "jacobians")
    path.write_text(path.read_text().replace('name="transposed_jacobian",', 'name="transposed_jacobian", demo=True,'))
    samples.catalogue.cache_clear()
    assert contract.catalogue_problems(course, "jacobians") == [
        "mistake transposed_jacobian is declared demo=True in autograding/jacobians/mistakes.py but no student of "
        "DEMO_CLASS has it: add it to a student's list, or drop demo=True"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", WITH_MISTAKES)
def test_every_mistake_costs_points_with_autograder_grade(tmp_path, assignment):
    """Every mistake (the demo class, and a student for each mistake it leaves out, with a
    perfect and a blank student), graded by `autograder grade`: each mistake costs points on
    its exercise and nowhere unexpected."""
    course = scaffold.make_course(tmp_path / "course", source_root=REPO_ROOT)
    roster = contract.graded_roster(course, assignment)
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)
    samples.write_class(course, roster, assignment=assignment)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", assignment],
                          cwd=course, env=scaffold.course_env(course), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    problems = contract.score_problems(course, assignment, roster, scaffold.gradebook_scores(course, assignment))
    assert not problems, "\n".join(problems)
