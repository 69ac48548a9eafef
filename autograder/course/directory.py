"""The course directory as nbgrader's configuration makes it: where submissions, autograded
notebooks and the instructor's notebooks live, the gradebook, the course id and the exchange;
which course a process works for (``course_root``), and where it keeps its exercise
declarations (``exercises_directory``).

`load_course(root)` reads `nbgrader_config.py` (and the user's Jupyter config) with nbgrader's own
app machinery, so `autograder`, `scripts/lab.py` and the tests see the course nbgrader sees.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from traitlets import Unicode
from traitlets.config import Configurable

import autograder

# The course's own state (secret, grading lock, what was graded, reports), beside nbgrader's folders.
PRIVATE_DIR = ".autograder"
# What else of a course root student code must never see, besides nbgrader's configured folders.
ALWAYS_HIDDEN = (PRIVATE_DIR, "nbgrader_config.py", "solutions", ".git", "tests", "bench")

# Beside released notebooks: what students' own checks need (course.visible).
VISIBLE_CHECKS = "visible_checks.pickle"

COURSE_ENV = "AUTOGRADER_COURSE_ROOT"
EXERCISES_ENV = "AUTOGRADER_EXERCISES"
CONFIG_FILE = "nbgrader_config.py"


class CourseExercises(Configurable):
    """The course's exercise declarations (read by ``autograder`` and the routed autograde)."""

    directory = Unicode("autograding", help=(
        "Folder of the course's exercise declarations, one subfolder per assignment holding "
        "exercises.py (the autograded exercises) and mistakes.py (typical wrong answers for the "
        "sample class). Relative to the course root.")).tag(config=True)


def find_course_root(start: str) -> str | None:
    """The nearest ancestor of ``start`` (itself included) holding an nbgrader_config.py this
    process may read: a course closed to it (the checkout on a hub, seen by a student) is none
    of its courses."""
    path = os.path.abspath(start)
    while True:
        config = os.path.join(path, CONFIG_FILE)
        if os.path.isfile(config) and os.access(config, os.R_OK):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


# the course checkout this package is installed from (editable), if it is
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(autograder.__file__)))


def course_roots(cwd: str | None = None) -> list[str]:
    """The courses a process may work for, nearest first: $AUTOGRADER_COURSE_ROOT, every folder
    above ``cwd`` holding nbgrader_config.py (a student may keep one of their own, for the
    exchange), and the course checkout this package is installed from (a student's clone)."""
    found = [os.environ[COURSE_ENV]] if os.environ.get(COURSE_ENV) else []
    path = find_course_root(cwd or os.getcwd())
    while path:
        found.append(path)
        parent = os.path.dirname(path)
        path = find_course_root(parent) if parent != path else None
    checkout = find_course_root(CHECKOUT)
    return list(dict.fromkeys(found + ([checkout] if checkout else [])))


def private_path(root: str | os.PathLike, *parts: str) -> str:
    """A path in the course's own state folder (``<root>/.autograder/...``)."""
    return os.path.join(os.fspath(root), PRIVATE_DIR, *parts)


def exercises_directory(root: str) -> str:
    """$AUTOGRADER_EXERCISES (a copy students can read, on a shared hub), else the course's
    ``CourseExercises.directory`` setting, relative to ``root``."""
    if os.environ.get(EXERCISES_ENV):
        return os.environ[EXERCISES_ENV]
    directory = CourseExercises.directory.default_value
    config_file = os.path.join(root, CONFIG_FILE)
    if os.path.isfile(config_file):
        from traitlets.config.loader import PyFileConfigLoader
        config = PyFileConfigLoader(CONFIG_FILE, path=root).load_config()
        directory = CourseExercises(config=config).directory
    return os.path.join(root, directory)


@dataclass
class Course:
    """A course root with its nbgrader configuration loaded the way nbgrader loads it."""
    root: str
    config: Any
    coursedir: Any

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def course_id(self) -> str:
        return self.coursedir.course_id

    @property
    def exchange_root(self) -> str:
        """nbgrader's `Exchange.root`; a relative one is read from the course root, where
        nbgrader's commands run."""
        from nbgrader.exchange.default.exchange import Exchange

        return os.path.join(self.root, Exchange(coursedir=self.coursedir, config=self.config).root)

    def path(self, step: str, student: str, assignment: str) -> str:
        return self.coursedir.format_path(step, student, assignment)

    def submitted(self, student: str, assignment: str) -> str:
        return self.path(self.coursedir.submitted_directory, student, assignment)

    def autograded(self, student: str, assignment: str) -> str:
        return self.path(self.coursedir.autograded_directory, student, assignment)

    def source(self, assignment: str) -> str:
        return self.path(self.coursedir.source_directory, ".", assignment)

    def sidecar(self, assignment: str, student: str) -> str:
        return private_path(self.root, "graded", assignment, student + ".json")

    def private_paths(self) -> list[str]:
        """What of this course student code must never see while it runs: every folder of
        nbgrader's as this course configures them, the gradebook, the exchange, the exercise
        declarations and the course's own state."""
        cd = self.coursedir
        folders = (cd.source_directory, cd.release_directory, cd.submitted_directory,
                   cd.autograded_directory, cd.feedback_directory, cd.solution_directory)
        paths = [os.path.join(self.root, name) for name in (*folders, *ALWAYS_HIDDEN)]
        if self.db_url.startswith("sqlite:///"):
            paths.append(os.path.abspath(os.path.join(self.root, self.db_url.removeprefix("sqlite:///"))))
        paths += [self.exchange_root, exercises_directory(self.root)]
        return list(dict.fromkeys(paths))


def load_course(root: str | None = None) -> Course:
    """Load nbgrader_config.py (and the user's Jupyter config) with nbgrader's own app machinery."""
    from nbgrader.apps.baseapp import NbGrader

    class _Loader(NbGrader):
        name = "autograder"

    root = os.path.abspath(root or os.getcwd())
    old = os.getcwd()
    os.chdir(root)          # nbgrader also reads ./nbgrader_config.py from the working directory
    try:
        app = _Loader()
        app.initialize([], root=root)
    finally:
        os.chdir(old)
    return Course(root=app.coursedir.root, config=app.config, coursedir=app.coursedir)
