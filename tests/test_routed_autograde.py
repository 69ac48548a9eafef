"""What routed `nbgrader autograde` tells the instructor, with the real CLI on the course:
no checksum warning for the test cells the grader itself restored, a real edit of a test cell
named as tampering, and a notebook that cannot be graded costing only its own points while
the command exits 1 naming it."""
from __future__ import annotations

import pytest

from autograder.dev import samples, scaffold

pytestmark = pytest.mark.slow

A = "jacobians"
NOTEBOOK = "jacobian"


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    course = scaffold.make_course(tmp_path_factory.mktemp("routed") / "course")
    env = scaffold.course_env(course)
    scaffold.nbgrader("generate_assignment", A, "--force", cwd=course, env=env)
    folders = samples.write_class(course, {"pat": "perfect", "ted": "perfect", "una": "perfect"}, assignment=A)
    edited = folders["ted"] / f"{NOTEBOOK}.ipynb"
    edited.write_text(edited.read_text().replace('check(\\"affine_jacobian\\", affine_jacobian)',
                                                 'print(\\"fine\\")'))
    (folders["una"] / f"{NOTEBOOK}.ipynb").write_text("{ this is not a notebook")
    proc = scaffold.nbgrader("autograde", A, "--notebook", NOTEBOOK, cwd=course, env=env, check=False)
    return {"course": course, "proc": proc, "log": proc.stdout + proc.stderr,
            "scores": scaffold.gradebook_scores(course, A)}


def test_no_checksum_warning_for_the_hidden_tests_the_grader_restored(routed):
    steps = [line for line in routed["log"].splitlines() if "Sanitizing" in line or "Attribute" in line]
    assert not [line for line in steps if "Attribute 'checksum'" in line], "\n".join(steps)
    assert routed["scores"]["pat"][NOTEBOOK] == 7          # every autograded point of the notebook


def test_an_edited_test_cell_is_still_named_and_undone(routed):
    assert "ted/jacobian: locked cell 'test_affine_jacobian' was edited; the instructor's version was used" \
        in routed["log"]
    assert "pat/jacobian: locked cell" not in routed["log"]
    assert routed["scores"]["ted"]["test_affine_jacobian"] == 1


def test_a_notebook_that_cannot_be_graded_costs_only_itself_and_the_command_fails_naming_it(routed):
    assert routed["proc"].returncode == 1
    assert "una/jacobians: could not be graded, scored 0: jacobian:" in routed["log"]
    assert "There was an error processing assignment 'jacobians' for student 'una'" in routed["log"]
    assert routed["scores"]["una"][NOTEBOOK] == 0
    assert not (routed["course"] / "autograded" / "una" / A / f"{NOTEBOOK}.ipynb").exists()   # as stock
    assert (routed["course"] / "autograded" / "pat" / A / f"{NOTEBOOK}.ipynb").exists()
