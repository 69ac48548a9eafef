"""`make demo`: grade a small sample class end to end, for every assignment of the course,
and show what an instructor sees.

    python -m autograder.dev.demo [--dest demo-course] [--grader fast|stock] [ASSIGNMENT ...]

For each assignment with a sample class (``DEMO_CLASS`` in its catalogue of typical mistakes,
see ``samples``):

1. builds a throw-away course in ./demo-course from this repository (config, declarations,
   source/), gives the assignment its due date (samples.DUE_DATE) and runs
   `nbgrader generate_assignment` in it;
2. writes the class's submissions: typically one perfect student, a few with typical
   mistakes, one who handed in the blank release, a pair who handed in the same answer with
   the names changed, and one who handed in late;
3. grades them: `autograder grade` (the fast path), or stock `nbgrader autograde`;
4. runs `nbgrader generate_feedback` and `autograder report`, and prints the score table and
   the paths of the feedback files and of the report.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from autograder.intake import notebook_text
from autograder.dev import samples, scaffold


def _describe(spec) -> str:
    return spec if isinstance(spec, str) else ", ".join(spec)


def _grade(course: Path, assignment: str, grader: str) -> str:
    env = scaffold.course_env(course)
    if grader == "fast":
        subprocess.run([sys.executable, "-m", "autograder", "grade", assignment], cwd=course, env=env,
                       stdin=subprocess.DEVNULL, check=True)
        return "autograder grade"
    scaffold.nbgrader("autograde", assignment, "--force", cwd=course, env=env)
    return "nbgrader autograde"


def _table(course: Path, assignment: str, roster: dict) -> str:
    source = course / "source" / assignment
    scores = scaffold.gradebook_scores(course, assignment)
    points = notebook_text.test_points(source)
    notebooks = notebook_text.notebook_names(source)
    per_nb = {nb: sum(points.get(f"test_{name}", 0.0) for name, where in notebook_text.solution_notebooks(source).items()
                      if where == nb) for nb in notebooks}
    headers = ["student"] + [f"{nb} /{per_nb[nb]:g}" for nb in notebooks] + [f"total /{sum(per_nb.values()):g}"]
    rows = []
    for student in roster:
        got = scores.get(student, {})
        rows.append([student] + [f"{got.get(nb, float('nan')):.2f}" for nb in notebooks]
                    + [f"{sum(got.get(nb, 0.0) for nb in notebooks):.2f}"])
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)  # noqa: E731
                               for i, (v, w) in enumerate(zip(r, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def demo_assignment(course: Path, assignment: str, grader: str) -> str:
    """Release, hand in, grade, return feedback and report for one assignment; the report's path."""
    catalogue = samples.catalogue(str(course), assignment)
    roster = catalogue.demo_class
    print(f"\n== {assignment} ==")
    print("[1/4] releasing")
    scaffold.nbgrader("db", "assignment", "add", assignment,
                      f"--duedate={samples.DUE_DATE:%Y-%m-%d %H:%M:%S} UTC", cwd=course)
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)

    print(f"[2/4] writing {len(roster)} submissions to {course / 'submitted'}")
    samples.write_class(course, roster, assignment=assignment, late=catalogue.demo_late)
    for student, spec in roster.items():
        late = catalogue.demo_late.get(student)
        print(f"      {student:<6} {_describe(spec)}" + (f" (handed in {late} after the due date)" if late else ""))

    print("[3/4] grading")
    started = time.monotonic()
    how = _grade(course, assignment, grader)
    notebooks = notebook_text.notebook_names(course / "source" / assignment)
    print(f"      {how}: {time.monotonic() - started:.1f} s for {len(roster) * len(notebooks)} notebooks")

    print("[4/4] nbgrader generate_feedback, autograder report")
    scaffold.nbgrader("generate_feedback", assignment, "--force", cwd=course)
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", assignment], cwd=course,
                          env=scaffold.course_env(course), stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"autograder report failed:\n{proc.stderr[-3000:]}")
    print()
    print("Autograded scores (written explanations are graded by hand in the Formgrader):")
    print(_table(course, assignment, roster))
    print("Feedback for students, e.g.:")
    for student in list(roster)[:2]:
        for path in sorted((course / "feedback" / student / assignment).glob("*.html")):
            print(f"  {path}")
    return proc.stdout.split()[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Grade a small sample class end to end.")
    parser.add_argument("--dest", default=str(scaffold.REPO_ROOT / "demo-course"),
                        help="where to build the throw-away course (default: ./demo-course)")
    parser.add_argument("--grader", choices=["fast", "stock"], default="fast")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help="default: every assignment with a sample class")
    args = parser.parse_args(argv)

    t0 = time.monotonic()
    course = Path(args.dest).resolve()
    if course.exists():
        shutil.rmtree(course)
    print(f"Building the course in {course}")
    scaffold.make_course(course, release=False)
    assignments = args.assignments or [p.name for p in sorted((course / "source").iterdir())
                                       if samples.catalogue(str(course), p.name).demo_class]
    reports = {a: demo_assignment(course, a, args.grader) for a in assignments}
    print()
    print("The instructor's reports (common mistakes, late work, answers worth a second look):")
    for assignment, page in reports.items():
        print(f"  {assignment}: {page}")
    print()
    print(f"Done in {time.monotonic() - t0:.0f} s. Open a feedback file in a browser; the course "
          f"in {course.name}/ is an ordinary nbgrader course (README: 'For instructors').")
    return 0


if __name__ == "__main__":
    sys.exit(main())
