"""Hostile submissions against plain assert test cells (ones the grading registry does not know).

Such a cell is the instructor's code and runs on the trusted side (``autograder/notebook/trusted_tests.py``),
reaching the student's functions and values through proxies that bring back plain data. Each
case below is a wrong answer plus a trick that fools a test cell run in the student's own
kernel (as stock nbgrader runs it); the trick must gain nothing: the wrong answer scores 0,
exactly as it does without the trick. The right answer still scores full marks.

Real parts only: a real sandbox (one zygote for the module), real nbgrader metadata, the same
``grade_submission`` the routed ``nbgrader autograde`` and ``autograder grade`` call.
"""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.notebook.grade import grade_submission
from autograder.batch.jobs import Limits
from autograder.sandbox.session import Sandbox

LIMITS = Limits(cell_timeout=20.0, notebook_timeout=120.0)

SETUP = "import numpy as np\nfrom numpy.testing import assert_allclose\n"
RIGHT = "def square(x):\n    return x * x\n"
WRONG = "def square(x):\n    return x + 1\n"
TESTS = {
    # the kinds of test cells instructors write: a bare assert, numpy's checks, a helper the
    # test cell imports, an assert helper imported in a locked cell, an expected exception
    "test_assert": "assert square(3) == 9\nassert square(-2) == 4",
    "test_allclose": "assert np.allclose(square(np.arange(4.0)), [0.0, 1.0, 4.0, 9.0])",
    "test_imported_helper": "from numpy.testing import assert_array_equal\n"
                            "assert_array_equal(square(np.arange(3)), np.array([0, 1, 4]))",
    "test_locked_helper": "assert_allclose(square(1.5), 2.25)",
    "test_raises": "def raises(f, kind):\n    try:\n        f()\n    except kind:\n        return True\n"
                   "    return False\nassert raises(lambda: square('a'), TypeError)",
    # partial credit by a number, and a student function one test cell keeps for the next
    "test_partial": "sum(square(x) == x * x for x in range(2, 6)) / 4",
    "test_keeps": "sq = square\nassert sq(2) == 4",
    "test_kept": "assert sq(5) == 25",
}


def _cell(src: str, gid: str | None = None, *, test=False, solution=False, locked=False):
    cell = new_code_cell(src)
    if gid:
        cell.metadata["nbgrader"] = {"grade_id": gid, "grade": test, "solution": solution,
                                     "locked": locked or test, "points": 1 if test else None,
                                     "schema_version": 3}
    return cell


def _instructor():
    return new_notebook(cells=[_cell(SETUP, "setup", locked=True), _cell(RIGHT, "answer", solution=True),
                               *(_cell(src, gid, test=True) for gid, src in TESTS.items())])


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox()
    yield box
    box.close()


def grade(sandbox, answer: str, trick: str = "") -> dict[str, float]:
    student = _instructor()
    student.cells[1].source = answer + "\n" + trick
    graded = grade_submission(_instructor(), nbformat.from_dict(student), None, {}, LIMITS, sandbox=sandbox, exercises={})
    return {gid: result.score for gid, result in graded.cells.items()}


FULL = {gid: 1.0 for gid in TESTS}
ZERO = {gid: 0.0 for gid in TESTS}


def test_right_and_wrong_answers(sandbox):
    assert grade(sandbox, RIGHT) == FULL
    assert grade(sandbox, WRONG) == {**ZERO, "test_raises": 1.0}   # x + 1 also raises on a string


