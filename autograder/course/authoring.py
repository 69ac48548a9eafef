"""The words a course uses to declare its autograded exercises.

A course keeps one ``exercises.py`` per assignment (``directory.exercises_directory`` says where) that builds
its list ``EXERCISES`` from these few functions, all by keyword::

    EXERCISES = [
        exercise(name="softmax_jacobian", kind="by hand", answer="matrix",
                 reference=jacobian(softmax, wrt="z"),
                 visible=[probe(T([1.0, 2.0, 3.0]), label="z = (1, 2, 3)")],
                 hidden=lambda rng: [...]),
    ]

A reference is a function ``probe -> Expected`` run on the trusted side only; ``jacobian``,
``value`` and ``satisfies`` build the usual ones from a function written in torch whose
signature mirrors the student's. Points and notebooks are read from the notebooks' test
cells (``declarations.bind``), never declared here.
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from autograder.course.seeds import Seed
from autograder.protocol.rules import KINDS
from autograder.protocol.values import Expected, Probe

ANSWERS = ("matrix", "vector", "scalar", "shape", "index", "property")


@dataclass(frozen=True)
class Exercise:
    """One autograded function: how to call it, what it should return, and the rules."""
    name: str
    kind: str                                        # one of KINDS: which autograd the answer may use
    answer: str                                      # one of ANSWERS: how the returned value is compared
    reference: Callable[[Probe], Expected]
    visible: Callable[[], list[Probe]]
    hidden: Callable[[np.random.Generator], list[Probe]]
    # hidden probes every student gets the same (see ``exercise``), drawn from the course's seed
    shared: Callable[[np.random.Generator], list[Probe]] | None = None
    rtol: float = 1e-5
    atol: float = 1e-8
    # (probe, got, expected) -> a sentence or None, for a wrong answer of the right shape or type
    # (see ``exercise``)
    hint: Callable[[Probe, Any, Any], str | None] | None = None
    forbid: Mapping[str, str] = field(default_factory=dict)   # call name -> why it is not allowed here
    arg_names: tuple[str, ...] = ()     # the student's parameters, named in feedback: the reference's own
    # read from the notebooks (declarations.bind), not declared
    points: float = 0.0
    notebook: str = ""


def exercise(*, name: str, kind: str, answer: str, reference: Callable[[Probe], Expected],
             visible: Sequence[Probe] | Callable[[], list[Probe]],
             hidden: Callable[[np.random.Generator], list[Probe]],
             shared: Callable[[np.random.Generator], list[Probe]] | None = None,
             rtol: float = 1e-5, atol: float = 1e-8, hint=None, forbid: Mapping[str, str] | None = None) -> Exercise:
    """Declare one exercise (see the module docstring); a mistake in the declaration fails here,
    when the course is loaded, with the exercise's name in the message.

    Entries pass when ``|got - expected| <= atol + rtol * |expected|`` (numpy's ``isclose``);
    the reference is float64, so the defaults accept a float32 answer.

    ``hint(probe, got, expected)`` returns a sentence in the student's terms, or None, for
    every wrong answer of the right type; a hint that raises is ignored. ``probe`` is the
    ``Probe`` declared (``.args`` and ``.kwargs`` as written, tensors included; ``.label``,
    ``.edge``, ``.hidden``). For ``matrix`` and ``vector`` answers ``got`` and ``expected`` are
    float64 numpy arrays of the same shape; for ``scalar`` two floats; for ``index`` the
    student's value and the expected int. ``shape`` and ``property`` answers get no hint.

    ``shared(rng)`` returns hidden probes that every student gets the same, drawn from the
    course's seed (``seeds.shared_seed``) instead of the student's: the probes at scale (a
    10**7-entry vector, a map on R^20000), whose drawing and reference would otherwise cost
    more than the student's call, once per student. The grader draws them and computes their
    references once per worker process and reuses them read-only; a reference must not change
    its probe."""
    if kind not in KINDS:
        raise ValueError(f"exercise {name!r}: kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    if answer not in ANSWERS:
        raise ValueError(f"exercise {name!r}: answer must be one of {', '.join(map(repr, ANSWERS))}, not {answer!r}")
    if not callable(hidden) or not (shared is None or callable(shared)):
        raise TypeError(f"exercise {name!r}: hidden and shared must be functions of a numpy Generator returning probes")
    shown = visible if callable(visible) else (lambda fixed=tuple(visible): list(fixed))
    return Exercise(name=name, kind=kind, answer=answer, reference=reference, visible=shown, hidden=hidden,
                    shared=shared, rtol=rtol, atol=atol, hint=hint, forbid=dict(forbid or {}),
                    arg_names=getattr(reference, "arg_names", ()))


def probe(*args: Any, label: str = "", edge: bool = False, **kwargs: Any) -> Probe:
    """One call of the student's function: ``f(*args, **kwargs)``. ``edge=True`` marks a special
    case, which can only take credit away (see ``scoring``)."""
    return Probe(args=args, kwargs=kwargs, label=label, edge=edge)


def probes(exercise: Exercise, seed: int | Seed | None = None) -> list[Probe]:
    """The visible probes, plus the hidden ones drawn from ``seed`` when it is given: the
    student's own, then the shared ones."""
    return [*own_probes(exercise, seed), *shared_probes(exercise, seed)]


def own_probes(exercise: Exercise, seed: int | Seed | None = None) -> list[Probe]:
    """The visible probes, plus the student's own hidden ones when ``seed`` is given."""
    out = list(exercise.visible())
    if seed is not None:
        rng = np.random.default_rng(seed.student if isinstance(seed, Seed) else int(seed))
        out += [dataclasses.replace(p, hidden=True) for p in exercise.hidden(rng)]
    return out


def shared_probes(exercise: Exercise, seed: int | Seed | None = None) -> list[Probe]:
    """The hidden probes every student shares, when ``seed`` is given (a plain int, as in
    tests, draws them from a generator of their own seeded with it)."""
    if seed is None or exercise.shared is None:
        return []
    rng = np.random.default_rng(seed.shared if isinstance(seed, Seed) else int(seed))
    return [dataclasses.replace(p, hidden=True, shared=True) for p in exercise.shared(rng)]


# ----------------------------------------------------------------------------- references

def _bound(f: Callable, probe: Probe) -> dict[str, Any]:
    """The probe's arguments by the names of ``f``'s parameters, defaults filled in."""
    bound = inspect.signature(f).bind(*probe.args, **probe.kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _named(reference: Callable, f: Callable) -> Callable:
    """The reference, knowing the names of the student's parameters (``f`` mirrors them)."""
    reference.arg_names = tuple(inspect.signature(f).parameters)
    return reference


def jacobian(f: Callable, *, wrt: str) -> Callable[[Probe], Expected]:
    """Reference: ``torch.func.jacrev`` of ``f`` with respect to its argument ``wrt``, the other
    arguments fixed at the probe's values, in float64."""
    def reference(probe: Probe) -> Expected:
        args = _bound(f, probe)
        x = torch.as_tensor(args.pop(wrt)).detach().to(torch.float64)
        J = torch.func.jacrev(lambda v: f(**{wrt: v}, **args))(x)
        return Expected(J.detach().numpy().astype(np.float64))
    return _named(reference, f)


def plain(result: Any) -> Any:
    """A reference value as plain data: tensors and arrays as float64 arrays (integers as int,
    0-d floats as float), sequences of ints (a shape) as a tuple."""
    if isinstance(result, torch.Tensor):
        result = result.detach().numpy()
    if isinstance(result, (bool, np.bool_)):
        return bool(result)
    if isinstance(result, (int, np.integer)):
        return int(result)
    if isinstance(result, np.ndarray):
        if result.ndim == 0:
            return int(result) if result.dtype.kind in "iu" else float(result)
        return result.astype(np.float64)
    if isinstance(result, (list, tuple)) and all(isinstance(v, (int, np.integer)) for v in result):
        return tuple(int(v) for v in result)
    if isinstance(result, (float, np.floating)):
        return float(result)
    return np.asarray(result, dtype=np.float64)


def value(f: Callable) -> Callable[[Probe], Expected]:
    """Reference: ``f`` called with the probe's arguments, as plain data. For vectors, scalars,
    shapes and indices, and for answers at a scale where a Jacobian would not fit (build them
    from autograd products: ``torch.func.jvp`` / ``vjp``)."""
    def reference(probe: Probe) -> Expected:
        return Expected(plain(f(**_bound(f, probe))))
    return _named(reference, f)


def satisfies(check: Callable[..., Callable[[np.ndarray], tuple[bool, str, str]]], *,
              describe: str) -> Callable[[Probe], Expected]:
    """Reference for an answer graded by a property: ``check`` takes the probe's arguments by
    name and returns ``answer -> (passed, diagnosis, message)``; ``describe`` says in words
    what any right answer is."""
    def reference(probe: Probe) -> Expected:
        return Expected(None, check(**_bound(check, probe)), describe)
    return _named(reference, check)
