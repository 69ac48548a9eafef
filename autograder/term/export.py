"""`autograder export ASSIGNMENT...`: grades out of the gradebook, for an LMS or a spreadsheet.

* `--canvas GRADEBOOK.csv`: fills each assignment's column of a gradebook exported from Canvas
  (Grades > Export) and writes a file Canvas imports (Grades > Import), in the export's own
  form (delimiter, byte-order mark; always UTF-8). An assignment's column is the one whose
  title, ignoring case and Canvas's " (ID)", is the assignment's name, or the one mapped to it
  (`--column jacobians="Jacobians (123456)"`, or `c.CanvasExport.columns`); a new column (Canvas
  then creates an assignment on import) only with `--add-column`. Students are matched, ignoring
  case, by a Canvas column (`SIS Login ID` by default) against the student's `lms_user_id` in
  nbgrader's gradebook, or its id when that is empty. Every row is kept in its place; students
  unmatched on either side are listed, never dropped silently; nothing matched is an error.
* `--csv OUT`: one row per student, one column per exercise (autograded and manual) of each
  assignment, its late penalty and its total.

Scores are those of nbgrader's gradebook (manual grades included) after late penalties, the
same numbers `autograder report` shows. No network is needed.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from traitlets import Dict, Unicode
from traitlets.config import LoggingConfigurable

from autograder.term import csvfile, report
from autograder.term.csvfile import BadFile

# Canvas's columns that are not assignments: who the student is, and what Canvas computes
STUDENT_COLUMNS = {"Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Root Account", "Section"}
COMPUTED = re.compile(r"\b(Current|Final|Unposted|Override) (Score|Points|Grade|Status)\b")
POINTS_POSSIBLE = "Points Possible"
TEST_STUDENT = {"Test Student", "Student, Test"}      # Canvas's Student View: kept, never matched
DEFAULT_KEY = "SIS Login ID"
SHOWN = 6                                             # names quoted in a message, at most


class CanvasExport(LoggingConfigurable):
    """Settings of `autograder export --canvas` (the command line's flags win)."""

    match = Unicode(DEFAULT_KEY, help="The Canvas column holding the student's lms_user_id "
                                      "(or nbgrader id).").tag(config=True)
    columns = Dict(value_trait=Unicode(), help="nbgrader assignment -> its Canvas column: the "
                   "header ('Jacobians (123456)'), its title or its id.").tag(config=True)


@dataclass
class Unmatched:
    lms_only: list[str] = field(default_factory=list)        # rows of the LMS file, no gradebook student
    gradebook_only: list[str] = field(default_factory=list)  # gradebook students not in the LMS file
    not_submitted: dict[str, list[str]] = field(default_factory=dict)   # assignment -> students
    filled: list[str] = field(default_factory=list)          # which column got which assignment

    def lines(self) -> list[str]:
        out = list(self.filled)
        if self.lms_only:
            out.append(f"in the LMS file but not in the gradebook (left as they were): "
                       f"{', '.join(self.lms_only)}")
        if self.gradebook_only:
            out.append(f"in the gradebook but not in the LMS file (not exported): "
                       f"{', '.join(self.gradebook_only)}")
        for asg, who in self.not_submitted.items():
            if who:
                out.append(f"{asg}: no submission (cell left as it was): {', '.join(who)}")
        return out


def lms_keys(course) -> dict[str, str]:
    """nbgrader student id -> the key the LMS knows the student by (lms_user_id, else the id)."""
    from nbgrader.api import Gradebook
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.id: s.lms_user_id or s.id for s in gb.students}


def write_csv(course, assignments: list[str], out: str) -> Unmatched:
    csvfile.check_writable(out)
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




def _title(header: str) -> str:
    """'Jacobians (123456)' -> 'jacobians': the title without Canvas's id, case or spacing."""
    return re.sub(r"[\s_]+", " ", re.sub(r"\s*\(\d+\)\s*$", "", header)).strip().casefold()


def _assignment_columns(header: list[str]) -> list[int]:
    return [i for i, name in enumerate(header)
            if name.strip() and name.strip() not in STUDENT_COLUMNS and not COMPUTED.search(name)]


def find_column(header: list[str], assignment: str, wanted: str | None, where: str) -> int | None:
    """The column for assignment: the one mapped to it (wanted: a header, a title or an id),
    else the one titled like it; None when there is none."""
    candidates = _assignment_columns(header)
    if wanted is not None:
        hits = [i for i in candidates if header[i].strip() == wanted.strip()] or \
               [i for i in candidates if _title(header[i]) == _title(wanted)] or \
               [i for i in candidates if re.search(rf"\({re.escape(wanted.strip())}\)\s*$", header[i])]
        if not hits:
            raise BadFile(f"{where}: no column '{wanted}' for {assignment} (assignment columns: "
                          f"{_quoted(header[i] for i in candidates)})")
    else:
        hits = [i for i in candidates if _title(header[i]) == _title(assignment)]
    if len(hits) > 1:
        raise BadFile(f"{where}: {len(hits)} columns could be {assignment}'s "
                      f"({_quoted(header[i] for i in hits)}): choose one with "
                      f"--column {assignment}=\"{header[hits[0]]}\"")
    return hits[0] if hits else None


