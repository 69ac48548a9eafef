"""What a release carries for students' own checks (release/<assignment>/visible_checks.pickle,
written by `nbgrader generate_assignment` through autograder/hooks/release.py), and a student
who has only that: the package `pip install`ed, the released folder, another Unix user, no
course anywhere.

The record must give away nothing of how the course grades: no hidden or shared probe
generator, no hint, and no reference that is the solution itself (`value(...)`).
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.course.declarations import assignment_exercises
from autograder.course.directory import VISIBLE_CHECKS
from autograder.course.seeds import course_secret
from autograder.course.visible import read_record
from autograder.dev import scaffold
from autograder.intake import cells
from course_layout import ASSIGNMENTS, REPO_ROOT
import jacobians_course


def _plain(value):
    """``value`` as plain data: tensors and arrays as lists, objects by type and attributes."""
    import torch

    if isinstance(value, torch.nn.Module):
        return [type(value).__name__, {k: _plain(v) for k, v in value.state_dict().items()}]
    if isinstance(value, torch.Tensor):
        value = value.detach().numpy()
    if isinstance(value, np.ndarray):
        return [str(value.dtype), value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if not hasattr(value, "__dict__"):
        return getattr(value, "__qualname__", type(value).__name__)
    return [type(value).__qualname__, _plain(vars(value))]


def fingerprint(record) -> str:
    """What a record says, as text. Two pickles of one record differ (cloudpickle names the
    course's classes at random), so the release test compares this."""
    def described(e):
        return {"rules": [e.kind, e.answer, e.rtol, e.atol, dict(e.forbid), list(e.arg_names), e.points, e.notebook],
                "probes": [[p.label, p.edge, _plain(p.args), _plain(p.kwargs), _plain(x.value), x.describe,
                            x.check is not None] for p, x in e.reference.answers]}
    return json.dumps({name: described(e) for name, e in sorted(record.items())}, sort_keys=True, default=repr)


def _course_only_names(source: str) -> set[str]:
    """The functions of an exercises.py that must stay with the course: what is passed as
    hidden=, shared= or hint=, and what value(...) references (the solution itself)."""
    names = set()
    for call in ast.walk(ast.parse(source)):
        if not isinstance(call, ast.Call):
            continue
        for kw in call.keywords:
            if kw.arg in ("hidden", "shared", "hint") and isinstance(kw.value, ast.Name):
                names.add(kw.value.id)
            if (kw.arg == "reference" and isinstance(kw.value, ast.Call)
                    and getattr(kw.value.func, "id", "") == "value" and isinstance(kw.value.args[0], ast.Name)):
                names.add(kw.value.args[0].id)
    return names


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_record_answers_as_the_course_does_and_holds_none_of_its_code(assignment):
    release = REPO_ROOT / "release" / assignment
    record = read_record(str(release))
    course = assignment_exercises(str(REPO_ROOT), assignment)
    assert sorted(record) == sorted(course), f"release/{assignment}/{VISIBLE_CHECKS} is stale: run `make release`"
    for name, ours in course.items():
        theirs = record[name]
        assert (theirs.points, theirs.notebook, theirs.kind, theirs.answer, theirs.rtol, theirs.atol) == \
               (ours.points, ours.notebook, ours.kind, ours.answer, ours.rtol, ours.atol), name
        assert theirs.hidden(np.random.default_rng(0)) == [] and theirs.shared is None and theirs.hint is None
        for probe, (recorded_probe, expected) in zip(ours.visible(), theirs.reference.answers, strict=True):
            assert recorded_probe.label == probe.label
            want = ours.reference(probe)
            if want.check is None:
                np.testing.assert_array_equal(np.asarray(expected.value, dtype=object),
                                              np.asarray(want.value, dtype=object), err_msg=name)
    data = (release / VISIBLE_CHECKS).read_bytes()
    secret = (REPO_ROOT / "autograding" / assignment / "exercises.py").read_text()
    kept = _course_only_names(secret)
    assert kept and not [n for n in kept if n.encode() in data], \
        f"the record carries course-only functions: {[n for n in kept if n.encode() in data]}"


def test_the_release_does_not_depend_on_the_course_secret(course_template, tmp_path):
    """generate_assignment again, in a copy of the course that now has a secret: the same file,
    and no trace of the secret in the release."""
    course = tmp_path / "course"
    shutil.copytree(course_template, course)
    secret = course_secret(course)
    scaffold.nbgrader("generate_assignment", jacobians_course.ASSIGNMENT, "--force", cwd=course)
    released = course / "release" / jacobians_course.ASSIGNMENT
    assert fingerprint(read_record(str(released))) == fingerprint(
        read_record(str(course_template / "release" / jacobians_course.ASSIGNMENT)))
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
    which only root may enter. The package sits in a course closed to the student, as the
    checkout is on the hub: a course they cannot read is none of theirs."""
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
        (tmp_path / "nbgrader_config.py").write_text("c = get_config()  # noqa: F821\n")
        os.chmod(tmp_path / "nbgrader_config.py", 0o600)
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
    passes them, a blank one is told so); without visible_checks.pickle, each check says in one
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
