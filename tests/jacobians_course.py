"""The `jacobians` assignment as the engine sees it: its declarations, bound to the source
notebooks (points and notebooks read from there), for tests that look at single exercises."""
from __future__ import annotations

from pathlib import Path

from autograder import course

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "jacobians"
DECLARATIONS = course.read_declarations(course.exercises_directory(str(REPO_ROOT)), ASSIGNMENT)
MODULE = course.declarations_module(DECLARATIONS)
EXERCISES = course.assignment_exercises(str(REPO_ROOT), ASSIGNMENT)
ProbeFunction = MODULE.ProbeFunction


def get(name: str):
    return EXERCISES[name]
