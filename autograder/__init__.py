"""Autograder for the Jacobians-in-deep-learning course.

``from autograder import check`` is what the notebooks' test cells use. ``autograder.check``
(the module) imports torch only when a check runs, so importing the package stays light.
"""
from __future__ import annotations

# Bind the *function* over the submodule of the same name (the import system sets the
# package attribute to the submodule when it is first loaded, i.e. on this line).
from .check import Score, check  # noqa: E402

__all__ = ["check", "Score"]
