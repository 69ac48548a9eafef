"""Graded on submit: from `nbgrader submit` returning to feedback a student can fetch.

    .venv/bin/python bench/bench_submit.py [--sizes 1 8 40] [--stock-sizes 1 8] [--workers N] [--keep DIR]

Two copies of one course, one released assignment, students with homes of their own:

* **serve**: `autograder serve` runs in the course root (warmed by one submission first);
* **stock**: the loop an instructor would script with stock nbgrader, in the same run:
  `nbgrader collect --update`, `nbgrader autograde` (stock execution: a kernel per notebook),
  `nbgrader generate_feedback`, `nbgrader release_feedback`, again and again.

For each size N, N students (cycling through the perfect solution, every typical mistake and a
blank submission) run the real `nbgrader submit` at the same moment: each is a process that
has imported nbgrader and waits for the word. A student's latency runs from their submit
returning to every notebook's feedback page being where `nbgrader fetch_feedback` looks (the
exchange's feedback folder, under the name made from the submission's secret); one real
`nbgrader fetch_feedback` per size checks it. Prints p50 and p95 per mode and size and the
ratio stock / serve; the JSON goes to bench/results/.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from autograder.course import seeds as secrets  # noqa: E402
from autograder.dev import samples, scaffold  # noqa: E402
from bench_autograde import STOCK_AUTOGRADE, STOCK_SANITIZE, roster, save_results  # noqa: E402

ASG = "jacobians"
COURSE_ID = "jacobians-dl"
TIMEOUT = 3600.0
SUBMITTER = """
import sys, time
from nbgrader.apps.nbgraderapp import NbGraderApp
print("ready", flush=True)
sys.stdin.readline()
try:
    NbGraderApp.launch_instance(argv=sys.argv[1:])
except SystemExit as exc:
    if exc.code:
        raise
print(time.time(), flush=True)
"""


def stock_loop(course: Path) -> subprocess.Popen:
    """The instructor's stock loop, as a shell script, until killed."""
    autograde = " ".join([f"--Autograde.sanitize_preprocessors={pp}" for pp in STOCK_SANITIZE]
                         + [f"--Autograde.autograde_preprocessors={pp}" for pp in STOCK_AUTOGRADE])
    nbgrader = scaffold.venv_bin("nbgrader")
    script = (f"while true; do {nbgrader} collect --update {ASG}; {nbgrader} autograde {ASG} {autograde}; "
              f"{nbgrader} generate_feedback {ASG}; {nbgrader} release_feedback {ASG}; sleep 0.2; done")
    return subprocess.Popen(["bash", "-c", script], cwd=course, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env=scaffold.course_env(course, {"AUTOGRADER_STOCK_EXECUTE": "1"}))


class Student:
    def __init__(self, course: Path, homes: Path, name: str, spec, fetched: Path):
        self.course, self.name = course, name
        self.home = homes / name
        shutil.copytree(fetched, self.home / ASG)         # what `nbgrader fetch_assignment` gave
        samples.write_submission(self.home / ASG, spec, release_dir=fetched,
                                 source_dir=course / "source" / ASG)
        self.env = scaffold.course_env(self.home, {"HOME": str(self.home)})
        self.args = ["submit", ASG, "--student", name, "--course", COURSE_ID,
                     f"--Exchange.root={course / 'exchange'}"]

    def about_to_submit(self) -> subprocess.Popen:
        """A process that imports nbgrader, says "ready" and submits when told."""
        return subprocess.Popen([sys.executable, "-c", SUBMITTER, *self.args], cwd=self.home, env=self.env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)

    def feedback_pages(self) -> list[Path]:
        """Where fetch_feedback looks for this student's latest submission."""
        from nbgrader.utils import notebook_hash
        cache = self.home / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE_ID
        latest = sorted(cache.glob(f"{self.name}+{ASG}+*"))[-1]
        secret = (latest / "submission_secret.txt").read_text()
        return [self.course / "exchange" / COURSE_ID / "feedback" /
                f"{notebook_hash(secret=secret, notebook_id=nb.stem)}.html" for nb in latest.glob("*.ipynb")]

    def fetch_feedback(self) -> int:
        scaffold.nbgrader("fetch_feedback", ASG, "--course", COURSE_ID, f"--Exchange.root={self.course / 'exchange'}",
                          cwd=self.home, env=self.env)
        return len(list((self.home / ASG / "feedback").glob("*/*.html")))


