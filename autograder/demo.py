"""`make demo`: grade a small sample class end to end and show what an instructor sees.

    python -m autograder.demo [--dest demo-course] [--grader auto|fast|stock]

1. builds a throw-away course in ./demo-course from this repository (config + source/),
   gives the assignment its due date (samples.DUE_DATE) and runs
   `nbgrader generate_assignment jacobians` in it;
2. writes submissions for a small class (autograder.samples.DEMO_CLASS): one perfect
   student, a few with typical mistakes, one who handed in the blank release, a pair who
   handed in the same answer with the names changed, and one who handed in late;
3. grades them: `autograder grade jacobians` (the fast path) when it is available, else
   stock `nbgrader autograde jacobians`;
4. runs `nbgrader generate_feedback jacobians` and `autograder report jacobians`, and prints
   the score table and the paths of the feedback files and of the report.
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

from autograder import samples

A = samples.ASSIGNMENT


def _fast_grader_available() -> bool:
    try:
        return importlib.util.find_spec("autograder.cli") is not None
    except ImportError:
        return False


def _describe(spec) -> str:
    if isinstance(spec, str):
        return spec if spec in ("perfect", "blank") else samples.MISTAKES[spec].name
    return ", ".join(spec)


def _grade(course: Path, grader: str) -> str:
    env = samples.course_env(course)
    if grader in ("auto", "fast") and _fast_grader_available():
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", A], cwd=course,
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode == 0:
            return "autograder grade"
        if grader == "fast":
            raise SystemExit(f"autograder grade failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        print("  (autograder grade failed; falling back to stock nbgrader autograde)")
        print("  " + (proc.stderr.strip().splitlines() or ["?"])[-1])
    elif grader == "fast":
        raise SystemExit("autograder grade is not available (autograder/cli.py missing)")
    samples.nbgrader("autograde", A, "--force", cwd=course, env=env)
    return "nbgrader autograde (stock)"


def _table(course: Path, roster: dict) -> str:
    scores = samples.gradebook_scores(course)
    points = samples.test_points(course / "source" / A)
    per_nb = {}
    for nb in samples.NOTEBOOKS:
        from nbformat import read

        cells = read(course / "source" / A / f"{nb}.ipynb", as_version=4).cells
        ids = {samples.nbgrader_meta(c).get("grade_id") for c in cells}
        per_nb[nb] = sum(p for gid, p in points.items() if gid in ids)
    headers = ["student"] + [f"{nb} /{per_nb[nb]:g}" for nb in samples.NOTEBOOKS] + \
        [f"total /{sum(per_nb.values()):g}"]
    rows = []
    for student, spec in roster.items():
        got = scores.get(student, {})
        row = [student] + [f"{got.get(nb, float('nan')):.2f}" for nb in samples.NOTEBOOKS]
        row.append(f"{sum(got.get(nb, 0.0) for nb in samples.NOTEBOOKS):.2f}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    line = lambda r: "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths)))
    out = [line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Grade a small sample class end to end.")
    parser.add_argument("--dest", default=str(samples.REPO_ROOT / "demo-course"),
                        help="where to build the throw-away course (default: ./demo-course)")
    parser.add_argument("--grader", choices=["auto", "fast", "stock"], default="auto")
    args = parser.parse_args(argv)

    t0 = time.monotonic()
    course = Path(args.dest).resolve()
    if course.exists():
        shutil.rmtree(course)
    roster = dict(samples.DEMO_CLASS)

    print(f"[1/4] building the course in {course}")
    samples.make_course(course, release=False)
    samples.nbgrader("db", "assignment", "add", A,
                     f"--duedate={samples.DUE_DATE:%Y-%m-%d %H:%M:%S} UTC", cwd=course)
    samples.nbgrader("generate_assignment", A, "--force", cwd=course)

    print(f"[2/4] writing {len(roster)} submissions to {course / 'submitted'}")
    samples.write_class(course, roster, late=samples.DEMO_LATE)
    for student, spec in roster.items():
        late = f" (handed in {samples.DEMO_LATE[student]} after the due date)" if student in samples.DEMO_LATE else ""
        print(f"      {student:<6} {_describe(spec)}{late}")

    print("[3/4] grading")
    t1 = time.monotonic()
    how = _grade(course, args.grader)
    print(f"      {how}: {time.monotonic() - t1:.1f} s for {len(roster) * len(samples.NOTEBOOKS)}"
          " notebooks")

    print("[4/4] nbgrader generate_feedback, autograder report")
    samples.nbgrader("generate_feedback", A, "--force", cwd=course)
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", A], cwd=course,
                          env=samples.course_env(course), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"autograder report failed:\n{proc.stderr[-3000:]}")
    page = proc.stdout.split()[0]

    print()
    print("Autograded scores (the four written explanations are graded by hand in the Formgrader):")
    print(_table(course, roster))
    print()
    print("Feedback for students:")
    for student in roster:
        for nb in samples.NOTEBOOKS:
            path = course / "feedback" / student / A / f"{nb}.html"
            if path.exists():
                print(f"  {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    print()
    print(f"The instructor's report (common mistakes, the late student, a pair of answers worth a "
          f"second look):\n  {page}")
    print()
    print(f"Done in {time.monotonic() - t0:.0f} s. Open a feedback file in a browser; the course "
          f"in {course.name}/ is an ordinary nbgrader course (README: 'For instructors').")
    return 0


if __name__ == "__main__":
    sys.exit(main())
