"""The `jacobians` assignment as the engine sees it, for tests that look at its single
exercises: its declarations bound to the source notebooks (points and notebooks read from
there), and its catalogue of typical mistakes."""
from __future__ import annotations

from autograder.course import declarations
from autograder.dev import samples
from autograder.course.directory import exercises_directory
from autograder.intake.notebook_text import notebook_names
from course_layout import REPO_ROOT

ASSIGNMENT = "jacobians"
SOURCE = REPO_ROOT / "source" / ASSIGNMENT
RELEASE = REPO_ROOT / "release" / ASSIGNMENT
NOTEBOOKS = tuple(notebook_names(SOURCE))

DECLARATIONS = declarations.read_declarations(exercises_directory(str(REPO_ROOT)), ASSIGNMENT)
MODULE = declarations.declarations_module(DECLARATIONS)
EXERCISES = declarations.assignment_exercises(str(REPO_ROOT), ASSIGNMENT)
TAUGHT = list(dict.fromkeys(e.notebook for e in EXERCISES.values()))   # the notebooks in the order declared
ProbeFunction = MODULE.ProbeFunction

CATALOGUE = samples.catalogue(str(REPO_ROOT), ASSIGNMENT)
MISTAKES = CATALOGUE.mistakes
DEMO_CLASS = CATALOGUE.demo_class
DEMO_LATE = CATALOGUE.demo_late


def get(name: str):
    return EXERCISES[name]
