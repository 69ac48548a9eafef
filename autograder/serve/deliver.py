"""Feedback where students fetch it: nbgrader's `generate_feedback` and `release_feedback`,
run in this process for one student, so `nbgrader fetch_feedback` and the Lab's Assignment
List find it as they find feedback the instructor released by hand.

A submission that is not graded (a rule refused it) gets a short page in its place, released
under the same name nbgrader gives feedback (the submission's secret and the notebook's name),
so the student fetches it the same way.
"""
from __future__ import annotations

import html
import os

from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.intake import files
from autograder.serve.inbound import SECRET_FILE, Arrival, course_directory, inbound_path

MAX_SECRET_BYTES = 1024


class ScoresOnly(NbGraderPreprocessor):
    """For feedback before the due date with ``GradeOnSubmit.before_due = 'scores'``: test
    cells keep their score (in their header) and lose their output, the diagnosis."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.outputs = []
        return cell, resources


def release_feedback(course, assignment: str, student: str, *, scores_only: bool = False) -> None:
    """Generate the student's feedback from their autograded notebooks and release it."""
    from nbgrader.converters import GenerateFeedback

    cd = course_directory(course, assignment, student)
    converter = GenerateFeedback(coursedir=cd, config=course.config)
    converter.force = True          # a resubmission's feedback replaces the last one's
    if scores_only:
        converter.preprocessors = [*converter.preprocessors, ScoresOnly]
    converter.start()
    _releaser(course, assignment, student).start()


def release_notice(course, arrival: Arrival, message: str) -> int:
    """Release ``message`` as the feedback of each notebook of a submission that was not
    graded; how many pages were released (0 when the submission has no readable secret)."""
    from nbgrader.utils import notebook_hash

    folder = os.path.join(inbound_path(course), arrival.name)
    try:
        fd = files.open_regular(os.path.join(folder, SECRET_FILE))
    except (OSError, files.NotRegularFile):
        return 0
    with os.fdopen(fd, "rb") as fh:
        secret = fh.read(MAX_SECRET_BYTES).decode("utf-8", "replace")
    try:
        handed_in = {n[:-len(".ipynb")] for n in os.listdir(folder) if n.endswith(".ipynb")}
    except OSError:
        return 0
    # the assignment's notebooks only: the folder's names are the student's to choose
    notebooks = sorted(handed_in & _notebooks_of(course, arrival.assignment))
    release = _releaser(course, arrival.assignment, arrival.student)
    release.init_dest()             # nbgrader's own feedback folder, made as release_feedback makes it
    for notebook in notebooks:
        page = _notice_page(arrival, notebook, message)
        target = os.path.join(release.dest_path, notebook_hash(secret=secret, notebook_id=notebook) + ".html")
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    return len(notebooks)


def _notebooks_of(course, assignment: str) -> set[str]:
    source = course.source(assignment)
    return {n[:-len(".ipynb")] for n in os.listdir(source) if n.endswith(".ipynb")}


def _releaser(course, assignment: str, student: str):
    from nbgrader.auth import Authenticator
    from nbgrader.exchange import ExchangeFactory

    return ExchangeFactory(config=course.config).ReleaseFeedback(
        coursedir=course_directory(course, assignment, student), config=course.config,
        authenticator=Authenticator(config=course.config))


def _notice_page(arrival: Arrival, notebook: str, message: str) -> str:
    title = html.escape(f"{arrival.assignment} / {notebook}: not graded")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n"
            f"<body><h1>{title}</h1>\n<p>Submitted {html.escape(arrival.timestamp)}.</p>\n"
            f"<p>{html.escape(message)}</p>\n</body></html>\n")
