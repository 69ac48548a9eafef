"""What the instructor decides about grading on submit, set in ``nbgrader_config.py``::

    c.GradeOnSubmit.assignments = ["jacobians"]
    c.GradeOnSubmit.max_graded = 5
    c.GradeOnSubmit.min_minutes_between = 10
"""
from __future__ import annotations

import datetime as dt

from traitlets import Enum, Float, Int, List, Unicode
from traitlets.config import Configurable

FULL = "feedback"
SCORES = "scores"


class GradeOnSubmit(Configurable):
    """Which submissions `autograder serve` grades as they arrive, and what students see."""

    assignments = List(Unicode(), default_value=[], help=(
        "Assignments graded on submit by `autograder serve` (none by default: grading on submit "
        "is turned on per assignment). Assignments named on the command line are served "
        "whatever this says.")).tag(config=True)
    max_graded = Int(0, help=(
        "Graded submissions a student gets per assignment; 0 for no limit. A submission past "
        "the limit is not graded: its feedback says so, and the gradebook keeps the last graded "
        "one (the instructor's own `nbgrader collect` and `autograder grade` still take the "
        "newest).")).tag(config=True)
    min_minutes_between = Float(0.0, help=(
        "Minutes a student waits between two graded submissions of one assignment; 0 for no "
        "wait. A submission that comes sooner is not graded, and its feedback says when the next "
        "one will be.")).tag(config=True)
    before_due = Enum([FULL, SCORES], default_value=FULL, help=(
        f"What the feedback shows before the due date: '{FULL}', the feedback the batch path "
        f"writes (the score of each test cell and what is wrong, never the hidden tests' code), "
        f"or '{SCORES}', the score of each test cell only. After the due date it is always "
        f"'{FULL}', and the late penalty applies as in batch grading.")).tag(config=True)
    poll_seconds = Float(0.25, help="Seconds between two looks at the exchange's inbound.").tag(config=True)

    def refusal(self, graded_at: list[float], now: float) -> str | None:
        """Why a submission arriving at ``now`` is not graded, given when the student's graded
        submissions of this assignment arrived (service clock, seconds); None: grade it."""
        if self.max_graded and len(graded_at) >= self.max_graded:
            return (f"You have used all {self.max_graded} graded submissions of this assignment, "
                    f"so this submission was not graded. Your score is that of your last graded "
                    f"submission.")
        wait = self.min_minutes_between * 60
        if wait and graded_at and now - max(graded_at) < wait:
            ready = dt.datetime.fromtimestamp(max(graded_at) + wait, dt.timezone.utc)
            return (f"Graded submissions of this assignment must be at least "
                    f"{self.min_minutes_between:g} minutes apart, so this submission was not graded. "
                    f"Submit again after {ready:%Y-%m-%d %H:%M:%S} UTC to have it graded; your score "
                    f"until then is that of your last graded submission.")
        return None
