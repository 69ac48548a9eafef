"""docs/authoring.md, followed to the letter: a brand-new assignment in a temporary course,
built from the page's own code blocks, graded end to end without any change to the engine.

generate_assignment -> a class (right answer, typical mistake, forbidden autograd, blank) ->
`autograder grade` and routed `nbgrader autograde` on two copies -> the same gradebook ->
feedback -> report.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder.dev import samples, scaffold
from both_paths import grade_on_both_paths
from course_layout import REPO_ROOT

ASSIGNMENT = "softmax"
DOC = REPO_ROOT / "docs" / "authoring.md"
CELL_HEADER = re.compile(r"# \[(markdown|solution|test) cell, grade_id (\w+)(?:, points (\d+))?(?:, locked)?\]")


def _blocks() -> list[str]:
    return re.findall(r"```(?:python|markdown)\n(.*?)```", DOC.read_text(), flags=re.S)


def _notebook() -> nbformat.NotebookNode:
    """The notebook the page describes, with the metadata nbgrader's toolbar would set."""
    cells = []
    for block in _blocks():
        header, _, body = block.partition("\n")
        found = CELL_HEADER.fullmatch(header.strip())
        if not found:
            continue
        kind, gid, points = found.groups()
        meta = {"grade": kind == "test", "grade_id": gid, "locked": kind != "solution", "schema_version": 3,
                "solution": kind == "solution", "task": False}
        if kind == "test":
            meta["points"] = int(points)
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cells.append(new(body.rstrip("\n"), metadata={"nbgrader": meta}))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def build_course(root):
    """A course holding only the page's assignment: released, with its sample class handed in."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    nbformat.write(_notebook(), root / "source" / ASSIGNMENT / "softmax.ipynb")
    for block in _blocks():
        header, _, body = block.partition("\n")
        if header.startswith("# autograding/"):
            path = root / header[2:].strip()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
    assert sorted(p.name for p in (root / "autograding" / ASSIGNMENT).iterdir()) == ["exercises.py", "mistakes.py"]
    scaffold.nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=root)
    samples.write_class(root, samples.catalogue(str(root), ASSIGNMENT).demo_class, assignment=ASSIGNMENT)
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(tmp_path_factory.mktemp("authoring") / "course")


def test_a_new_assignment_is_graded_alike_on_both_paths_without_touching_the_engine(course, tmp_path):
    fast, routed = grade_on_both_paths(course, ASSIGNMENT, tmp_path / "routed")
    assert fast == routed

    score = {student: fast[(student, "softmax", "test_softmax_jacobian")] for student in ("ada", "bo", "cy", "dee")}
    assert score == {"ada": 2.0, "bo": 0.0, "cy": 0.0, "dee": 0.0}
    released = nbformat.read(course / "release" / ASSIGNMENT / "softmax.ipynb", as_version=4)
    assert "hidden=True" not in nbformat.writes(released) and "torch.outer" not in nbformat.writes(released)

    scaffold.nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course)
    feedback = {s: (course / "feedback" / s / ASSIGNMENT / "softmax.html").read_text() for s in ("bo", "cy")}
    assert "softmax_jacobian: " in feedback["bo"] and "expected" in feedback["bo"]
    assert "by hand" in feedback["cy"] and "jacrev" in feedback["cy"]

    proc = subprocess.run([sys.executable, "-m", "autograder", "report", ASSIGNMENT], cwd=course,
                          env=scaffold.course_env(course), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = open(proc.stdout.split()[0], encoding="utf-8").read()
    assert "softmax_jacobian" in page


def test_the_engine_names_no_course_exercise():
    """The package is the engine: no exercise of the course's assignments is named in it."""
    from autograder.course import declarations
    names = set()
    for folder in (REPO_ROOT / "autograding").iterdir():
        names |= {e.name for e in declarations.load(
            declarations.read_declarations(str(REPO_ROOT / "autograding"), folder.name))}
    assert names
    for path in (REPO_ROOT / "autograder").rglob("*.py"):
        text = path.read_text()
        assert not [n for n in names if re.search(rf"\b{n}\b", text)], path
