"""The course directory as nbgrader's configuration makes it: where submissions, autograded
notebooks and the instructor's notebooks live, the gradebook, the course id and the exchange.

`load_course(root)` reads `nbgrader_config.py` (and the user's Jupyter config) with nbgrader's own
app machinery, so `autograder`, `scripts/lab.py` and the tests see the course nbgrader sees.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

SIDE_DIR = os.path.join(".autograder", "graded")


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
        return os.path.join(self.root, SIDE_DIR, assignment, student + ".json")


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
