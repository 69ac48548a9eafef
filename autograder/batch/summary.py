"""What a grading run did, student by student, and the table `autograder grade` prints at the end."""
from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Summary:
    graded: list[tuple[str, str, str]] = field(default_factory=list)    # student, notebook, score
    failed: list[tuple[str, str, str]] = field(default_factory=list)    # student, notebook, reason
    skipped: list[tuple[str, str]] = field(default_factory=list)        # student, reason
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # student, notebook, problem
    late: list[tuple[str, str]] = field(default_factory=list)            # student, deduction and why
    students_committed: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    scheduler: str = ""
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def add_committed(self, student: str, record, unknown: list[str]) -> None:
        """A student the writer committed: each notebook's outcome, lateness, and the notebooks
        handed in that the assignment does not have."""
        self.students_committed += 1
        if record.timestamp_problem:
            self.problems.append((student, "timestamp.txt", record.timestamp_problem))
        if record.lateness:
            self.late.append((student, record.lateness))
        for nb, o in sorted(record.notebooks.items()):
            if o.status == "failed":
                self.failed.append((student, nb, "; ".join(o.problems) or "failed"))
            elif o.status == "graded":
                self.graded.append((student, nb, f"{o.score:g}/{o.max_score:g}"))
                for prob in o.problems:
                    self.problems.append((student, nb, prob))
            elif o.status == "missing":
                self.problems.append((student, nb, "not submitted: scored 0"))
        for nb in unknown:
            self.problems.append((student, nb, "not part of the assignment: ignored"))


def print_summary(summary: Summary, stream=None) -> None:
    out = stream or sys.stdout
    rows = [("graded", f"{s}/{n}", sc) for s, n, sc in summary.graded]
    rows += [("FAILED", f"{s}/{n}", r) for s, n, r in summary.failed]
    rows += [("skipped", s, r) for s, r in summary.skipped]
    rows += [("problem", f"{s}/{n}", p) for s, n, p in summary.problems]
    rows += [("late", s, why) for s, why in summary.late]
    if rows:
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        print(f"{'status':<{w0}}  {'submission':<{w1}}  detail", file=out)
        for r in rows:
            print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}", file=out)
    n_graded = len(summary.graded)
    rate = n_graded / summary.elapsed if summary.elapsed > 0 else 0.0
    print(f"\n{n_graded} notebooks graded ({summary.students_committed} students committed), "
          f"{len(summary.failed)} failed, {len(summary.skipped)} skipped "
          f"in {summary.elapsed:.1f} s ({rate:.2f} nb/s) on {summary.scheduler}."
          + ("  INTERRUPTED: run again to finish." if summary.interrupted else ""), file=out)
