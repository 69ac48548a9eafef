"""Autograder for the Jacobians-in-deep-learning course.

``from autograder import check`` is what the notebooks' test cells use. It is loaded lazily
so that importing the package (for jobs, the CLI, ...) does not import torch.
"""
from __future__ import annotations

__all__ = ["check", "Score"]


def __getattr__(name: str):
    if name in ("check", "Score"):
        from . import check as _check_module
        return getattr(_check_module, name)
    raise AttributeError(f"module 'autograder' has no attribute {name!r}")
