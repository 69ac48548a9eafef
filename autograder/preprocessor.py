"""Route stock ``nbgrader autograde`` through the trusted path.

``SandboxedExecute`` takes the place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors`` (see ``nbgrader_config.py``). nbgrader still does
everything around it (sanitising, copying files, SaveAutoGrades, late penalties, the
gradebook), but the notebook runs in a confined child forked from our zygote, and every test
cell that the registry knows is scored on this side, from autograd references: the score
nbgrader's SaveAutoGrades then reads is the cell's ``execute_result``, written by us.
"""
from __future__ import annotations

import os

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer

from autograder.jobs import Limits
from autograder.secrets import course_secret, student_seed

_DEFAULTS = Limits()


class SandboxedExecute(NbGraderPreprocessor):
    """Execute a submission in the sandbox and grade its test cells outside it."""

    cell_timeout = Float(_DEFAULTS.cell_timeout, help="Seconds one cell or one probe call may run.").tag(config=True)
    notebook_timeout = Float(_DEFAULTS.notebook_timeout, help="Seconds for a whole notebook.").tag(config=True)
    memory_mb = Integer(_DEFAULTS.memory_mb, help="Memory limit of the student's process, MB.").tag(config=True)
    output_bytes = Integer(_DEFAULTS.output_bytes, help="Output kept per cell, bytes.").tag(config=True)
    complete_notebook = Bool(True, help="Draw plots and run the cells after the last test cell, as stock "
                                        "nbgrader does (neither changes a score).").tag(config=True)

    def preprocess(self, nb, resources):
        # Imported here: nbgrader_config.py loads this module for every nbgrader command,
        # and only autograde needs torch.
        from autograder import exercises
        from autograder.grade_notebook import course_secret_paths, grade_submission

        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        source_path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]),
                                   info["notebook"] + ".ipynb")
        instructor = nbformat.read(source_path, as_version=4)
        secret = course_secret(coursedir.root)
        seeds = {name: student_seed(secret, info["student"], name)
                 for name, ex in exercises.EXERCISES.items() if ex.notebook == info["notebook"]}
        files_dir = resources.get("metadata", {}).get("path")
        limits = Limits(self.cell_timeout, self.notebook_timeout, self.memory_mb, self.output_bytes,
                        self.complete_notebook)
        graded = grade_submission(instructor, nb, files_dir, seeds, limits, tuple(course_secret_paths(coursedir.root)))
        for problem in graded.problems:
            self.log.warning("%s/%s: %s", info["student"], info["notebook"], problem)
        nb.cells = graded.notebook.cells
        return nb, resources


def install(c) -> None:
    """Put SandboxedExecute in the place of Execute in an nbgrader config object ``c``."""
    from nbgrader.converters import Autograde
    c.Autograde.autograde_preprocessors = [
        "autograder.preprocessor.SandboxedExecute" if getattr(p, "__name__", "") == "Execute" else p
        for p in Autograde.class_traits()["autograde_preprocessors"].make_dynamic_default()]
