"""Plain data that flows through the grading engine.

Everything an untrusted child sends back (``Outcome`` and what it holds) is plain data:
``None``, bools, ints, floats, strings, float64 numpy arrays, tuples of those and the small
frozen dataclasses below. Nothing here holds a reference to student objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Union

import numpy as np


@dataclass(frozen=True)
class Probe:
    """One input to call the student's function on: ``f(*args, **kwargs)``.

    ``edge`` marks a special input (a pre-activation exactly 0, all units active or all dead,
    a single unit, a square matrix) where some wrong answers coincide with the right one: it
    can only take credit away (see ``scoring.score``). Every other probe is in general
    position, where each trivial or typical wrong answer differs from the right one.
    ``shared`` marks a hidden probe every student gets (``exercise(shared=...)``).
    """
    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    hidden: bool = False
    edge: bool = False
    shared: bool = False


@dataclass(frozen=True)
class Unconvertible:
    """A return value we could not turn into numbers (a dict, a sympy matrix, ...)."""
    type_name: str
    text: str  # a short repr, for feedback
    too_large: bool = False   # numbers, but more than the grader reads (text: the shape and count)


# None | bool | int | float | str | np.ndarray (float64) | tuple[PlainValue, ...] | Unconvertible
PlainValue = Union[None, bool, int, float, str, np.ndarray, tuple, Unconvertible]


@dataclass(frozen=True)
class StudentError:
    """An exception raised by the student's function, located in the student's own code."""
    exc_type: str
    message: str
    lineno: int | None = None
    line: str = ""           # the source text of that line, stripped
    function: str = ""       # name of the function the line belongs to


@dataclass(frozen=True)
class Outcome:
    """What happened when the student's function was called on one probe."""
    value: Any                                  # a PlainValue
    type_name: str                              # type of the raw return value, e.g. "torch.Tensor(float32)"
    error: StudentError | None = None
    autograd_calls: tuple[str, ...] = ()        # what the exercise's rules forbid, seen running (tracer)
    stderr: str = ""                            # warnings and stderr output, captured
    stdout: str = ""                            # what the function printed, captured
    seconds: float = 0.0


# ``StudentError.exc_type`` of a call that changed a model it was given (see calling.call_student)
ARGUMENT_CHANGED = "ArgumentChanged"


def failed_outcome(exc_type: str, message: str) -> Outcome:
    """A call that produced no value, for a reason the grader states (not a student traceback)."""
    return Outcome(value=None, type_name="NoneType", error=StudentError(exc_type=exc_type, message=message))


@dataclass(frozen=True)
class Expected:
    """The reference for one probe.

    ``value`` is the autograd result (float64 array, a tuple for shapes, a float for
    fractions). Exercises graded by a property (``authoring.satisfies``) set ``check`` instead: a
    function ``check(array) -> (passed, diagnosis, message)``; ``describe`` says in words what
    was expected.
    """
    value: Any = None
    check: Callable[[np.ndarray], tuple[bool, str, str]] | None = None
    describe: str = ""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    diagnosis: str          # short code: ok, wrong_shape, transpose, sign, scaled, ...
    message: str            # one or two sentences in the student's terms
    label: str = ""         # which probe
    hidden: bool = False
    edge: bool = False      # the probe is a special case (``Probe.edge``): it only takes credit away
    inputs: str = ""        # the probe input, abbreviated, to reproduce the failure
    expected: str = ""      # the expected answer, abbreviated
    got: str = ""           # what the student returned, abbreviated
    details: tuple[str, ...] = field(default_factory=tuple)  # extra lines (stderr, hints)
