"""`autograder report ASSIGNMENT`: what an instructor reads before the next lecture.

Reads the gradebook (scores, as nbgrader and the formgrader see them, manual grades included)
and the writer's sidecars under `.autograder/graded/<assignment>/` (diagnoses, problems), and
writes into `.autograder/reports/<assignment>/` (instructor-only, never committed):

* `report.html` -- self-contained: score distribution plot (PNG, base64), per-exercise mean
  and pass rate, the most common diagnoses, problems (tampering, kernel deaths, failures);
* `scores.csv` -- one row per student: total, late penalty, every graded cell;
* `diagnoses.csv` -- one row per (exercise, diagnosis): how many students, who.
"""
from __future__ import annotations

import base64
import csv
import glob
import html
import io
import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

# Words for the diagnosis codes of compare.py; unknown codes are shown as they are.
LABELS = {
    "transpose": "transposed Jacobian",
    "wrong_shape": "wrong shape",
    "sign": "sign error",
    "scaled": "off by a constant factor",
    "rows_cols": "some rows/columns wrong",
    "row_sum": "rows summed (a gradient, not a Jacobian)",
    "gradient": "returned a gradient instead of the Jacobian",
    "nan_inf": "NaN or Inf in the answer",
    "none": "returned None",
    "exception": "raised an exception",
    "not_numeric": "returned something that is not numeric",
    "too_large": "returned more numbers than the grader reads",
    "autograd_used": "used autograd in a by-hand exercise",
    "wrong_value": "wrong values",
    "blank": "left blank",
    "not_run": "not run (the notebook's process died)",
    "timeout": "timed out",
    "row_scaled": "rows scaled wrongly (e.g. a missing activation derivative)",
    "diagonal": "returned only the diagonal, not the matrix",
    "not_int": "shape not given as two ints",
    "out_of_range": "fraction outside [0, 1]",
    "complement": "counted the complement (1 - fraction)",
    "not_dead": "neurons not all dead at the returned x",
    "internal_error": "grader could not compare (internal error)",
}
NOT_A_MISTAKE = {"ok", "pass", "passed"}


@dataclass
class ExerciseStats:
    grade_id: str
    notebook: str
    max_score: float
    scores: list[float] = field(default_factory=list)
    manual: bool = False

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    @property
    def pass_rate(self) -> float:
        if not self.scores:
            return 0.0
        return sum(1 for s in self.scores if s >= self.max_score - 1e-9) / len(self.scores)


@dataclass
class ReportData:
    assignment: str
    max_score: float = 0.0
    totals: dict[str, float] = field(default_factory=dict)          # student -> score after penalty
    penalties: dict[str, float] = field(default_factory=dict)
    cells: dict[str, dict[str, float | None]] = field(default_factory=dict)   # student -> gid -> score
    exercises: dict[str, ExerciseStats] = field(default_factory=dict)
    diagnoses: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    problems: list[tuple[str, str, str]] = field(default_factory=list)          # student, nb, text
    needs_manual: int = 0


