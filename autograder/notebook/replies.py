"""Checking what the child sends back before the trusted side uses it.

The child decides every field of its replies: outputs are rebuilt from their plain fields
only, and an answer is used only when each of its fields has the type it claims.
"""
from __future__ import annotations

import nbformat
import numpy as np

from autograder.protocol.values import Outcome, StudentError, Unconvertible

def stream(text: str, name: str = "stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def sanitise(outputs: list, execution_count: int | None) -> list:
    """Rebuild the child's outputs from their plain fields only (nothing it sends is kept as-is)."""
    clean = []
    for out in outputs if isinstance(outputs, list) else []:
        try:
            clean += _sanitise_one(out, execution_count)
        except (TypeError, ValueError, AttributeError, KeyError):
            clean.append(stream("[an output the grader could not read was dropped]\n", "stderr"))
    return clean


def _sanitise_one(out, execution_count: int | None) -> list:
    kind = out.get("output_type") if isinstance(out, dict) else None
    if kind == "stream" and out.get("name") in ("stdout", "stderr"):
        return [stream(str(out.get("text", "")), out["name"])]
    if kind in ("display_data", "execute_result") and isinstance(out.get("data"), dict):
        data = {str(k): str(v) for k, v in out["data"].items()}
        extra = {"execution_count": execution_count} if kind == "execute_result" else {}
        return [nbformat.v4.new_output(kind, data=data, **extra)]
    if kind == "error":
        return [nbformat.v4.new_output("error", ename=str(out.get("ename", "Error")), evalue=str(out.get("evalue", "")),
                                       traceback=[str(t) for t in out.get("traceback", [])])]
    return []


def well_formed(outcome) -> bool:
    """The child decides every field of what it sends: check their types before use."""
    def plain(v, depth=0):
        if v is None or isinstance(v, (bool, int, float, str, np.ndarray, Unconvertible)):
            return not isinstance(v, Unconvertible) or (isinstance(v.type_name, str) and isinstance(v.text, str)
                                                        and isinstance(v.too_large, bool))
        return isinstance(v, tuple) and depth < 32 and all(plain(x, depth + 1) for x in v)

    error = getattr(outcome, "error", None)
    return (isinstance(outcome, Outcome) and plain(outcome.value) and isinstance(outcome.type_name, str)
            and isinstance(outcome.autograd_calls, (tuple, list)) and all(isinstance(c, str) for c in outcome.autograd_calls)
            and isinstance(outcome.stderr, str) and isinstance(outcome.stdout, str)
            and isinstance(outcome.seconds, (int, float))
            and (error is None or (isinstance(error, StudentError) and isinstance(error.exc_type, str)
                                   and isinstance(error.message, str) and isinstance(error.line, str)
                                   and isinstance(error.function, str)
                                   and (error.lineno is None or isinstance(error.lineno, int)))))