TRICKS = {
    # comparisons that always agree
    "always_equal_result": "class Yes:\n    def __eq__(self, other): return True\n    __bool__ = lambda self: True\n"
                           "def square(x):\n    return Yes()\n",
    "ndarray_subclass": "class Yes(np.ndarray):\n    def __eq__(self, other): return np.ones(np.shape(other), bool)\n"
                        "def square(x):\n    return np.asarray(x + 1).view(Yes)\n",
    "patched_numpy": "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
                     "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"
                     "numpy.testing.assert_array_equal = lambda *a, **k: None\n",
    "patched_operator": "import operator, builtins\noperator.eq = lambda a, b: True\n"
                        "builtins.AssertionError = type('Quiet', (Exception,), {})\n",
    # silenced tracebacks and errors (nbgrader's own cheat-attempt notebooks, and more)
    "showtraceback_none": "import IPython.core.interactiveshell\n"
                          "IPython.core.interactiveshell.InteractiveShell.showtraceback = None\n",
    "showtraceback_quiet": "import IPython.core.interactiveshell\n"
                           "IPython.core.interactiveshell.InteractiveShell.showtraceback = lambda *a, **k: None\n"
                           "get_ipython()._showtraceback = lambda *a, **k: None\n",
    "custom_exception_handler": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                                "import sys\nsys.excepthook = lambda *a: None\n",
    # IPython hooks that rewrite or skip what runs next
    "input_transformer_blanks_cells": "get_ipython().input_transformers_cleanup.append(lambda lines: [])\n",
    "ast_transformer_drops_asserts": "import ast\nclass NoAsserts(ast.NodeTransformer):\n"
                                     "    def visit_Assert(self, node): return ast.Pass()\n"
                                     "get_ipython().ast_transformers.append(NoAsserts())\n",
    "pre_run_cell_hook": "get_ipython().events.register('pre_run_cell', lambda *a: "
                         "get_ipython().user_ns.update(square=lambda x: x * x))\n",
    # assert-like helpers the test cells import, redefined
    "redefined_helpers": "def assert_allclose(*a, **k):\n    pass\n"
                         "import sys, types\nfake = types.ModuleType('numpy.testing')\n"
                         "fake.assert_array_equal = lambda *a, **k: None\nfake.assert_allclose = assert_allclose\n"
                         "sys.modules['numpy.testing'] = fake\n",
    # what a test cell reads is data: it cannot be the grader's own function
    "function_is_a_library_function": "import math\nsquare = math.fabs\n",
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_trick_gains_nothing(sandbox, trick):
    scores = grade(sandbox, WRONG, TRICKS[trick])
    assert all(scores[gid] == 0.0 for gid in TESTS if gid != "test_raises"), scores


def test_a_student_object_that_is_not_data_fails_the_cell_with_a_reason(sandbox):
    student = _instructor()
    student.cells[1].source = TRICKS["always_equal_result"]
    graded = grade_submission(_instructor(), nbformat.from_dict(student), None, {}, LIMITS, sandbox=sandbox, exercises={})
    result = graded.cells["test_assert"]
    assert result.score == 0.0 and result.diagnoses == ["cannot_cross"]
    assert "Yes object of the student's, which cannot be sent to the grader as plain data" in result.message
    assert any(p.startswith("test cell 'test_assert' scored 0: ") for p in graded.problems)


def test_the_child_never_sees_the_test_code(sandbox):
    """The student's function is called with the test's inputs only: the frames above it in
    the student's process hold no test source (hidden tests stay hidden)."""
    spy = ("import sys\ndef square(x):\n    seen = []\n    f = sys._getframe(1)\n    while f is not None:\n"
           "        seen.append(f.f_code.co_filename)\n        f = f.f_back\n"
           "    global SEEN\n    SEEN = seen\n    return x * x\n")
    student = _instructor()
    student.cells[1].source = spy
    instructor = _instructor()
    instructor.cells.append(_cell("assert not any('test cell' in name for name in SEEN)", "test_spy", test=True))
    student.cells.append(nbformat.from_dict(instructor.cells[-1]))
    graded = grade_submission(instructor, nbformat.from_dict(student), None, {}, LIMITS, sandbox=sandbox, exercises={})
    assert graded.cells["test_assert"].score == 1.0 and graded.cells["test_spy"].score == 1.0
