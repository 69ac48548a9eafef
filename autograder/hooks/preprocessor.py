"""Route stock ``nbgrader autograde`` through the trusted path.

``SandboxedExecute`` takes the place of nbgrader's ``Execute`` in
``Autograde.autograde_preprocessors`` (see ``nbgrader_config.py``). It is an ``Execute``, so
nbgrader's settings for it hold: ``c.Execute.timeout`` / ``--Execute.timeout`` is the cell
time limit, ``--no-execute`` switches it off, and a notebook whose kernel does not exist
fails as it would stock. nbgrader still does everything around it (sanitising, restoring the
instructor's cells from the gradebook, copying files, SaveAutoGrades, late penalties, the
gradebook), but the notebook runs in a confined child forked from our zygote, and every test
cell is scored on this side: from autograd references for the course's declared exercises, by
running the instructor's code here for the others. The score nbgrader's SaveAutoGrades then
reads is the cell's ``execute_result``, written by us (``recording.record_decisions``).

``SubmissionExporter`` reads each submitted notebook the way ``autograder grade`` does. Stock
nbgrader grades nothing of a student after a notebook that cannot be read or sanitised; here
that notebook alone is replaced by its released version, every graded cell of it scores 0, and
the reason is logged and shown in its test cells; the other notebooks are graded, and then
``RegularFilesAutograde`` reports the submission as failed, as stock does (the command exits 1
naming the notebook). ``RestoredCellsOverwrite`` is nbgrader's OverwriteCells, quiet about test
cells the grader itself restored.

``RegularFilesAutograde`` copies the submission's other files into ``autograded/`` as
``autograder grade`` does: regular files only. Stock copies them with ``shutil.copy``, which
follows links and fails the student's whole submission at a named pipe.
"""
from __future__ import annotations

import copy
import os

import nbformat
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager
from nbconvert.exporters import NotebookExporter
from nbgrader.api import Gradebook
from nbgrader.converters import Autograde, BaseConverter
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, OverwriteCells
from traitlets import Bool, Float, Integer

from autograder.intake.cells import grade_id, is_test
from autograder.intake.files import copy_beside_notebooks
from autograder.batch.jobs import LIMIT_FIELDS, Limits, limits_from
from autograder.course.seeds import course_secret, notebook_seeds

_HELP = {limit.name: limit.metadata["help"] for limit in LIMIT_FIELDS}


class SandboxedExecute(Execute):
    """Execute a submission in the sandbox and grade its test cells outside it."""

    # nbgrader's own setting (c.Execute.timeout, --Execute.timeout), in seconds as the table's
    timeout = Float(Limits.cell_timeout, allow_none=True,
                    help=_HELP["cell_timeout"] + " None: only the notebook's limit applies.").tag(config=True)
    notebook_timeout = Float(None, allow_none=True, help=_HELP["notebook_timeout"]).tag(config=True)
    memory_mb = Integer(Limits.memory_mb, help=_HELP["memory_mb"]).tag(config=True)
    output_bytes = Integer(Limits.output_bytes, help=_HELP["output_bytes"]).tag(config=True)
    complete_notebook = Bool(True, help="Draw plots and run the cells after the last test cell, as stock "
                                        "nbgrader does (neither changes a score).").tag(config=True)

    def preprocess(self, nb, resources):
        # Imported here: nbgrader_config.py loads this module for every nbgrader command,
        # and only autograde needs torch.
        from autograder.course.directory import Course
        from autograder.notebook.grade import grade_submission

        self._check_kernel(nb)
        info = resources["nbgrader"]
        unreadable = resources.get(UNREADABLE)
        if unreadable:
            return _scored_zero(nb, unreadable), resources
        coursedir = CourseDirectory(config=self.config)
        instructor = _instructor_notebook(coursedir, info, info["notebook"])
        seeds = notebook_seeds(course_secret(coursedir.root), info["student"], instructor)
        exercises = _declared_exercises(coursedir, info, instructor)
        files_dir = resources.get("metadata", {}).get("path")
        limits = limits_from(self.configured_limits(), complete_notebook=self.complete_notebook)
        graded = grade_submission(instructor, nb, files_dir, seeds, limits, tuple(Course(root=coursedir.root, config=self.config, coursedir=coursedir).private_paths()),
                                  files_out=files_dir, exercises=exercises)
        for problem in graded.problems:
            self.log.warning("%s/%s: %s", info["student"], info["notebook"], problem)
        nb.cells = graded.notebook.cells
        return nb, resources

    def configured_limits(self) -> dict:
        """The course's limits (limit name -> value, None when not set), as nbgrader's settings
        give them; ``autograder grade`` starts from these too."""
        # Execute.timeout = None (nbgrader: no time limit per cell) leaves the notebook's limit.
        notebook_timeout = self.notebook_timeout or Limits.notebook_timeout
        return {"cell_timeout": notebook_timeout if self.timeout is None else self.timeout,
                "notebook_timeout": self.notebook_timeout, "memory_mb": self.memory_mb,
                "output_bytes": self.output_bytes}

    def _check_kernel(self, nb) -> None:
        """Fail as stock does for a kernel that does not exist; and we only run Python."""
        name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or NATIVE_KERNEL_NAME
        spec = KernelSpecManager(parent=self).get_kernel_spec(NATIVE_KERNEL_NAME if name == "python" else name)
        if spec.language.lower() != "python":
            raise ValueError(f"kernel '{name}' runs {spec.language}; the sandboxed grader runs Python notebooks only")


