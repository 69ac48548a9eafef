"""Route stock ``nbgrader autograde`` through the trusted path.

``SandboxedExecute`` takes the place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors`` (see ``nbgrader_config.py``). It is an ``Execute``, so
nbgrader's settings for it hold: ``c.Execute.timeout`` / ``--Execute.timeout`` is the cell
time limit, ``--no-execute`` switches it off, and a notebook whose kernel does not exist
fails as it would stock. nbgrader still does everything around it (sanitising, restoring the
instructor's cells from the gradebook, copying files, SaveAutoGrades, late penalties, the
gradebook), but the notebook runs in a confined child forked from our zygote, and every test
cell is scored on this side: from autograd references for the registry's exercises, by
running the instructor's code here for the others.
"""
from __future__ import annotations

import os

import nbformat
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer

from autograder.cells import grade_id, meta
from autograder.jobs import LIMIT_FIELDS, Limits, limits_from
from autograder.secrets import course_secret, student_seed

_HELP = {limit.name: limit.metadata["help"] for limit in LIMIT_FIELDS}


class SandboxedExecute(Execute):
    """Execute a submission in the sandbox and grade its test cells outside it."""

    timeout = Integer(int(Limits.cell_timeout), allow_none=True,
                      help=_HELP["cell_timeout"] + " None: only the notebook's limit applies.").tag(config=True)
    notebook_timeout = Float(None, allow_none=True, help=_HELP["notebook_timeout"]).tag(config=True)
    memory_mb = Integer(Limits.memory_mb, help=_HELP["memory_mb"]).tag(config=True)
    output_bytes = Integer(Limits.output_bytes, help=_HELP["output_bytes"]).tag(config=True)
    complete_notebook = Bool(True, help="Draw plots and run the cells after the last test cell, as stock "
                                        "nbgrader does (neither changes a score).").tag(config=True)

    def preprocess(self, nb, resources):
        # Imported here: nbgrader_config.py loads this module for every nbgrader command,
        # and only autograde needs torch.
        from autograder import exercises
        from autograder.grade_notebook import course_secret_paths, grade_submission

        self._check_kernel(nb)
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        source_path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]),
                                   info["notebook"] + ".ipynb")
        instructor = _as_in_gradebook(nbformat.read(source_path, as_version=4), info)
        secret = course_secret(coursedir.root)
        seeds = {name: student_seed(secret, info["student"], name)
                 for name, ex in exercises.EXERCISES.items() if ex.notebook == info["notebook"]}
        files_dir = resources.get("metadata", {}).get("path")
        # Execute.timeout = None (nbgrader: no time limit per cell) leaves the notebook's limit.
        notebook_timeout = self.notebook_timeout or Limits.notebook_timeout
        limits = limits_from({"cell_timeout": notebook_timeout if self.timeout is None else self.timeout,
                              "notebook_timeout": self.notebook_timeout, "memory_mb": self.memory_mb,
                              "output_bytes": self.output_bytes}, complete_notebook=self.complete_notebook)
        graded = grade_submission(instructor, nb, files_dir, seeds, limits, tuple(course_secret_paths(coursedir.root)),
                                  files_out=files_dir)
        for problem in graded.problems:
            self.log.warning("%s/%s: %s", info["student"], info["notebook"], problem)
        nb.cells = graded.notebook.cells
        return nb, resources

    def _check_kernel(self, nb) -> None:
        """Fail as stock does for a kernel that does not exist; and we only run Python."""
        name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or NATIVE_KERNEL_NAME
        spec = KernelSpecManager(parent=self).get_kernel_spec(NATIVE_KERNEL_NAME if name == "python" else name)
        if spec.language.lower() != "python":
            raise ValueError(f"kernel '{name}' runs {spec.language}; the sandboxed grader runs Python notebooks only")


def _as_in_gradebook(instructor, info: dict):
    """The instructor's notebook with its graded and locked cells as nbgrader's gradebook holds
    them, which is what OverwriteCells restores: autotests expanded, hidden tests in, locked."""
    with Gradebook(info["db_url"]) as gb:
        saved = {cell.name: cell for cell in gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
    for cell in instructor.cells:
        found = saved.get(grade_id(cell))
        if found is not None:
            cell.source = found.source
            meta(cell)["locked"] = found.locked
    return instructor


def install(c) -> None:
    """Put SandboxedExecute in the place of Execute in an nbgrader config object ``c``."""
    from nbgrader.converters import Autograde
    c.Autograde.autograde_preprocessors = [
        "autograder.preprocessor.SandboxedExecute" if getattr(p, "__name__", "") == "Execute" else p
        for p in Autograde.class_traits()["autograde_preprocessors"].make_dynamic_default()]
