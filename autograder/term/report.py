"""`autograder report ASSIGNMENT`: what an instructor reads before the next lecture.

Reads the gradebook (scores, as nbgrader and the formgrader see them, manual grades included),
the writer's sidecars under `.autograder/graded/<assignment>/` (diagnoses, feedback, problems)
and the autograded notebooks (the students' code), and writes into
`.autograder/reports/<assignment>/` (instructor-only, never committed):

* `report.html` -- self-contained: each exercise's share of full / partial / wrong / blank
  answers in course order (one stacked chart), the score distribution, the exercises table,
  the most common diagnoses among attempted answers with one anonymised example each, answers
  worth a second look (groups with nearly the same code, similarity.py), one row per student
  linking to their feedback with their late penalty and why and their score at each grading,
  and problems (tampering, crashes, failures, unreadable timestamps);
* `scores.csv` -- one row per student: total, late penalty, every graded cell;
* `diagnoses.csv` -- one row per (exercise, diagnosis): how many students, who.

Every answer falls in one category: `blank` (the released stub left as it was, or the notebook
not submitted), `awaiting` (a human has yet to grade it), else `full`, `partial` or `wrong` by
its score.
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

from autograder.course.directory import private_path
from autograder.term import answers, similarity
from autograder.intake import cells
from autograder.judge import diagnoses as diagnosis_codes
from autograder.gradebook.writer import NO_RESPONSE

CATEGORIES = ("full", "partial", "wrong", "blank")
CATEGORY_COLOURS = {"full": "#3a8a4f", "partial": "#e0a526", "wrong": "#c0392b", "blank": "#b8b8b8"}
AWAITING = "awaiting"
EXAMPLES = 8                      # most common diagnoses shown with an example answer


@dataclass
class ExerciseStats:
    grade_id: str
    notebook: str
    max_score: float
    manual: bool = False
    scores: list[float] = field(default_factory=list)
    categories: dict[str, str] = field(default_factory=dict)       # student -> category

    @property
    def name(self) -> str:
        """The exercise (the solution cell's grade_id) this test cell grades."""
        return self.grade_id[len(cells.TEST_PREFIX):] if self.grade_id.startswith(cells.TEST_PREFIX) \
            else self.grade_id

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    def count(self, category: str) -> int:
        return sum(1 for c in self.categories.values() if c == category)


@dataclass
class Example:
    exercise: str
    labels: list[str]          # the diagnoses this one answer shows
    code: str
    feedback: str


@dataclass
class ReportData:
    assignment: str
    max_score: float = 0.0
    totals: dict[str, float] = field(default_factory=dict)          # student -> score after penalty
    penalties: dict[str, float] = field(default_factory=dict)
    cells: dict[str, dict[str, float | None]] = field(default_factory=dict)   # student -> gid -> score
    notebook_scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> nb -> score
    exercises: dict[str, ExerciseStats] = field(default_factory=dict)  # in course order
    diagnoses: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    feedback: dict[tuple[str, str], dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    problems: list[tuple[str, str, str]] = field(default_factory=list)          # student, nb, text
    lateness: dict[str, str] = field(default_factory=dict)        # student -> deduction and why
    history: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # student -> (when, score)
    needs_manual: int = 0

    @property
    def notebooks(self) -> list[str]:
        return list(dict.fromkeys(ex.notebook for ex in self.exercises.values()))


def course_order(course, assignment: str, notebooks: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(notebook, grade_id) in the order the course teaches them: notebooks in the order the
    course's declarations list their exercises (those without one after, by name), and cells
    in the order of the instructor's notebook."""
    from autograder.course.declarations import assignment_exercises

    taught = list(dict.fromkeys(ex.notebook for ex in assignment_exercises(course.root, assignment).values()))
    nb_rank = {nb: (taught.index(nb) if nb in taught else len(taught), nb) for nb in notebooks}
    ordered = []
    for nb in sorted(notebooks, key=nb_rank.__getitem__):
        try:
            with open(os.path.join(course.source(assignment), nb + ".ipynb"), encoding="utf-8") as fh:
                in_source = [cells.grade_id(c) for c in json.load(fh).get("cells", [])]
        except (OSError, ValueError):
            in_source = []
        rank = {gid: i for i, gid in enumerate(in_source)}
        ordered += [(nb, gid) for gid in sorted(notebooks[nb], key=lambda g: (rank.get(g, len(rank)), g))]
    return ordered


def _category(score: float | None, max_score: float, *, blank: bool, awaiting: bool) -> str:
    if blank:
        return "blank"
    if awaiting or score is None:
        return AWAITING
    if score >= max_score - 1e-9:
        return "full"
    return "partial" if score > 0 else "wrong"


def collect(course, assignment: str) -> ReportData:
    from nbgrader.api import Gradebook, MissingEntry

    data = ReportData(assignment)
    sidecars = _read_sidecars(course, assignment)
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            asg = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"No assignment '{assignment}' in the gradebook {course.db_url}")
        data.max_score = float(asg.max_score)
        found = {}
        for nb in asg.notebooks:
            for cell in nb.grade_cells:
                found[cell.name] = ExerciseStats(cell.name, nb.name, float(cell.max_score),
                                                 manual=cell.cell_type == "markdown")
        by_nb = defaultdict(list)
        for ex in found.values():
            by_nb[ex.notebook].append(ex.grade_id)
        data.exercises = {gid: found[gid] for _, gid in course_order(course, assignment, by_nb)}
        for sub in gb.assignment_submissions(assignment):
            sid = sub.student.id
            if sub.timestamp is None and not any(g.auto_score is not None or g.manual_score is not None
                                                 for nb in sub.notebooks for g in nb.grades):
                continue      # a record made for an extension: nothing handed in or graded yet
            side_nbs = (sidecars.get(sid) or {}).get("notebooks", {})
            penalty = float(sub.late_submission_penalty or 0.0)
            data.totals[sid] = float(sub.score) - penalty
            data.penalties[sid] = penalty
            row = data.cells.setdefault(sid, {})
            for nb in sub.notebooks:
                data.notebook_scores.setdefault(sid, {})[nb.name] = float(nb.score)
                untouched = {c.name for c in nb.comments if c.auto_comment == NO_RESPONSE}
                missing = side_nbs.get(nb.name, {}).get("status") == "missing"
                for g in nb.grades:
                    awaiting = g.needs_manual_grade and g.manual_score is None
                    if g.needs_manual_grade:
                        data.needs_manual += 1
                    graded = g.auto_score is not None or g.manual_score is not None
                    row[g.name] = float(g.score) if graded else None
                    ex = data.exercises.get(g.name)
                    if ex is None:
                        continue
                    ex.categories[sid] = _category(row[g.name], ex.max_score, awaiting=awaiting,
                                                   blank=missing or ex.name in untouched)
                    if ex.categories[sid] != AWAITING:
                        ex.scores.append(row[g.name])

    for sid, side in sidecars.items():
        if side.get("timestamp_problem"):
            data.problems.append((sid, "timestamp.txt", side["timestamp_problem"]))
        if side.get("lateness"):
            data.lateness[sid] = side["lateness"]
        data.history[sid] = [(h["graded_at"], h["score"]) for h in side.get("history", [])]
        for nb_name, nb in side.get("notebooks", {}).items():
            for problem in nb.get("problems", []):
                data.problems.append((sid, nb_name, problem))
            if nb.get("status") == "failed":
                data.problems.append((sid, nb_name, "grading FAILED; flagged for manual grading"))
            for gid, cell in nb.get("cells", {}).items():
                ex = data.exercises.get(gid)
                if ex is not None and ex.categories.get(sid) == "blank":
                    continue          # not answered: not a mistake to re-explain
                for code in set(cell.get("diagnoses") or []):
                    if diagnosis_codes.founded(code):
                        data.diagnoses[(gid, code)].add(sid)
                        data.feedback[(gid, code)][sid] = cell.get("message") or ""
        for nb_name in side.get("unknown_notebooks", []):
            data.problems.append((sid, nb_name, "extra notebook, not part of the assignment: ignored"))
    return data


def _read_sidecars(course, assignment: str) -> dict[str, dict]:
    out = {}
    folder = os.path.dirname(course.sidecar(assignment, "x"))
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                side = json.load(fh)
        except (OSError, ValueError):
            continue
        out[side.get("student", os.path.splitext(os.path.basename(path))[0])] = side
    return out


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _plot_distribution(data: ReportData) -> str:
    from matplotlib.ticker import MaxNLocator
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    totals = list(data.totals.values())
    top = max(data.max_score, 1.0)
    ax.hist(totals, bins=[i * top / 20 for i in range(21)], color="#3b6ea5", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"score (out of {data.max_score:g}, after late penalties)")
    ax.set_ylabel("students")
    ax.set_title(f"{data.assignment}: score distribution ({len(totals)} students)")
    return _png(fig)


def _plot_categories(data: ReportData) -> str:
    """One horizontal bar per exercise, in course order from the top: the share of students
    in each category."""
    plt = _pyplot()
    exs = list(data.exercises.values())
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(exs)), dpi=100)
    names = [ex.name for ex in exs]
    left = [0.0] * len(exs)
    for cat in (*CATEGORIES, AWAITING):
        share = [100 * ex.count(cat) / max(len(ex.categories), 1) for ex in exs]
        if not any(share):
            continue
        ax.barh(names, share, left=left, color=CATEGORY_COLOURS.get(cat, "#6c8ebf"),
                label="awaiting manual grading" if cat == AWAITING else cat)
        left = [a + b for a, b in zip(left, share)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students")
    ax.set_title(f"{data.assignment}: answers per exercise, in course order")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _png(fig)


@dataclass
class Diagnosis:
    grade_id: str
    exercise: str
    code: str
    students: list[str]

    @property
    def label(self) -> str:
        return diagnosis_codes.label(self.code)


def common_diagnoses(data: ReportData) -> list[Diagnosis]:
    """The diagnoses of attempted answers, most common first, ties in course order."""
    order = {gid: i for i, gid in enumerate(data.exercises)}
    rows = [Diagnosis(gid, data.exercises[gid].name if gid in data.exercises else gid, code, sorted(st))
            for (gid, code), st in data.diagnoses.items()]
    return sorted(rows, key=lambda d: (-len(d.students), order.get(d.grade_id, len(order)), d.code))


def examples(course, data: ReportData, limit: int = EXAMPLES) -> list[Example]:
    """One anonymised answer (the function's code, trimmed, and its feedback) for each of the
    most common diagnoses; an answer showing several of them is shown once, with all of them."""
    out: list[Example] = []
    shown: dict[tuple[str, str], Example] = {}        # (grade_id, student) -> its example
    for diag in common_diagnoses(data)[:limit]:
        ex = data.exercises.get(diag.grade_id)
        if ex is None:
            continue
        again = [shown[(diag.grade_id, sid)] for sid in diag.students if (diag.grade_id, sid) in shown]
        if again:
            again[0].labels.append(diag.label)
            continue
        for sid in diag.students:
            src = answers.cell_source(
                os.path.join(course.autograded(sid, data.assignment), ex.notebook + ".ipynb"), ex.name)
            if src is not None:
                feedback = answers.trim(data.feedback[(diag.grade_id, diag.code)].get(sid, "")
                                        ).replace(sid, "student")
                shown[(diag.grade_id, sid)] = Example(
                    ex.name, [diag.label], answers.function_excerpt(src, ex.name, student=sid), feedback)
                out.append(shown[(diag.grade_id, sid)])
                break
    return out


def _feedback_links(course, data: ReportData, sid: str, out_dir: str) -> str:
    e = html.escape
    folder = course.path(course.coursedir.feedback_directory, sid, data.assignment)
    links = []
    for nb in data.notebooks:
        score = data.notebook_scores.get(sid, {}).get(nb)
        text = f"{nb} {score:g}" if score is not None else nb
        path = os.path.join(folder, nb + ".html")
        if os.path.exists(path):
            links.append(f"<a href='{e(os.path.relpath(path, out_dir))}'>{e(text)}</a>")
        else:
            links.append(e(text))
    return " · ".join(links)


def _history(entries: list[tuple[float, float]]) -> str:
    """'5 (graded 2026-12-01 14:02 UTC) -> 6.5 (regraded 2026-12-02 09:10 UTC)'; only the
    gradings that changed the score."""
    shown, last = [], None
    for when, score in entries:
        if score != last:
            verb = "graded" if last is None else "regraded"
            shown.append(f"{score:g} ({verb} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(when))} UTC)")
            last = score
    return " → ".join(shown)


def _marked(code: str, lines: set[int]) -> str:
    """The code, numbered, with the given lines highlighted."""
    out = []
    for i, line in enumerate(code.splitlines(), 1):
        text = f"{i:3d}  {html.escape(line)}"
        out.append(f"<mark>{text}</mark>" if i in lines else text)
    return "\n".join(out)


def _names(students) -> str:
    """'ann and bob', 'ann, bob and cat'."""
    return ", ".join(students[:-1]) + " and " + students[-1]


def _similar_section(course, data: ReportData) -> list[str]:
    e = html.escape
    groups = similarity.similar_groups(course, data.assignment, sorted(data.totals))
    parts = ["<h2>Answers worth a second look</h2>",
             "<p class='note'>Students whose answers are nearly the same once names, numbers, "
             "comments and layout are set aside (code the course wrote, answers too short to "
             "tell, and code more of the class wrote alike than a group would are not counted); "
             "each says how much uncommon code they share. Similar code has innocent "
             "explanations too; this is something to look at, not a finding.</p>"]
    if not groups:
        return parts + ["<p>No group of nearly identical answers.</p>"]
    for group in groups:
        for m in group.matches:
            amount = f"{m.tokens} tokens on {m.shared_lines} lines of uncommon code"
            strength = (f"{amount} in common ({100 * m.share:.0f}% of the shorter answer's)"
                        if len(m.students) == 2 else f"each shares at least {amount} with another of them")
            parts.append(f"<h4>{e(_names(m.students))}: {e(m.exercise)} ({e(m.notebook)}), {strength}</h4>"
                         f"<table class='side'><tr>{''.join(f'<th>{e(s)}</th>' for s in m.students)}</tr><tr>"
                         + "".join(f"<td><pre>{_marked(m.code[s], m.lines[s])}</pre></td>" for s in m.students)
                         + "</tr></table>")
    return parts


def render_html(course, data: ReportData, out_dir: str) -> str:
    e = html.escape
    totals = sorted(data.totals.values())
    n = len(totals)
    mean = sum(totals) / n if n else 0.0
    median = (totals[n // 2] if n % 2 else (totals[n // 2 - 1] + totals[n // 2]) / 2) if n else 0.0
    page = os.path.join(out_dir, "report.html")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{e(data.assignment)}: grading report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:64em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}.bad{color:#a00}"
        "pre{background:#f7f7f7;padding:.5em;overflow-x:auto;margin:.2em 0}"
        ".note{color:#555;font-size:.9em}mark{background:#fff1a8}table.side{width:100%;table-layout:fixed}</style></head><body>",
        f"<h1>{e(data.assignment)}: grading report</h1>",
        f"<p>{n} students graded; mean {mean:.2f}, median {median:.2f} of {data.max_score:g} points. "
        f"{data.needs_manual} cells await manual grading. Generated {e(time.strftime('%Y-%m-%d %H:%M %Z'))}.</p>",
        f"<p class='note'>This report: <code>{e(page)}</code> (with <code>scores.csv</code> and "
        f"<code>diagnoses.csv</code> beside it).</p>",
        "<h2>Answers per exercise</h2>",
        f"<img alt='answers per exercise: full, partial, wrong, blank' src='data:image/png;base64,{_plot_categories(data)}'>",
        "<h2>Exercises</h2><table><tr><th>exercise</th><th>notebook</th><th>points</th>"
        "<th>mean</th>" + "".join(f"<th>{c}</th>" for c in CATEGORIES) + "</tr>",
    ]
    for ex in data.exercises.values():
        waiting = ex.count(AWAITING)
        counts = "".join(f"<td class='n'>{ex.count(c)}</td>" for c in CATEGORIES)
        if waiting:
            state = (f"<td colspan='{1 + len(CATEGORIES)}'>awaiting manual grading "
                     f"({waiting} of {len(ex.categories)})</td>")
        else:
            state = f"<td class='n'>{ex.mean:.2f}</td>{counts}"
        parts.append(f"<tr><td>{e(ex.name)}</td><td>{e(ex.notebook)}</td>"
                     f"<td class='n'>{ex.max_score:g}</td>{state}</tr>")
    parts.append("</table><p class='note'>blank: the released stub left as it was, or the notebook "
                 "not submitted.</p>")
    parts += ["<h2>Score distribution</h2>",
              f"<img alt='score distribution' src='data:image/png;base64,{_plot_distribution(data)}'>",
              "<h2>Most common diagnoses (attempted answers)</h2>"]
    diag = common_diagnoses(data)
    if diag:
        parts.append("<table><tr><th>exercise</th><th>diagnosis</th><th>students</th><th>who</th></tr>")
        for d in diag:
            who = d.students
            parts.append(f"<tr><td>{e(d.exercise)}</td><td>{e(d.label)}</td><td class='n'>{len(who)}</td>"
                         f"<td>{e(', '.join(who[:12]) + (' …' if len(who) > 12 else ''))}</td></tr>")
        parts.append("</table>")
        parts.append("<h3>What these mistakes look like</h3>")
        for ex in examples(course, data):
            parts.append(f"<h4>{e(ex.exercise)}: {e('; '.join(ex.labels))}</h4><p class='note'>one student's "
                         f"answer:</p><pre>{e(ex.code)}</pre><p class='note'>and the feedback it got:"
                         f"</p><pre>{e(ex.feedback or '(no message)')}</pre>")
    else:
        parts.append("<p>No mistakes diagnosed.</p>")
    parts += _similar_section(course, data)
    parts.append("<h2>Students</h2><table><tr><th>student</th><th>total</th><th>late penalty</th>"
                 "<th>feedback</th><th>score history</th></tr>")
    for sid in sorted(data.totals):
        late = f"{data.penalties[sid]:g}" + (f"<br><span class='note'>{e(data.lateness[sid])}</span>"
                                             if sid in data.lateness else "")
        parts.append(f"<tr><td>{e(sid)}</td><td class='n'>{data.totals[sid]:g}</td><td>{late}</td>"
                     f"<td>{_feedback_links(course, data, sid, out_dir)}</td>"
                     f"<td>{e(_history(data.history.get(sid, [])))}</td></tr>")
    parts.append("</table><p class='note'>Notebook names link to the feedback files once "
                 f"<code>nbgrader generate_feedback {e(data.assignment)}</code> has run.</p>")
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
        for d in common_diagnoses(data):
            w.writerow([d.exercise, d.label, len(d.students), " ".join(d.students)])
    return [scores, diags]


def write_report(course, assignment: str, out_dir: str | None = None) -> list[str]:
    out_dir = os.path.abspath(out_dir or private_path(course.root, "reports", assignment))
    os.makedirs(out_dir, exist_ok=True)
    data = collect(course, assignment)
    page = os.path.join(out_dir, "report.html")
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(render_html(course, data, out_dir))
    return [page, *write_csv(data, out_dir)]
