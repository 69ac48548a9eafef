"""What a student's function may call, as plain data both sides of the sandbox share.

An exercise's ``kind`` and ``forbid`` list become ``Rules``: the trusted side reads the
student's source against them (``policy.static_violations``), the student's process traces
the call against them (``inside/tracer.py``), and the verdicts name a violation by them.
What each kind means is in ``policy``'s docstring.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

KINDS = ("by hand", "matrix-free", "free")     # what each means: the module's docstring


@dataclass(frozen=True)
class Rules:
    """What a student's function may call: ``kind`` (one of ``KINDS``) and ``forbid``, (qualified
    name, reason) pairs. Plain data, sent to the sandbox child with each call."""
    kind: str = "free"
    forbid: tuple[tuple[str, str], ...] = ()

    @property
    def policed(self) -> bool:
        """Whether anything needs checking (a free exercise without ``forbid`` runs untraced)."""
        return self.kind != "free" or bool(self.forbid)


def rules_for(exercise) -> Rules:
    return Rules(kind=exercise.kind, forbid=tuple(sorted(exercise.forbid.items())))


def ran_findings(rules: Rules, calls: Iterable[str], found: list[str]) -> list[str]:
    """The tracer's notes (``inside.tracer.AutogradTracer.calls``) as findings, a forbidden call with its
    reason unless ``found`` (what the source showed) already names it."""
    forbid = dict(rules.forbid)
    return [f"`{c}` ran while your function was called: {forbid[c]}" if c in forbid
            else f"{c} (ran while your function was called)"
            for c in calls if c not in forbid or not any(f.startswith(f"`{c}`") for f in found)]


# the diagnosis of a violation, by the exercise's kind; a forbidden call has its own
VIOLATION_DIAGNOSES = {"by hand": "autograd_used", "matrix-free": "jacobian_built", "free": "forbidden_call"}


def violation_diagnosis(rules: Rules, findings: Iterable[str]) -> str:
    """``forbidden_call`` when every finding (or tracer note) is a forbidden call, else the
    kind's own diagnosis (see ``VIOLATION_DIAGNOSES``)."""
    forbid = dict(rules.forbid)
    if all(f in forbid or any(f.endswith(f": {reason}") for reason in forbid.values()) for f in findings):
        return "forbidden_call"
    return VIOLATION_DIAGNOSES[rules.kind]


# what builds a whole Jacobian or Hessian (the last part of a name under an autograd prefix
# above, whichever module re-exports it): not allowed in a matrix-free exercise
MATERIALISING = {
    "jacrev": "it builds the whole Jacobian",
    "jacfwd": "it builds the whole Jacobian",
    "jacobian": "it builds the whole Jacobian",
    "hessian": "it builds the whole Hessian",
    "vmap": "vmap over jvp or vjp builds the whole Jacobian, one basis vector per batch entry",
}


def tensor_methods(forbid: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, str]]:
    """Tensor methods that do what a forbidden torch function does (``J.det()`` for
    ``torch.det``): method name -> (forbidden name, reason); ``torch.<name>`` itself wins."""
    import torch
    methods: dict[str, tuple[str, str]] = {}
    for name, reason in forbid:
        last = name.rsplit(".", 1)[-1]
        if name.startswith("torch.") and hasattr(torch.Tensor, last) \
                and (last not in methods or name == f"torch.{last}"):
            methods[last] = (name, reason)
    return methods
