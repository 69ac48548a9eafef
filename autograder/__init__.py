"""Autograder for the Jacobians-in-deep-learning course.

``from autograder import check`` is what the notebooks' test cells use. The package loads
``judge.selfcheck`` only then, and torch only when a check runs: the sandbox's child imports
this package and must reach nothing of the judge.

The subpackages follow a submission through grading: ``course`` (declarations) · ``intake``
(what was handed in) · ``sandbox`` (the trusted side of the boundary) · ``protocol`` (plain
data both sides share) · ``inside`` (the student's process) · ``judge`` (comparison, rules,
scores, feedback) · ``notebook`` (one notebook graded) · ``batch`` (a class at once) ·
``gradebook`` · ``hooks`` (what nbgrader loads) · ``term`` (report, export, similarity) ·
``dev`` (demo, samples). docs/design.md draws it.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["check", "Score"]


def __getattr__(name: str):
    if name in __all__:
        from autograder.judge import selfcheck
        return getattr(selfcheck, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Where modules that courses, nbgrader_config.py files and instructors' scripts import by
# their old flat names now live; those names keep working.
MOVED = {
    "authoring": "course.authoring", "builders": "course.builders", "products": "course.products",
    "declarations": "course.declarations", "coursedir": "course.directory", "secrets": "course.seeds",
    "values": "protocol.values", "rules": "protocol.rules", "samples": "dev.samples",
    "scaffold": "dev.scaffold", "demo": "dev.demo", "preprocessor": "hooks.preprocessor",
    "exchange": "hooks.collect", "lateness": "hooks.lateness",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``import autograder.<old name>`` gives the module at its new place (the same object)."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package == __name__ and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        # The import system returns whatever sys.modules holds under the name once this returns.
        sys.modules[module.__name__] = importlib.import_module(f"{__name__}.{MOVED[module.__name__.partition('.')[2]]}")


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())
