"""`autograder export ASSIGNMENT...`: grades out of the gradebook, for an LMS or a spreadsheet.

* `--canvas GRADEBOOK.csv`: fills (or adds) each assignment's column of a gradebook exported
  from Canvas (Grades > Export) and writes a file Canvas imports (Grades > Import). Students
  are matched by a Canvas column (`SIS Login ID` by default) against the student's
  `lms_user_id` in nbgrader's gradebook, or its id when that is empty. Students unmatched on
  either side are listed, never dropped silently.
* `--csv OUT`: one row per student, one column per exercise (autograded and manual) of each
  assignment, its late penalty and its total.

Scores are those of nbgrader's gradebook (manual grades included) after late penalties, the
same numbers `autograder report` shows. No network is needed.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from autograder.term import report

CANVAS_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "Points Possible"
DEFAULT_KEY = "SIS Login ID"


@dataclass
class Unmatched:
    lms_only: list[str] = field(default_factory=list)        # rows of the LMS file, no gradebook student
    gradebook_only: list[str] = field(default_factory=list)  # gradebook students not in the LMS file
    not_submitted: dict[str, list[str]] = field(default_factory=dict)   # assignment -> students

    def lines(self) -> list[str]:
        out = []
        if self.lms_only:
            out.append(f"in the LMS file but not in the gradebook (left as they were): "
                       f"{', '.join(self.lms_only)}")
        if self.gradebook_only:
            out.append(f"in the gradebook but not in the LMS file (not exported): "
                       f"{', '.join(self.gradebook_only)}")
        for asg, who in self.not_submitted.items():
            if who:
                out.append(f"{asg}: no submission (cell left empty): {', '.join(who)}")
        return out


def lms_keys(course) -> dict[str, str]:
    """nbgrader student id -> the key the LMS knows the student by (lms_user_id, else the id)."""
    from nbgrader.api import Gradebook
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.id: s.lms_user_id or s.id for s in gb.students}


def write_csv(course, assignments: list[str], out: str) -> Unmatched:
    datas = [report.collect(course, a) for a in assignments]
    students = sorted(set(lms_keys(course)) | {s for d in datas for s in d.totals})
    header = ["student"]
    for d in datas:
        header += [f"{d.assignment}:{ex.name}" for ex in d.exercises.values()]
        header += [f"{d.assignment}:late_penalty", f"{d.assignment}:total"]
    unmatched = Unmatched()
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for sid in students:
            row = [sid]
            for d in datas:
                cells = d.cells.get(sid)
                if cells is None:
                    unmatched.not_submitted.setdefault(d.assignment, []).append(sid)
                    row += [""] * (len(d.exercises) + 2)
                    continue
                row += ["" if cells.get(g) is None else f"{cells[g]:g}" for g in d.exercises]
                row += [f"{d.penalties[sid]:g}", f"{d.totals[sid]:g}"]
            w.writerow(row)
    return unmatched


def _canvas_column(header: list[str], assignment: str) -> int | None:
    """Index of the Canvas column for assignment: 'NAME (ID)' or a bare 'NAME'."""
    for i, name in enumerate(header):
        m = re.fullmatch(r"(.*?)(?: \(\d+\))?", name.strip())
        if i >= len(CANVAS_FIXED) and m and m.group(1) == assignment:
            return i
    return None


def fill_canvas(course, assignments: list[str], canvas_csv: str, out: str,
                key: str = DEFAULT_KEY) -> Unmatched:
    """Read a Canvas gradebook export, write it back with the assignments' totals filled in."""
    with open(canvas_csv, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    if not rows or key not in rows[0]:
        raise SystemExit(f"{canvas_csv}: no '{key}' column in the header; is this a Canvas "
                         f"gradebook export? (choose the column with --match)")
    header = rows[0]
    key_at = header.index(key)
    by_key = {v: k for k, v in lms_keys(course).items()}
    unmatched = Unmatched()
    students = [r for r in rows[1:] if r and r[0].strip() and not r[0].strip().startswith(POINTS_POSSIBLE)]
    for r in students:
        r.extend([""] * (len(header) - len(r)))
    unmatched.lms_only = sorted(f"{r[0]} ({key} {r[key_at].strip() or 'empty'})" for r in students
                                if r[key_at].strip() not in by_key)
    seen = {r[key_at].strip() for r in students}
    unmatched.gradebook_only = sorted(s for k, s in by_key.items() if k not in seen)
    for asg in assignments:
        data = report.collect(course, asg)
        col = _canvas_column(header, asg)
        if col is None:          # a column without an id: Canvas creates the assignment on import
            header.append(asg)
            col = len(header) - 1
        for r in rows[1:]:
            r.extend([""] * (len(header) - len(r)))
            if r[0].strip().startswith(POINTS_POSSIBLE):
                r[col] = f"{data.max_score:g}"
                continue
            sid = by_key.get(r[key_at].strip()) if len(r) > key_at else None
            if sid is None:
                continue
            if sid in data.totals:
                r[col] = f"{data.totals[sid]:g}"
            else:
                unmatched.not_submitted.setdefault(asg, []).append(sid)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return unmatched