def _declared_exercises(coursedir, info, instructor) -> dict:
    """The exercises of this notebook graded from the course's declarations (autograding/<assignment>/exercises.py)."""
    from autograder.course import declarations
    from autograder.course.directory import exercises_directory
    declared = declarations.load(declarations.read_declarations(exercises_directory(coursedir.root), info["assignment"]))
    return declarations.bind(declared, instructor, info["notebook"])


UNREADABLE = "autograder_unreadable"    # resources key: why the submitted file was replaced
RESTORED = "autograder_restored"        # resources key: grade_id -> the source the grader gave a test cell


class RestoredCellsOverwrite(OverwriteCells):
    """nbgrader's OverwriteCells, quiet about the checksum of a test cell exactly as the grader
    itself put it back (``SubmissionExporter``: a declared exercise's test cell as released,
    its hidden tests graded from the declaration): that change is the grader's, not the
    student's. A student's edit of a test cell is named where the grader undoes it."""

    def preprocess_cell(self, cell, resources, cell_index):
        restored = resources.get(RESTORED, {}).get(grade_id(cell))
        self._by_the_grader = restored is not None and cell.get("source") == restored
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new) -> None:
        if attr == "checksum" and self._by_the_grader:
            self.log.debug("test cell %s: its hidden tests are graded from the course's declarations", name)
            return
        super().report_change(name, attr, old, new)


def _scored_zero(nb, reason: str):
    """The stand-in for an unreadable submission: every test cell 0, with the reason (as
    ``autograder grade`` records it)."""
    from autograder.notebook.recording import record_decisions, unreadable

    for cell in nb.cells:
        if is_test(cell):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"Not graded: {reason}.\n")]
    record_decisions(nb.cells, unreadable(nb.cells, reason))
    return nb


