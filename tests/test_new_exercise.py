"""`autograder new`: the cells and the declaration it writes, in place on every run, and what
it refuses with a sentence that says what to change. The whole path (release, grading on both
paths) is tests/test_authoring.py."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder.dev.new_exercise import NewExerciseError, new_exercise, solution_source
from autograder.intake import cells

SOLUTION = '''import torch

def double(x):
    """Twice x."""
    y = 2 * x
    return y
'''
DECLARATION = '''from autograder.course.authoring import exercise, probe, value
from autograder.course.builders import T

double = exercise(name="double", kind="free", answer="vector", reference=value(lambda x: 2 * x),
                  visible=[probe(T([1.0, -2.0]), label="x = (1, -2)")], hidden=lambda rng: [])
'''


@pytest.fixture
def root(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text("")
    return tmp_path


def _cells(root, notebook="hw"):
    nb = nbformat.read(root / "source" / "hw" / f"{notebook}.ipynb", as_version=4)
    return [(c.id, cells.meta(c).get("points"), c.source) for c in nb.cells]


def test_solution_markers_go_around_the_body_after_the_docstring():
    assert solution_source(SOLUTION, name="double") == (
        'import torch\n\ndef double(x):\n    """Twice x."""\n    ### BEGIN SOLUTION\n    y = 2 * x\n    return y\n'
        '    ### END SOLUTION')


def test_running_it_again_updates_in_place(root):
    new_exercise(str(root), "hw", "double", solution=SOLUTION, declaration=DECLARATION, points=2)
    first = _cells(root)
    assert [(i, p) for i, p, _ in first] == [("double_prompt", None), ("double", None), ("test_double", 2)]
    assert first[0][2].startswith("## Exercise - `double` (2 points)\n\nWrite `double(x)`: Twice x.")
    new_exercise(str(root), "hw", "double", points=3, declaration=DECLARATION.replace("x = (1, -2)", "x = (3, 4)"))
    again = _cells(root)
    assert [(i, p) for i, p, _ in again] == [("double_prompt", None), ("double", None), ("test_double", 3)]
    assert again[0][2].startswith("## Exercise - `double` (3 points)") and again[1][2] == first[1][2]
    declared = (root / "autograding" / "hw" / "exercises.py").read_text()
    assert declared.count("# >>> double") == 1 and "x = (3, 4)" in declared and "x = (1, -2)" not in declared


def test_a_second_exercise_follows_the_first_and_a_stub_loads(root):
    new_exercise(str(root), "hw", "double", solution=SOLUTION, declaration=DECLARATION)
    new_exercise(str(root), "hw", "triple", solution=SOLUTION.replace("double", "triple").replace("2 *", "3 *"),
                 kind="free", answer="vector")
    assert [i for i, _, _ in _cells(root)] == ["double_prompt", "double", "test_double",
                                               "triple_prompt", "triple", "test_triple"]
    from autograder.course.declarations import assignment_exercises
    exercises = assignment_exercises(str(root), "hw")
    assert list(exercises) == ["double", "triple"] and exercises["triple"].visible() == []


def test_what_it_refuses_says_what_to_do(root):
    with pytest.raises(NewExerciseError, match=r"give its solution with --solution FILE"):
        new_exercise(str(root), "hw", "double")
    with pytest.raises(NewExerciseError, match=r"defines no function `double`.*def double\(\.\.\.\)"):
        new_exercise(str(root), "hw", "double", solution="x = 1\n")
    with pytest.raises(NewExerciseError, match=r"must bind `double = exercise\(name=\"double\""):
        new_exercise(str(root), "hw", "double", solution=SOLUTION, declaration="EX = 1\n")
    new_exercise(str(root), "hw", "double", solution=SOLUTION, declaration=DECLARATION)
    with pytest.raises(NewExerciseError, match=r"already in .*hw.ipynb: pass --notebook hw"):
        new_exercise(str(root), "hw", "double", notebook="other")
    with pytest.raises(NewExerciseError, match=r"the declarations do not load: .*NameError"):
        new_exercise(str(root), "hw", "double", declaration=DECLARATION + "oops\n")


def test_the_command_line(root, tmp_path):
    (tmp_path / "double.py").write_text(SOLUTION)
    proc = subprocess.run([sys.executable, "-m", "autograder", "new", "hw", "double", "--solution", "double.py",
                           "--kind", "free", "--answer", "vector", "--points", "1.5"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "its declaration (stub)" in proc.stdout and "fill in the TODOs" in proc.stdout
    assert _cells(root)[2][1] == 1.5
    proc = subprocess.run([sys.executable, "-m", "autograder", "new", "hw", "double", "--kind", "sideways"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--kind must be one of" in proc.stderr


def test_a_declarations_file_written_by_hand_gets_the_new_exercise_appended(root):
    by_hand = root / "autograding" / "hw" / "exercises.py"
    by_hand.parent.mkdir(parents=True)
    text = DECLARATION.replace("double = exercise(", "EXERCISES = [exercise(").rstrip() + "]\n"
    by_hand.write_text(text)
    new_exercise(str(root), "hw", "double", solution=SOLUTION)            # declared by hand: kept
    assert by_hand.read_text() == text
    with pytest.raises(NewExerciseError, match=r"outside a block written by `autograder new`: edit it there"):
        new_exercise(str(root), "hw", "double", declaration=DECLARATION)
    new_exercise(str(root), "hw", "triple", solution=SOLUTION.replace("double", "triple"),
                 declaration=DECLARATION.replace("double", "triple"))
    from autograder.course.declarations import assignment_exercises
    assert list(assignment_exercises(str(root), "hw")) == ["double", "triple"]
