"""docs/authoring.md, followed to the letter: a brand-new assignment with no written answer
in a temporary course, written by `autograder new` from the page's own drafts and commands,
graded end to end without any change to the engine.

drafts -> `autograder new` (twice: the second run changes nothing) -> generate_assignment ->
the contract (tests/contract.py) -> a class (right answer, typical mistake, forbidden autograd,
blank) -> `autograder grade` and routed `nbgrader autograde` on two copies -> the same
gradebook -> feedback -> report.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys

import nbformat
import pytest

import contract
from autograder.dev import samples, scaffold
from autograder.intake import cells
from both_paths import grade_on_both_paths
from course_layout import REPO_ROOT

ASSIGNMENT = "softmax"
DOC = REPO_ROOT / "docs" / "authoring.md"
FILE_HEADER = re.compile(r"(?:# |<!-- )((?:drafts|autograding)/\S+?)(?: -->)?")


def _blocks() -> list[str]:
    return re.findall(r"```(?:python|markdown|bash)\n(.*?)```", DOC.read_text(), flags=re.S)


def _files() -> dict[str, str]:
    """path -> text of every block that starts by naming its file."""
    out = {}
    for block in _blocks():
        header, _, body = block.partition("\n")
        found = FILE_HEADER.fullmatch(header.strip())
        if found:
            out[found.group(1)] = body
    return out


def _commands() -> list[list[str]]:
    return [shlex.split(line) for block in _blocks() for line in block.splitlines() if line.startswith("autograder ")]


def autograder(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=scaffold.course_env(cwd),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)


def build_course(root):
    """A course holding only the page's assignment, written by its commands: released, with
    its sample class handed in."""
    root.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    files = _files()
    assert sorted(files) == ["autograding/softmax/mistakes.py", "drafts/softmax_jacobian.md",
                             "drafts/softmax_jacobian.py", "drafts/softmax_jacobian_exercise.py"]
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    commands = [c[1:] for c in _commands() if c[1] == "new"]
    assert len(commands) == 1
    for _ in range(2):    # running it again updates in place
        proc = autograder(*commands[0], cwd=root)
        assert proc.returncode == 0, proc.stderr
    scaffold.nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=root)
    samples.write_class(root, samples.catalogue(str(root), ASSIGNMENT).demo_class, assignment=ASSIGNMENT)
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return build_course(tmp_path_factory.mktemp("authoring") / "course")


def test_the_command_writes_the_cells_and_the_declaration_once(course):
    nb = nbformat.read(course / "source" / ASSIGNMENT / "softmax.ipynb", as_version=4)
    assert [(c.id, c.cell_type, cells.meta(c)) for c in nb.cells] == [
        ("softmax_jacobian_prompt", "markdown", {"grade": False, "grade_id": "softmax_jacobian_prompt", "locked": True,
                                                 "schema_version": 3, "solution": False, "task": False}),
        ("softmax_jacobian", "code", {"grade": False, "grade_id": "softmax_jacobian", "locked": False,
                                      "schema_version": 3, "solution": True, "task": False}),
        ("test_softmax_jacobian", "code", {"grade": True, "grade_id": "test_softmax_jacobian", "locked": True,
                                           "points": 2, "schema_version": 3, "solution": False, "task": False})]
    assert nb.cells[0].source.startswith("## Exercise 1 - `softmax_jacobian` (2 points)")
    assert "    ### BEGIN SOLUTION\n    s = torch.softmax(z, dim=0)" in nb.cells[1].source
    declared = (course / "autograding" / ASSIGNMENT / "exercises.py").read_text()
    assert declared.count("# >>> softmax_jacobian") == 1 and declared.count("EXERCISES.append(softmax_jacobian)") == 1
    released = nbformat.read(course / "release" / ASSIGNMENT / "softmax.ipynb", as_version=4)
    assert '"""Jacobian of softmax at z, shape (n, n)."""\n    # YOUR CODE HERE\n    raise NotImplementedError()' \
        in released.cells[1].source


def test_the_new_assignment_follows_the_contract(course):
    """No written answer, and every mistake in the demo class: the contract holds."""
    assert not [c for c in nbformat.read(course / "release" / ASSIGNMENT / "softmax.ipynb", as_version=4).cells
                if c.cell_type == "markdown" and cells.meta(c).get("grade")]
    assert not contract.notebook_problems(course, ASSIGNMENT, "softmax")
    assert not contract.declaration_problems(course, ASSIGNMENT)
    assert not contract.catalogue_problems(course, ASSIGNMENT)
    assert contract.graded_roster(course, ASSIGNMENT) == samples.catalogue(str(course), ASSIGNMENT).demo_class


def test_a_mistake_a_probe_hides_is_explained_by_that_probe(course, tmp_path):
    """A general probe where the mistake equals the right answer (a single class: both are
    [[0]]): the sample test names it."""
    hiding = tmp_path / "course"
    shutil.copytree(course, hiding)
    path = hiding / "autograding" / ASSIGNMENT / "exercises.py"
    path.write_text(path.read_text().replace('label="a single class: J = [[0]]", edge=True', 'label="a single class: J = [[0]]"'))
    problems = contract.score_problems(hiding, ASSIGNMENT, {"bo": ["elementwise_derivative"]},
                                       {"bo": {"test_softmax_jacobian": 0.4, "softmax": 0.4}})
    assert len(problems) == 1, problems
    assert problems[0].startswith("bo (elementwise_derivative): test_softmax_jacobian scored 0.4, expected 0 to 0. ")
    assert "passed the general probes 'a single class: J = [[0]]' (hidden):" in problems[0]
    assert "autograding/softmax/exercises.py" in problems[0]


def test_a_new_assignment_is_graded_alike_on_both_paths_without_touching_the_engine(course, tmp_path):
    fast, routed = grade_on_both_paths(course, ASSIGNMENT, tmp_path / "routed")
    assert fast == routed

    score = {student: fast[(student, "softmax", "test_softmax_jacobian")] for student in ("ada", "bo", "cy", "dee")}
    assert score == {"ada": 2.0, "bo": 0.0, "cy": 0.0, "dee": 0.0}
    roster = samples.catalogue(str(course), ASSIGNMENT).demo_class
    assert not contract.score_problems(course, ASSIGNMENT, roster, scaffold.gradebook_scores(course, ASSIGNMENT))
    released = nbformat.read(course / "release" / ASSIGNMENT / "softmax.ipynb", as_version=4)
    assert "hidden=True" not in nbformat.writes(released) and "torch.outer" not in nbformat.writes(released)

    scaffold.nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course)
    feedback = {s: (course / "feedback" / s / ASSIGNMENT / "softmax.html").read_text() for s in ("bo", "cy")}
    assert "softmax_jacobian: " in feedback["bo"] and "expected" in feedback["bo"]
    assert "hint: only the diagonal is right" in feedback["bo"]
    assert "by hand" in feedback["cy"] and "jacrev" in feedback["cy"]

    proc = autograder("report", ASSIGNMENT, cwd=course)
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
