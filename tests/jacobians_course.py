"""The `jacobians` assignment as the engine sees it: its declarations, bound to the source
notebooks (points and notebooks read from there), for tests that look at single exercises."""
from __future__ import annotations

from autograder import course, samples
from autograder.notebook_text import notebook_names
from course_layout import REPO_ROOT
ASSIGNMENT = "jacobians"
DECLARATIONS = course.read_declarations(course.exercises_directory(str(REPO_ROOT)), ASSIGNMENT)
MODULE = course.declarations_module(DECLARATIONS)
EXERCISES = course.assignment_exercises(str(REPO_ROOT), ASSIGNMENT)
ProbeFunction = MODULE.ProbeFunction


def get(name: str):
    return EXERCISES[name]

SOURCE = REPO_ROOT / "source" / ASSIGNMENT
RELEASE = REPO_ROOT / "release" / ASSIGNMENT
NOTEBOOKS = tuple(notebook_names(SOURCE))
CATALOGUE = samples.catalogue(str(REPO_ROOT), ASSIGNMENT)
MISTAKES = CATALOGUE.mistakes
DEMO_CLASS = CATALOGUE.demo_class
DEMO_LATE = CATALOGUE.demo_late
TAUGHT = list(dict.fromkeys(e.notebook for e in EXERCISES.values()))   # the notebooks in the order declared