class SubmissionExporter(NotebookExporter):
    """nbgrader's notebook exporter, reading submissions as ``autograder grade`` does and
    standing in the released notebook for one that cannot be read or sanitised."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self._replaced: dict[tuple, str] = {}    # (assignment, student, notebook) -> reason
        self.ungradable: dict[tuple, list[str]] = {}   # (assignment, student) -> "notebook: reason", until told

    def from_filename(self, filename, resources=None, **kw):
        from autograder.intake.cell_plan import plan_cells
        from autograder.intake.submission import BadSubmission, read_submission

        resources = resources if resources is not None else {}
        info = resources.get("nbgrader", {})
        key = (info.get("assignment"), info.get("student"), info.get("notebook"))
        name = os.path.splitext(os.path.basename(filename))[0]
        who = f"{info.get('student')}/{name}"
        resources.setdefault("metadata", {}).update(name=name, path=os.path.dirname(filename))
        if any(isinstance(p, SandboxedExecute) for p in self._preprocessors):
            # the grading pass reads what the sanitising pass wrote; a stand-in is not run
            reason = self._replaced.pop(key, None)
            if reason is not None:
                resources[UNREADABLE] = reason
            return self.from_notebook_node(nbformat.read(filename, as_version=4), resources, **kw)

        coursedir = CourseDirectory(config=self.config)
        instructor = _instructor_notebook(coursedir, info, name)
        released_path = _course_path(coursedir, coursedir.release_directory, info["assignment"], name)
        released = nbformat.read(released_path, as_version=4) if os.path.isfile(released_path) else None
        try:
            student = read_submission(filename)
            # The student's cells as the batch plans them (instructor's locked and test cells
            # restored, tampering undone), in the released metadata: nbgrader's sanitising then
            # meets nothing a student could have broken.
            cells, problems = plan_cells(instructor, student, declared=_declared_exercises(coursedir, info, instructor))
            for problem in problems:
                self.log.warning("%s: %s", who, problem)
            nb = nbformat.v4.new_notebook(cells=[_rebuilt(cell, index) for index, cell in enumerate(cells)],
                                          metadata=copy.deepcopy((released or student).metadata))
            if _is_kernelspec(student.metadata.get("kernelspec")):     # checked as stock checks it
                nb.metadata.kernelspec = student.metadata.kernelspec
            return self.from_notebook_node(nb, _restored_by_us(nb, resources), **kw)
        except BadSubmission as exc:
            reason = str(exc)
        except Exception as exc:  # noqa: BLE001 - nbgrader's sanitising rejected the student's file
            if _is_database_error(exc) or released is None:
                raise
            reason = f"nbgrader could not sanitise the notebook ({type(exc).__name__}: {str(exc)[:200]})"
        if released is None:
            raise BadSubmission(f"{who}: {reason} (and there is no released notebook to stand in for it)")
        self.log.warning("%s: %s; every graded cell of it scores 0", who, reason)
        self._replaced[key] = reason
        self.ungradable.setdefault(key[:2], []).append(f"{name}: {reason}")
        return self.from_notebook_node(released, _restored_by_us(released, resources), **kw)


def _restored_by_us(nb, resources: dict) -> dict:
    """``resources`` with the test cells of ``nb``, the notebook the grader rebuilt, named as
    restored (for ``RestoredCellsOverwrite``)."""
    resources = copy.deepcopy(resources)
    resources[RESTORED] = {grade_id(c): c.source for c in nb.cells if is_test(c)}
    return resources


def _course_path(coursedir, step: str, assignment: str, notebook: str) -> str:
    return os.path.join(coursedir.format_path(step, ".", assignment), notebook + ".ipynb")


def _course_notebook(coursedir, step: str, assignment: str, notebook: str):
    """The instructor's copy of a notebook in one of the course's folders (source, release)."""
    return nbformat.read(_course_path(coursedir, step, assignment, notebook), as_version=4)


def _instructor_notebook(coursedir, info: dict, notebook: str):
    """The instructor's notebook (source/) with its graded and locked cells' code as nbgrader's
    gradebook holds it, which is what OverwriteCells restores: autotests expanded, hidden
    tests in."""
    instructor = _course_notebook(coursedir, coursedir.source_directory, info["assignment"], notebook)
    with Gradebook(info["db_url"]) as gb:
        saved = {cell.name: cell.source for cell in gb.find_notebook(notebook, info["assignment"]).source_cells}
    for cell in instructor.cells:
        if grade_id(cell) in saved:
            cell.source = saved[grade_id(cell)]
    return instructor


def _rebuilt(cell, index: int):
    """Only what grading reads of a cell: its type, source and metadata, with nbgrader's part
    as grading reads it (``cells.meta``: a malformed one counts as none)."""
    from autograder.intake.cells import meta, source

    metadata = {k: v for k, v in (cell.get("metadata") or {}).items() if k != "nbgrader"}
    if meta(cell):
        metadata["nbgrader"] = meta(cell)
    new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
           "raw": nbformat.v4.new_raw_cell}[cell["cell_type"]]
    rebuilt = new(source=source(cell), metadata=metadata)
    # the same file autogrades to the same notebook, as stock: no random ids
    rebuilt.id = cell["id"] if isinstance(cell.get("id"), str) else f"cell-{index}"
    if cell["cell_type"] == "code" and isinstance(cell.get("outputs"), list):
        # what --no-execute grades (nbgrader's ClearOutput empties them otherwise)
        rebuilt.outputs, rebuilt.execution_count = cell["outputs"], cell.get("execution_count")
    return rebuilt


def _is_kernelspec(value) -> bool:
    """A kernelspec nbformat accepts (a malformed one would fail the notebook's validation)."""
    return isinstance(value, dict) and all(isinstance(value.get(k), str) for k in ("name", "display_name"))


def _is_database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import SQLAlchemyError
    return isinstance(exc, SQLAlchemyError)


class _RegularFilesOnly(BaseConverter):
    """nbgrader's step that copies a submission's other files, for regular files only: a link,
    pipe, socket or device is left out unopened, with a warning, and costs only itself."""

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        for line in copy_beside_notebooks(self._format_source(assignment_id, student_id),
                                          self._format_dest(assignment_id, student_id), self.coursedir.ignore):
            self.log.warning("%s/%s: %s", student_id, assignment_id, line)


class UngradableNotebooks(Exception):
    """Some notebooks of a submission could not be graded (each scored 0 with its reason, the
    others graded): raised once the submission's last notebook is done, so that nbgrader
    handles the submission as failed, names it and exits non-zero at the end."""


class RegularFilesAutograde(Autograde, _RegularFilesOnly):
    """nbgrader's Autograde, with its copy of a submission's other files done by _RegularFilesOnly
    (Autograde.init_assignment reaches it through super(), in BaseConverter's place), and a
    submission with a notebook that could not be graded reported as failed after all its
    notebooks are graded (``UngradableNotebooks``)."""

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        self._submission = (assignment_id, student_id)
        super().init_assignment(assignment_id, student_id)

    def convert_single_notebook(self, notebook_filename: str) -> None:
        super().convert_single_notebook(notebook_filename)
        if notebook_filename == self.notebooks[-1]:
            ungradable = getattr(self.exporter, "ungradable", {}).pop(self._submission, None)
            if ungradable:
                raise UngradableNotebooks(f"{self._submission[1]}/{self._submission[0]}: could not be graded, "
                                          f"scored 0: {'; '.join(ungradable)}")


def install(c) -> None:
    """Put SandboxedExecute in the place of Execute in an nbgrader config object ``c``, read
    submissions with SubmissionExporter, check their cells with RestoredCellsOverwrite and copy
    their other files with RegularFilesAutograde."""
    from nbgrader.apps import api, autogradeapp

    # nbgrader has no setting for the converter class: the command and the Formgrader's API
    # each make an Autograde by this name.
    autogradeapp.Autograde = api.Autograde = RegularFilesAutograde
    c.Autograde.exporter_class = "autograder.hooks.preprocessor.SubmissionExporter"
    c.Autograde.sanitize_preprocessors = [
        RestoredCellsOverwrite if p is OverwriteCells else p
        for p in Autograde.class_traits()["sanitize_preprocessors"].make_dynamic_default()]
    c.Autograde.autograde_preprocessors = [
        "autograder.hooks.preprocessor.SandboxedExecute" if getattr(p, "__name__", "") == "Execute" else p
        for p in Autograde.class_traits()["autograde_preprocessors"].make_dynamic_default()]
