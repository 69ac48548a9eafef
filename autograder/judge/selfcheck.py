"""``check(name, fn, hidden=False)``: what the notebooks' test cells call.

It runs the same pipeline as the batch grader, in-process: probes → ``call_student`` →
``judge`` → ``score`` → ``render``. It prints the feedback block on stdout and returns a
``Score`` (a float whose repr is the rounded score), which nbgrader reads from the cell's
result for partial credit. It never raises for a wrong answer and never lets the student's
warnings reach stderr.

``hidden=False`` is the student's self-check: the feedback says which visible checks passed
and that they are not the grade, and the result (still the number nbgrader validates with)
shows in the notebook as those words, not as a score. Under ``nbgrader validate`` the
feedback of a check that fails goes to stderr, the part of a failing cell nbgrader's
validator shows (the Lab's Validate button included).
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import os
import sys
import warnings
from typing import Any, Callable

STUDENT_ENV = "AUTOGRADER_STUDENT_ID"
VALIDATING_ENV = "NBGRADER_VALIDATING"     # set by nbgrader's Validator for the kernel it starts


class Score(float):
    """A float that shows as its rounded value, e.g. ``2.25``."""

    def __new__(cls, value: float) -> "Score":
        return super().__new__(cls, round(float(value), 2))

    def __repr__(self) -> str:
        return repr(float(self))

    __str__ = __repr__


class VisibleChecks(Score):
    """The self-check's result: to nbgrader the visible checks' share of the points (what
    ``nbgrader validate`` needs), to the student the words ``what`` in the notebook."""

    def __new__(cls, value: float, what: str) -> "VisibleChecks":
        result = super().__new__(cls, value)
        result.what = what
        return result

    def _repr_markdown_(self) -> str:
        return self.what


def grading_context(cwd: str | None = None) -> tuple[str, str]:
    """(course_root, student_id) for the notebook running in ``cwd``.

    nbgrader runs autograded notebooks in ``<course>/autograded/<student>/<assignment>/`` (or
    ``submitted/...``); the instructor validates in ``source/<assignment>/`` (student
    ``instructor``). Environment variables AUTOGRADER_COURSE_ROOT / AUTOGRADER_STUDENT_ID
    override both.
    """
    from autograder.course.directory import COURSE_ENV, find_course_root
    cwd = os.path.abspath(cwd or os.getcwd())
    root = os.environ.get(COURSE_ENV) or find_course_root(cwd) or cwd
    student = os.environ.get(STUDENT_ENV)
    if not student:
        student = "instructor"
        rel = os.path.relpath(cwd, root)
        parts = [p for p in rel.split(os.sep) if p not in ("", ".")]
        if len(parts) >= 2 and parts[0] in ("autograded", "submitted", "feedback"):
            student = parts[1]
    return root, student


def _student_sources(fn: Callable) -> tuple[list[str], bool]:
    """(sources, whether they are the notebook's cells): every code cell the student ran, in
    IPython's numbering (``In``), else the source of the function's module."""
    try:
        ip = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        cells = ip.user_ns.get("In")
        if cells:
            return [c if isinstance(c, str) else "" for c in cells[1:]], True
    except NameError:
        pass
    except Exception:
        pass
    sources: list[str] = []
    try:
        module = inspect.getmodule(fn)
        if module is not None:
            sources.append(inspect.getsource(module))
    except (OSError, TypeError):
        pass
    if not sources:
        try:
            sources.append(inspect.getsource(fn))
        except (OSError, TypeError):
            pass
    return sources, False


def _graded_name(name: str, fn: Any) -> str:
    """The name the source check starts from: the function's own, when it is a ``def`` (a test
    may check a function of another name), else the exercise's (a lambda, a callable object,
    a ``functools.partial`` or a method is bound to that name in the notebook)."""
    own = getattr(fn, "__name__", None) if inspect.isfunction(fn) else None
    return own if isinstance(own, str) and own.isidentifier() else name


def check(name: str, fn: Any, hidden: bool = False, *, seed: int | None = None,
          sources: list[str] | None = None) -> Score | None:
    """Check ``fn`` against exercise ``name``; print feedback; return the score (None for a
    self-check of an exercise it cannot find: that is no score).

    ``hidden=False``: the visible probes only (the student's self-check). ``hidden=True``:
    visible and hidden probes, with the seed derived from the course secret and the student
    id (see ``grading_context``); ``seed`` overrides that (for tests and the instructor).
    """
    out = sys.stdout
    err_sink = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(err_sink):
            warnings.simplefilter("ignore")
            if not callable(fn):
                print(f"{name}: expected a function, got {type(fn).__name__} — "
                      f"did you define `{name}` and run its cell?", file=out)
                return Score(0.0)
            from autograder.course.declarations import find_exercise
            try:
                ex = find_exercise(name, released=not hidden)
            except LookupError as exc:
                # not the student's mistake: no score to show (graded, nothing is found: 0)
                print(f"{name} was not checked, and this is no score: {exc}.", file=out)
                return Score(0.0) if hidden else None
            if hidden and seed is None:
                from autograder.course.seeds import course_secret, exercise_seed
                root, student = grading_context()
                seed = exercise_seed(course_secret(root), student, name)
            if not hidden:
                seed = None
            from autograder.inside.calling import call_student
            from autograder.judge.feedback import render, visible_summary
            from autograder.judge.grading import run_exercise
            from autograder.protocol.rules import rules_for
            rules = rules_for(ex)
            srcs, notebook = (sources, True) if sources is not None else (
                _student_sources(fn) if rules.policed else ([], True))
            verdicts, violation, value = run_exercise(ex, functools.partial(call_student, fn, rules=rules), seed,
                                                      srcs, _graded_name(name, fn), notebook=notebook)
            text = render(ex, verdicts, violation, value, graded=hidden)
            failed = bool(violation) or value < ex.points
        # nbgrader's validator shows a failing cell's errors and stderr, nothing of its stdout
        print(text, file=sys.stderr if failed and os.environ.get(VALIDATING_ENV) else out)
        if hidden:
            return Score(value)
        return VisibleChecks(value, f"{name}: {visible_summary(verdicts)}. Not your grade: hidden inputs and "
                                    "special cases decide it.")
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - never zero the cell with a grader traceback
        print(f"{name}: the autograder could not finish this check ({type(exc).__name__}: {exc}). "
              "Please tell your instructor.", file=out)
        return Score(0.0)
