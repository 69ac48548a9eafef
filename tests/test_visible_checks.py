"""What a release carries for students' own checks (release/<assignment>/visible_checks.py,
written by `nbgrader generate_assignment` through autograder/hooks/release.py), and a student
who has only that: the package `pip install`ed, the released folder, another Unix user, no
course anywhere.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.batch.jobs import Declarations
from autograder.course.declarations import DECLARATIONS, load, read_declarations
from autograder.course.seeds import course_secret
from autograder.course.visible import VISIBLE_CHECKS
from autograder.dev import scaffold
from autograder.intake import cells
from course_layout import ASSIGNMENTS, REPO_ROOT
import jacobians_course


def _hidden_generators(source: str) -> set[str]:
    """Names passed as `hidden=` or `shared=` in the instructor's declarations."""
    return {kw.value.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            for kw in node.keywords if kw.arg in ("hidden", "shared") and isinstance(kw.value, ast.Name)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_release_carries_every_visible_check_and_no_hidden_probe(assignment):
    private = read_declarations(str(REPO_ROOT / "autograding"), assignment)
    released = (REPO_ROOT / "release" / assignment / VISIBLE_CHECKS).read_text()
    top_level = {getattr(node, "name", None) for node in ast.parse(released).body}
    generators = _hidden_generators(private.source)
    assert generators and not generators & top_level, f"hidden-probe generators released: {generators & top_level}"
    assert "MISREADINGS" not in released, "the misreadings the probes must separate are the tests', not students'"

    ours = {e.name: e for e in load(private)}
    theirs = {e.name: e for e in load(Declarations(path=f"release/{assignment}/{VISIBLE_CHECKS}", source=released))}
    assert theirs.keys() == ours.keys()
    for name, exercise in theirs.items():
        assert exercise.hidden(np.random.default_rng(0)) == [] and exercise.shared is None, name
        assert [p.label for p in exercise.visible()] == [p.label for p in ours[name].visible()]
        assert (exercise.kind, exercise.answer, exercise.rtol, exercise.atol, exercise.forbid) == (
            ours[name].kind, ours[name].answer, ours[name].rtol, ours[name].atol, ours[name].forbid)


def test_the_release_does_not_depend_on_the_course_secret(course_template, tmp_path):
    """generate_assignment again, in a copy of the course that now has a secret: the same file,
    and no trace of the secret in the release."""
    course = tmp_path / "course"
    shutil.copytree(course_template, course)
    secret = course_secret(course)
    scaffold.nbgrader("generate_assignment", jacobians_course.ASSIGNMENT, "--force", cwd=course)
    released = course / "release" / jacobians_course.ASSIGNMENT
    assert (released / VISIBLE_CHECKS).read_bytes() == (
        course_template / "release" / jacobians_course.ASSIGNMENT / VISIBLE_CHECKS).read_bytes()
    for path in released.iterdir():
        data = path.read_bytes()
        assert secret not in data and secret.hex().encode() not in data, path.name


sys.path.insert(0, str(REPO_ROOT / "deploy" / "hub"))
from settings import Settings  # noqa: E402  (deploy/hub/settings.py)

# A Python every user can run, with Jupyter and torch: the hub's (`make hub-venv`, part of
# `make setup`); this venv's interpreter may live where only root can read.
PYTHON = Settings.from_env({}).venv / "bin" / "python"


def _why_no_second_user() -> str | None:
    if os.geteuid() != 0:
        return "creates a Unix account and runs the notebook as it: run as root (CI does)"
    missing = [tool for tool in ("useradd", "userdel", "runuser") if not shutil.which(tool)]
    if missing:
        return f"missing {', '.join(missing)}"
    probe = subprocess.run([shutil.which("runuser"), "-u", "nobody", "--", str(PYTHON), "-c", "import torch, nbconvert"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"other users cannot run {PYTHON}: `make hub-venv`"


@pytest.fixture
def laptop():
    """A student's machine: their own account and home, the package `pip install`ed (not the
    course checkout), nothing of the course but what they fetched. Outside pytest's tmp_path,
    which only root may enter."""
    reason = _why_no_second_user()
    if reason:
        pytest.skip(reason)
    user = f"agstudent{os.getpid()}"
    tmp_path = Path(tempfile.mkdtemp(prefix="laptop-"))
    home = tmp_path / "home"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/sh", user], check=True)
    try:
        package_source = tmp_path / "package"
        package_source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(REPO_ROOT / name, package_source / name)
        shutil.copytree(REPO_ROOT / "autograder", package_source / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__"))
        site = tmp_path / "site"
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(site), str(package_source)], check=True, capture_output=True)
        home.mkdir()
        os.chmod(tmp_path, 0o755)
        yield user, home, site
    finally:
        subprocess.run(["userdel", user], check=False, capture_output=True)
        shutil.rmtree(tmp_path, ignore_errors=True)


def _run_as(user: str, home: Path, site: Path, folder: Path, notebook: str) -> nbformat.NotebookNode:
    """`jupyter nbconvert --execute` of `notebook`, as `user`, in `folder`; the executed notebook."""
    subprocess.run(["chown", "-R", f"{user}:", str(home)], check=True)
    env = {"HOME": str(home), "USER": user, "PATH": f"{PYTHON.parent}:/usr/bin:/bin",
           "PYTHONPATH": str(site), "LC_ALL": "C.UTF-8"}
    done = subprocess.run([shutil.which("runuser"), "-u", user, "--", str(PYTHON), "-m", "jupyter", "nbconvert", "--to",
                           "notebook", "--execute", "--allow-errors", "--ExecutePreprocessor.kernel_name=python3",
                           "--output", "executed", notebook],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return nbformat.read(folder / "executed.ipynb", as_version=4)


def _said(nb, test_cell: str) -> str:
    cell = next(c for c in nb.cells if cells.grade_id(c) == test_cell)
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_a_student_outside_the_course_gets_the_visible_checks(laptop):
    """One notebook run twice as another user, in a folder of their own, with the package
    installed by pip: with what the release carries, the visible checks run (a right answer
    passes them, a blank one is told so); without visible_checks.py, each check says in one
    sentence what to do and shows no score. About 60 s on a busy machine: two kernels start torch, as the other
    user, which is the point."""
    user, home, site = laptop
    folder = home / "jacobians"
    shutil.copytree(REPO_ROOT / "release" / "jacobians", folder)
    released = nbformat.read(folder / "jacobian.ipynb", as_version=4)
    worked = {cells.grade_id(c): c.source for c in
              nbformat.read(REPO_ROOT / "solutions" / "jacobians" / "jacobian.ipynb", as_version=4).cells}
    for cell in released.cells:
        if cells.grade_id(cell) == "jacobian_by_hand":
            cell.source = worked["jacobian_by_hand"]
    nbformat.write(released, folder / "jacobian.ipynb")
    assert not (home / "nbgrader_config.py").exists() and "autograder" not in os.listdir(folder)

    nb = _run_as(user, home, site, folder, "jacobian.ipynb")
    right, blank = _said(nb, "test_jacobian_by_hand"), _said(nb, "test_numerical_jacobian")
    assert "was not checked" not in right + blank, right + blank
    assert "jacobian_by_hand" in right and "score 0" not in right, right
    assert "numerical_jacobian" in blank and "NotImplementedError" in blank, blank

    (folder / VISIBLE_CHECKS).unlink()
    said = _said(_run_as(user, home, site, folder, "jacobian.ipynb"), "test_jacobian_by_hand")
    assert said.strip() == (f"jacobian_by_hand was not checked, and this is no score: {VISIBLE_CHECKS}, released "
                            f"with this notebook, is not beside it in {folder}: copy it there from the "
                            "assignment's folder (or fetch the assignment again)."), said
