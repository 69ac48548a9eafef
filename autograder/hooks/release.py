"""``nbgrader generate_assignment`` writes the visible checks into the release.

``ReleaseVisibleChecks`` is a GenerateAssignment preprocessor: for each notebook it hands
nbgrader's writer the record of the assignment's visible checks (``course.visible``: each
visible probe with the answer the reference gives, never the reference's code) as a support file, so
``release/<assignment>/visible_checks.pickle`` is written beside the notebooks by nbgrader itself
and travels with them through ``release_assignment`` and ``fetch_assignment`` to wherever a
student works. An assignment without declarations releases no such file.
"""
from __future__ import annotations

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict

from autograder.course.directory import VISIBLE_CHECKS


class ReleaseVisibleChecks(NbGraderPreprocessor):
    """Put the assignment's visible checks beside its released notebooks."""

    _records = Dict(help="assignment -> its record, computed once per command")

    def preprocess(self, nb, resources):
        assignment = resources["nbgrader"]["assignment"]
        if assignment not in self._records:
            # here, not at the top: nbgrader_config.py loads this module for every nbgrader command
            from autograder.course.declarations import assignment_exercises
            from autograder.course.visible import record

            exercises = assignment_exercises(CourseDirectory(config=self.config).root, assignment)
            self._records[assignment] = record(exercises.values()) if exercises else None
        if self._records[assignment] is not None:
            # nbgrader's FilesWriter writes resources["outputs"] into the release folder
            resources.setdefault("outputs", {})[VISIBLE_CHECKS] = self._records[assignment]
        return nb, resources


def release_visible_checks(c) -> None:
    """Run ReleaseVisibleChecks after nbgrader's own GenerateAssignment preprocessors, in an
    nbgrader config object ``c`` (nbgrader_config.py)."""
    defaults = GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default()
    c.GenerateAssignment.preprocessors = [*defaults, ReleaseVisibleChecks]
