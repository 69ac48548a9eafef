"""``nbgrader generate_assignment`` writes the visible checks into the release.

``ReleaseVisibleChecks`` is a GenerateAssignment preprocessor: for each notebook it hands
nbgrader's writer the assignment's visible checks (``course.visible``) as a support file, so
``release/<assignment>/visible_checks.py`` is written beside the notebooks by nbgrader itself
and travels with them through ``release_assignment`` and ``fetch_assignment`` to wherever a
student works. An assignment without declarations releases no such file.
"""
from __future__ import annotations

import os

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.course.visible import VISIBLE_CHECKS, visible_only


class ReleaseVisibleChecks(NbGraderPreprocessor):
    """Put the assignment's visible checks beside its released notebooks."""

    def preprocess(self, nb, resources):
        # here, not at the top: nbgrader_config.py loads this module for every nbgrader command
        from autograder.course.declarations import read_declarations
        from autograder.course.directory import exercises_directory

        assignment = resources["nbgrader"]["assignment"]
        root = CourseDirectory(config=self.config).root
        declarations = read_declarations(exercises_directory(root), assignment)
        if declarations is not None:
            text = visible_only(declarations.source, os.path.relpath(declarations.path, root))
            # nbgrader's FilesWriter writes resources["outputs"] into the release folder
            resources.setdefault("outputs", {})[VISIBLE_CHECKS] = text.encode("utf-8")
        return nb, resources


def release_visible_checks(c) -> None:
    """Run ReleaseVisibleChecks after nbgrader's own GenerateAssignment preprocessors, in an
    nbgrader config object ``c`` (nbgrader_config.py)."""
    defaults = GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default()
    c.GenerateAssignment.preprocessors = [*defaults, ReleaseVisibleChecks]