def collect(course, assignment: str) -> ReportData:
    from nbgrader.api import Gradebook, MissingEntry

    data = ReportData(assignment)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            asg = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"No assignment '{assignment}' in the gradebook {course.db_url}")
        data.max_score = float(asg.max_score)
        for nb in asg.notebooks:
            for cell in nb.grade_cells:
                data.exercises[cell.name] = ExerciseStats(cell.name, nb.name, float(cell.max_score),
                                                          manual=cell.cell_type == "markdown")
        for sub in gb.assignment_submissions(assignment):
            sid = sub.student.id
            penalty = float(sub.late_submission_penalty or 0.0)
            data.totals[sid] = float(sub.score) - penalty
            data.penalties[sid] = penalty
            row = data.cells.setdefault(sid, {})
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.needs_manual_grade:
                        data.needs_manual += 1
                    row[g.name] = float(g.score) if (g.auto_score is not None or g.manual_score is not None) else None
                    if row[g.name] is not None and g.name in data.exercises:
                        data.exercises[g.name].scores.append(row[g.name])

    for path in sorted(glob.glob(os.path.join(glob.escape(os.path.dirname(course.sidecar(assignment, "x"))), "*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                side = json.load(fh)
        except (OSError, ValueError):
            continue
        sid = side.get("student", os.path.splitext(os.path.basename(path))[0])
        for nb_name, nb in side.get("notebooks", {}).items():
            for problem in nb.get("problems", []):
                data.problems.append((sid, nb_name, problem))
            if nb.get("status") == "failed":
                data.problems.append((sid, nb_name, "grading FAILED; flagged for manual grading"))
            for gid, cell in nb.get("cells", {}).items():
                for code in set(cell.get("diagnoses") or []):
                    if code not in NOT_A_MISTAKE:
                        data.diagnoses[(gid, code)].add(sid)
        for nb_name in side.get("unknown_notebooks", []):
            data.problems.append((sid, nb_name, "extra notebook, not part of the assignment: ignored"))
    return data


def _plot(data: ReportData) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    totals = list(data.totals.values())
    top = max(data.max_score, 1.0)
    bins = [i * top / 20 for i in range(21)]
    ax.hist(totals, bins=bins, color="#3b6ea5", edgecolor="white")
    ax.set_xlabel(f"score (out of {data.max_score:g}, after late penalties)")
    ax.set_ylabel("students")
    ax.set_title(f"{data.assignment}: score distribution ({len(totals)} students)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _exercise_name(gid: str) -> str:
    return gid[len("test_"):] if gid.startswith("test_") else gid


def common_diagnoses(data: ReportData) -> list[tuple[str, str, int, list[str]]]:
    """(exercise, label, number of students, students), most common first."""
    rows = [(_exercise_name(gid), LABELS.get(code, code), len(st), sorted(st))
            for (gid, code), st in data.diagnoses.items()]
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))


def render_html(data: ReportData) -> str:
    e = html.escape
    totals = sorted(data.totals.values())
    n = len(totals)
    mean = sum(totals) / n if n else 0.0
    median = (totals[n // 2] if n % 2 else (totals[n // 2 - 1] + totals[n // 2]) / 2) if n else 0.0
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(data.assignment)}: grading report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:left}th{background:#f3f3f3}td.n{text-align:right}.bad{color:#a00}</style></head><body>",
        f"<h1>{e(data.assignment)}: grading report</h1>",
        f"<p>{n} students graded; mean {mean:.2f}, median {median:.2f} of {data.max_score:g} points. "
        f"{data.needs_manual} cells await manual grading. Generated {e(time.strftime('%Y-%m-%d %H:%M'))}.</p>",
        "<h2>Score distribution</h2>",
        f"<img alt='score distribution' src='data:image/png;base64,{_plot(data)}'>",
        "<h2>Exercises</h2><table><tr><th>exercise</th><th>notebook</th><th>points</th>"
        "<th>mean</th><th>full marks</th><th>graded</th></tr>",
    ]
    for ex in data.exercises.values():
        if ex.manual and not ex.scores:
            rate = "manual grading pending"
            mean_s = "&ndash;"
        else:
            rate = f"{100 * ex.pass_rate:.0f}%"
            mean_s = f"{ex.mean:.2f}"
        parts.append(f"<tr><td>{e(_exercise_name(ex.grade_id))}</td><td>{e(ex.notebook)}</td>"
                     f"<td class='n'>{ex.max_score:g}</td><td class='n'>{mean_s}</td>"
                     f"<td class='n'>{rate}</td><td class='n'>{len(ex.scores)}</td></tr>")
    parts.append("</table><h2>Most common diagnoses</h2>")
    diag = common_diagnoses(data)
    if diag:
        parts.append("<table><tr><th>exercise</th><th>diagnosis</th><th>students</th><th>who</th></tr>")
        for ex, label, count, who in diag:
            parts.append(f"<tr><td>{e(ex)}</td><td>{e(label)}</td><td class='n'>{count}</td>"
                         f"<td>{e(', '.join(who[:12]) + (' …' if len(who) > 12 else ''))}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No mistakes diagnosed.</p>")
    parts.append("<h2>Problems</h2>")
    if data.problems:
        parts.append("<table><tr><th>student</th><th>notebook</th><th>problem</th></tr>")
        for sid, nb, text in sorted(data.problems):
            parts.append(f"<tr><td>{e(sid)}</td><td>{e(nb)}</td><td class='bad'>{e(text)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None: no tampering, crashes or failed notebooks.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_csv(data: ReportData, out_dir: str) -> list[str]:
    gids = list(data.exercises)
    scores = os.path.join(out_dir, "scores.csv")
    with open(scores, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student", "total", "max_score", "late_penalty", *gids])
        for sid in sorted(data.totals):
            row = data.cells.get(sid, {})
            w.writerow([sid, f"{data.totals[sid]:g}", f"{data.max_score:g}", f"{data.penalties[sid]:g}",
                        *["" if row.get(g) is None else f"{row[g]:g}" for g in gids]])
    diags = os.path.join(out_dir, "diagnoses.csv")
    with open(diags, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["exercise", "diagnosis", "students", "who"])
        for ex, label, count, who in common_diagnoses(data):
            w.writerow([ex, label, count, " ".join(who)])
    return [scores, diags]


def write_report(course, assignment: str, out_dir: str | None = None) -> list[str]:
    out_dir = out_dir or os.path.join(course.root, ".autograder", "reports", assignment)
    os.makedirs(out_dir, exist_ok=True)
    data = collect(course, assignment)
    page = os.path.join(out_dir, "report.html")
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(render_html(data))
    return [page, *write_csv(data, out_dir)]