def _quoted(names) -> str:
    names = [f"'{n}'" for n in names]
    return ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "") \
        if names else "none"


def _number(value: float, decimal_comma: bool) -> str:
    text = f"{round(value, 2):g}"
    return text.replace(".", ",") if decimal_comma else text


def _worth_note(assignment: str, column: str, cell: str, max_score: float, *, where: str) -> str | None:
    """What to say when Canvas's Points Possible for the column is not the gradebook's (Canvas
    keeps its own; the import only sets it for a new column)."""
    if "read only" in cell:
        raise BadFile(f"{where}: the column '{column}' is read-only in Canvas")
    try:
        worth = float(cell.strip().replace(",", "."))
    except ValueError:
        return None
    if abs(worth - max_score) < 1e-9:
        return None
    return (f"{assignment}: Canvas's '{column}' is worth {cell.strip()} points, the gradebook's "
            f"{max_score:g}: the scores filled in are out of {max_score:g}")


def fill_canvas(course, assignments: list[str], canvas_csv: str, out: str, *, key: str = DEFAULT_KEY,
                columns: dict[str, str] | None = None, add_columns: bool = False) -> Unmatched:
    """Read a Canvas gradebook export, write it back with the assignments' totals filled in."""
    columns = columns or {}
    table = csvfile.read(canvas_csv)
    csvfile.check_writable(out)
    rows = table.rows
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise BadFile(f"{canvas_csv} is empty: export the gradebook from Canvas (Grades > Export)")
    header = [cell.strip() for cell in rows[0]]
    if key not in header:
        raise BadFile(f"{canvas_csv}: no '{key}' column in the header (it has "
                      f"{_quoted(header)}); is this a Canvas gradebook export? "
                      f"(choose the column with --match)")
    key_at = header.index(key)
    width = len(header)
    for r in rows:
        r.extend([""] * (width - len(r)))
    points = next((r for r in rows[1:] if r[0].strip().startswith(POINTS_POSSIBLE)), None)
    students = [r for r in rows[1:] if r[0].strip() and r is not points]
    if not students:
        raise BadFile(f"{canvas_csv} has no student rows, only its header: export the gradebook "
                      f"from Canvas with its students")
    decimal_comma = table.delimiter == ";" and points is not None and \
        any(re.fullmatch(r"\d+,\d+", c.strip()) for c in points)

    by_key: dict[str, str] = {}
    for sid, lms in sorted(lms_keys(course).items()):
        other = by_key.setdefault(lms.strip().casefold(), sid)
        if other != sid:
            raise BadFile(f"students {other} and {sid} of the gradebook are both '{lms}' in Canvas "
                          f"(lms_user_id, ignoring case): give each their own")
    unmatched = Unmatched()
    row_student = {id(r): by_key.get(r[key_at].strip().casefold()) for r in students}
    if not any(row_student.values()):
        raise BadFile(f"no student of {canvas_csv} matched the gradebook by '{key}' (Canvas has e.g. "
                      f"{_quoted(r[key_at] for r in students[:3])}, the gradebook "
                      f"{_quoted(list(by_key)[:3])}): choose the column with --match, or set the "
                      f"students' lms_user_id (nbgrader db student add ID --lms-user-id LOGIN)")
    unmatched.lms_only = sorted(f"{r[0]} ({key} {r[key_at].strip() or 'empty'})" for r in students
                                if row_student[id(r)] is None and r[0].strip() not in TEST_STUDENT)
    seen = {r[key_at].strip().casefold() for r in students}
    unmatched.gradebook_only = sorted(s for k, s in by_key.items() if k not in seen)

    used: dict[int, str] = {}
    for asg in assignments:
        data = report.collect(course, asg)
        col = find_column(header, asg, columns.get(asg), canvas_csv)
        if col is None and not add_columns:
            raise BadFile(f"{canvas_csv}: no column for {asg} (assignment columns: "
                          f"{_quoted(header[i] for i in _assignment_columns(header))}): map it with "
                          f"--column {asg}=\"TITLE (ID)\", or pass --add-column to have Canvas "
                          f"create an assignment '{asg}' on import")
        if col is None:
            header.append(asg)
            col = len(header) - 1
            for r in rows:
                r.append("")
            rows[0][col] = asg
            if points is not None:
                points[col] = _number(data.max_score, decimal_comma)
        if col in used:
            raise BadFile(f"{canvas_csv}: {used[col]} and {asg} both go to the column '{header[col]}'")
        used[col] = asg
        worth_note = _worth_note(asg, header[col], points[col], data.max_score, where=canvas_csv) \
            if col < width and points is not None else None
        filled = 0
        for r in students:
            sid = row_student[id(r)]
            if sid is None:
                continue
            if sid in data.totals:
                r[col] = _number(data.totals[sid], decimal_comma)
                filled += 1
            else:
                unmatched.not_submitted.setdefault(asg, []).append(sid)
        new = " (a new column: Canvas creates the assignment on import)" if col >= width else ""
        unmatched.filled.append(f"{asg}: filled the column '{header[col]}' for {filled} students{new}")
        if worth_note:
            unmatched.filled.append(worth_note)
    csvfile.write(out, table)
    return unmatched
