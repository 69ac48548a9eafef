"""Late work: when a submission was handed in, each student's own due date, and the penalty.

* **Submission time.** `timestamp.txt` is written on the student's side of the exchange, so it
  is read without trusting it (`read_timestamp`): a missing, empty, unparseable or not-regular
  file is a *finding* for the instructor, not an error. The rule for such a submission: its
  time is unknown, it is graded as on time (no penalty), and the summary and the report flag
  it so the instructor can decide (e.g. with `autograder extend` or a manual adjustment).
* **Due dates.** nbgrader's gradebook keeps the assignment's due date (UTC) and, per student,
  an `extension` (a duration) on the submission, which `autograder extend`
  (term/extensions.py) records. Dates without a zone are read in the course's time zone
  (`Exchange.timezone`, UTC unless set; `parse_date`).
* **Penalty.** `PerDayLatePenalty`, a nbgrader `LateSubmissionPlugin`: a share of the
  notebook's score per started day late, capped. Select it in `nbgrader_config.py` with
  ``c.AssignLatePenalties.plugin_class = "autograder.hooks.lateness.PerDayLatePenalty"``.
* **Feedback.** `ExplainLatePenalty`, a `GenerateFeedback` preprocessor, says in the feedback
  how much was deducted and why.
"""
from __future__ import annotations

import datetime as dt
import math
import os

from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import AssignLatePenalties, NbGraderPreprocessor
from traitlets import Float

from autograder.intake import files

TIMESTAMP_FILE = "timestamp.txt"
MAX_TIMESTAMP_BYTES = 200
UNKNOWN_TIME_RULE = "submission time unknown: graded as on time, no late penalty; please check"


class PerDayLatePenalty(LateSubmissionPlugin):
    """Deduct percent_per_day % of the notebook's score for every started day late, at most
    max_percent %; nothing within grace_minutes of the (student's own) due date."""

    percent_per_day = Float(10.0, help="Percent of the score deducted per started day late.").tag(config=True)
    max_percent = Float(50.0, help="The most a late submission loses, in percent of its score.").tag(config=True)
    grace_minutes = Float(0.0, help="Minutes after the due date that still count as on time.").tag(config=True)

    def percent(self, total_seconds_late: float) -> float:
        if total_seconds_late <= self.grace_minutes * 60:
            return 0.0
        return min(self.max_percent, self.percent_per_day * math.ceil(total_seconds_late / 86400))

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        return round(score * self.percent(total_seconds_late) / 100, 2)

    def describe(self) -> str:
        grace = f" after {self.grace_minutes:g} minutes' grace" if self.grace_minutes else ""
        return f"-{self.percent_per_day:g}% per started day late{grace}, at most -{self.max_percent:g}%"


def describe_rule(plugin: LateSubmissionPlugin) -> str:
    """The penalty rule in words, for whatever plugin the course configured."""
    if hasattr(plugin, "describe"):
        return plugin.describe()
    return {"zero": "a late notebook scores 0", "none": "no penalty"}.get(
        getattr(plugin, "penalty_method", ""), type(plugin).__name__)


def read_timestamp(folder: str) -> tuple[dt.datetime | None, str | None]:
    """(submission time as naive UTC, None) or (None, what is wrong with timestamp.txt)."""
    from nbgrader.utils import parse_utc

    try:
        fd = files.open_regular(os.path.join(folder, TIMESTAMP_FILE))
    except FileNotFoundError:
        return None, f"no {TIMESTAMP_FILE}: {UNKNOWN_TIME_RULE}"
    except files.NotRegularFile as exc:
        return None, f"{TIMESTAMP_FILE} is {exc.kind}, not a regular file: {UNKNOWN_TIME_RULE}"
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_TIMESTAMP_BYTES + 1)
    text = raw[:MAX_TIMESTAMP_BYTES].decode("utf-8", "replace").strip()
    if len(raw) > MAX_TIMESTAMP_BYTES:
        return None, f"{TIMESTAMP_FILE} is too long to be a time: {UNKNOWN_TIME_RULE}"
    if not text:
        return None, f"{TIMESTAMP_FILE} is empty: {UNKNOWN_TIME_RULE}"
    try:
        return parse_utc(text), None
    except (ValueError, OverflowError, TypeError) as exc:
        return None, f"{TIMESTAMP_FILE} says {text[:60]!r}, not a time ({exc}): {UNKNOWN_TIME_RULE}"


def parse_date(text: str, timezone: str = "UTC") -> dt.datetime:
    """A date from the command line as naive UTC (the gradebook's convention); a date without
    a zone is taken in ``timezone``."""
    import dateutil.parser
    import dateutil.tz

    head, _, last = text.strip().rpartition(" ")
    named = dateutil.tz.gettz(last) if head and "/" in last else None    # '... Europe/Paris'
    when = dateutil.parser.parse(head if named else text)
    if named:
        when = when.replace(tzinfo=named)
    elif when.tzinfo is None:
        zone = dateutil.tz.gettz(timezone)
        if zone is None:
            raise ValueError(f"unknown time zone {timezone!r}")
        when = when.replace(tzinfo=zone)
    return when.astimezone(dt.timezone.utc).replace(tzinfo=None)


def describe_lateness(seconds_late: float, due: dt.datetime | None, extension: dt.timedelta | None,
                      penalty: float, rule: str) -> str:
    """'submitted 1 d 2 h after the due date 2026-01-12 12:00 UTC (extended by 2 d): -1.5 points
    (-10% per started day late, at most -50%)'; due is the student's own (extension included)."""
    ext = f" (extended by {_duration(extension.total_seconds())})" if extension else ""
    when = f" {due:%Y-%m-%d %H:%M} UTC" if due else ""
    return (f"submitted {_duration(seconds_late)} after the due date{when}{ext}: "
            f"-{penalty:g} points ({rule})")


def _duration(seconds: float) -> str:
    days, rest = divmod(int(round(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes and not days else ""]
    return " ".join(p for p in parts if p) or f"{int(seconds)} s"


class ExplainLatePenalty(NbGraderPreprocessor):
    """For `nbgrader generate_feedback`: a notebook that lost points for lateness opens with a
    note saying how many and why (nbgrader's feedback shows only the number)."""

    def preprocess(self, nb, resources):
        from nbformat.v4 import new_markdown_cell
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            submission = gb.find_submission(info["assignment"], info["student"])
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            penalty = float(notebook.late_submission_penalty or 0)
            if penalty > 0:
                late = AssignLatePenalties(parent=self)
                late.init_plugin()
                why = describe_lateness(submission.total_seconds_late, submission.duedate,
                                        submission.extension, penalty, describe_rule(late.plugin_inst))
                nb.cells.insert(0, new_markdown_cell(f"**Late submission.** This notebook was {why}."))
        return nb, resources


def apply_timestamp_rule_to_nbgrader() -> None:
    """Make nbgrader's own commands (the routed `nbgrader autograde`, the Formgrader's button,
    `nbgrader collect`) read timestamp.txt by `read_timestamp`'s rule: nbgrader 0.9's
    `CourseDirectory.get_existing_timestamp` raises on a bad one (an AttributeError, as it
    calls a `fail` it does not have) and the student loses every score. Called from
    nbgrader_config.py."""
    from nbgrader.coursedir import CourseDirectory

    def get_existing_timestamp(self, dest_path: str) -> dt.datetime | None:
        when, problem = read_timestamp(dest_path)
        if problem and os.path.isdir(dest_path):
            self.log.warning("%s: %s", dest_path, problem)
        return when

    CourseDirectory.get_existing_timestamp = get_existing_timestamp