def submit_together(students: list[Student]) -> dict[str, float]:
    """Every student's `nbgrader submit` at once; name -> seconds from submit returning to fetchable."""
    procs = [(s, s.about_to_submit()) for s in students]
    for s, p in procs:
        assert p.stdout.readline().strip() == "ready", f"{s.name}'s nbgrader did not start"
    for _, p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    returned = {}
    for s, p in procs:
        out = p.stdout.readline().strip()
        if p.wait() != 0 or not out:
            raise RuntimeError(f"nbgrader submit failed for {s.name}")
        returned[s.name] = float(out)
    pages = {s.name: s.feedback_pages() for s in students}
    latency: dict[str, float] = {}
    deadline = time.monotonic() + TIMEOUT
    while len(latency) < len(students):
        now = time.time()
        for s in students:
            if s.name not in latency and all(p.exists() for p in pages[s.name]):
                latency[s.name] = now - returned[s.name]
        if time.monotonic() > deadline:
            raise RuntimeError(f"no feedback after {TIMEOUT:.0f} s for {sorted(set(pages) - set(latency))}")
        time.sleep(0.05)
    assert students[0].fetch_feedback() >= len(pages[students[0].name]), "fetch_feedback found nothing"
    return latency


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 40])
    ap.add_argument("--stock-sizes", type=int, nargs="*", default=[1, 8],
                    help="class sizes the stock loop is measured on (it takes minutes per student)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--keep", type=Path, default=None, help="build the courses here and keep them")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench-submit-"))
    template = scaffold.make_course(tmp / "template")
    scaffold.nbgrader("generate_assignment", ASG, "--force", cwd=template)
    secrets.course_secret(str(template))
    kinds = list(roster(max(args.sizes), template / "source" / ASG).values())

    results = {"sizes": {}, "cpus": os.cpu_count()}
    for mode in ("serve", "stock"):
        course = tmp / mode
        shutil.copytree(template, course)
        scaffold.nbgrader("release_assignment", ASG, cwd=course)
        fetcher = tmp / "homes" / mode / "fetcher"
        fetcher.mkdir(parents=True)
        scaffold.nbgrader("fetch_assignment", ASG, "--course", COURSE_ID, f"--Exchange.root={course / 'exchange'}",
                          cwd=fetcher, env=scaffold.course_env(fetcher, {"HOME": str(fetcher)}))
        fetched = fetcher / ASG
        homes = tmp / "homes" / mode
        if mode == "serve":
            log = open(tmp / "serve.log", "w")
            runner = subprocess.Popen([sys.executable, "-m", "autograder", "serve", ASG,
                                       *(["--workers", str(args.workers)] if args.workers else [])],
                                      cwd=course, env=scaffold.course_env(course), stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            # a service runs for the term: its workers are warm before anyone's deadline
            submit_together([Student(course, homes, "warmup", "perfect", fetched)])
        else:
            runner = stock_loop(course)
        try:
            for n in (args.sizes if mode == "serve" else [n for n in args.sizes if n in args.stock_sizes]):
                students = [Student(course, homes, f"s{n}x{i:02d}", kinds[i], fetched) for i in range(n)]
                t0 = time.monotonic()
                latency = list(submit_together(students).values())
                row = {"p50": statistics.median(latency), "p95": percentile(latency, 0.95),
                       "max": max(latency), "wall": time.monotonic() - t0}
                results["sizes"].setdefault(str(n), {})[mode] = row
                print(f"{mode:5} {n:3} students: p50 {row['p50']:6.1f} s  p95 {row['p95']:6.1f} s  "
                      f"max {row['max']:6.1f} s", flush=True)
        finally:
            os.killpg(runner.pid, 15)
            runner.wait()

    print("\nstudents  serve p50  serve p95  stock p50  stock p95  stock/serve (p50)")
    for n, row in results["sizes"].items():
        s, k = row.get("serve"), row.get("stock")
        ratio = f"{k['p50'] / s['p50']:.1f}x" if s and k else "-"
        print(f"{n:>8}  {s['p50'] if s else float('nan'):9.1f}  {s['p95'] if s else float('nan'):9.1f}  "
              f"{k['p50'] if k else float('nan'):9.1f}  {k['p95'] if k else float('nan'):9.1f}  {ratio:>10}")
    print(f"\n{save_results('submit', results)}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
