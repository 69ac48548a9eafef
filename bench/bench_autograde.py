"""Stock `nbgrader autograde` vs `autograder grade` on one synthetic class, in the same run.

    .venv/bin/python bench/bench_autograde.py [--assignment NAME ...] [--students 40 8]
                                              [--workers N] [--keep DIR] [--stock-sample K] [--skip-stock]
                                              [--profile-sample K]

For every assignment with typical mistakes (or the ones named) and every class size:

1. builds a course (scaffold.make_course + `nbgrader generate_assignment`) and a class of
   N students cycling through the perfect solution, every typical mistake of
   the assignment's catalogue (autograder.dev.samples) and a blank submission;
2. copies it twice and grades one copy with STOCK nbgrader -- its own pipeline, a kernel per
   notebook: AUTOGRADER_STOCK_EXECUTE=1 switches the course config's hardened routing off,
   and the stock preprocessor lists are also forced on the command line -- and the other
   with `autograder grade` (a fresh process, as an instructor would run it);
3. compares the two gradebooks cell by cell (every grade cell's auto_score, every
   notebook's total), prints both wall times, both CPU times (every process of each run),
   the ratios, and the fast path by phase: start-up to the first graded notebook, the cost per
   notebook after it and how much of it is the students' own code, the gradebook writes, and
   one worker's notebook phase by phase (bench/phases.py); then times a one-student regrade
   (`autograder grade --student X --force`).

--stock-sample K times stock on the first K students only and extrapolates linearly to the
class; the ratio is then printed as EXTRAPOLATED. The default measures the whole class.
Results are also written as JSON to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from autograder.dev import samples, scaffold  # noqa: E402
from autograder.course import seeds as secrets  # noqa: E402
from phases import print_profile  # noqa: E402

STOCK_SANITIZE = ["nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
                  "nbgrader.preprocessors.OverwriteKernelspec", "nbgrader.preprocessors.OverwriteCells",
                  "nbgrader.preprocessors.CheckCellMetadata"]
STOCK_AUTOGRADE = ["nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
                   "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                   "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                   "nbgrader.preprocessors.CheckCellMetadata"]


def roster(n: int, source_dir: Path) -> dict[str, object]:
    """n students cycling through the perfect solution, every typical mistake and a blank."""
    kinds = samples.kinds(source_dir)
    return {f"student{i:03d}": kinds[i % len(kinds)] for i in range(n)}


def build_course(dest: Path, n: int, assignment: str) -> Path:
    course = scaffold.make_course(dest)
    scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course)
    samples.write_class(course, roster(n, course / "source" / assignment), assignment=assignment)
    # one course secret, copied with the course: both graders draw the same hidden probes
    secrets.course_secret(str(course))
    return course


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(cmd: list[str], *, cwd: Path, env: dict, log: Path) -> dict:
    """Run ``cmd``; its wall time, the CPU time of its whole process tree (every process it
    started and waited for), and when each progress line (``[k/N] ...``) appeared."""
    cpu0, t0 = cpu_of_children(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    lines, progress = [], []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[") and "/" in line.split("]", 1)[0]:
            progress.append(time.perf_counter() - t0)
    code = proc.wait()
    wall = time.perf_counter() - t0
    log.write_text("".join(lines))
    return {"wall": wall, "cpu": cpu_of_children() - cpu0, "progress": progress, "code": code,
            "tail": "".join(lines[-30:])}


def run_stock(course: Path, assignment: str, students: list[str] | None) -> dict:
    env = scaffold.course_env(course, {"AUTOGRADER_STOCK_EXECUTE": "1"})
    args = ["autograde", assignment]
    for pp in STOCK_SANITIZE:
        args.append(f"--Autograde.sanitize_preprocessors={pp}")
    for pp in STOCK_AUTOGRADE:
        args.append(f"--Autograde.autograde_preprocessors={pp}")
    if students:
        # nbgrader takes one --student glob; grade the sample by removing the rest first
        for d in (course / "submitted").iterdir():
            if d.name not in students:
                shutil.rmtree(d)
    run = run_timed([scaffold.venv_bin("nbgrader"), *args], cwd=course, env=env, log=course / "stock-autograde.log")
    if run["code"] != 0:
        print(f"stock nbgrader exited {run['code']}; see {course / 'stock-autograde.log'}")
    return run


def run_fast(course: Path, assignment: str, workers: int | None, students: list[str] | None = None) -> dict:
    """`autograder grade` as an instructor runs it (a fresh process): its run and its profile."""
    profile_path = course / "fast-profile.json"
    cmd = [scaffold.venv_bin("autograder"), "grade", assignment, "--profile-json", str(profile_path)]
    if workers:
        cmd += ["--workers", str(workers)]
    for student in students or []:
        cmd += ["--student", student, "--force"]
    run = run_timed(cmd, cwd=course, env=scaffold.course_env(course), log=course / "fast-autograde.log")
    if run["code"] != 0:
        raise SystemExit(f"autograder grade failed ({run['code']}):\n{run['tail']}")
    return {**run, "profile": json.loads(profile_path.read_text())}


def phase_profile(course: Path, assignment: str, sample: int) -> dict:
    """bench/phases.py on the graded class, in a process of its own (it imports torch)."""
    out = course / "phases.json"
    subprocess.run([sys.executable, str(REPO / "bench" / "phases.py"), str(course), assignment,
                    "--sample", str(sample), "--json", str(out)], cwd=course, env=scaffold.course_env(course),
                   check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _per_notebook_after_first(run: dict, workers: int) -> float:
    """Wall seconds per notebook once the first is graded, times the workers: one worker's cost."""
    p = run["progress"]
    return (p[-1] - p[0]) / (len(p) - 1) * workers if len(p) > 1 else float("nan")


def print_phases(fast: dict, phases: dict, n_nb: int, students: int, stock: dict | None) -> None:
    profile = fast["profile"]
    workers = int(profile["scheduler"].split(", ")[1].split()[0]) if ", " in profile["scheduler"] else 1
    first = fast["progress"][0] if fast["progress"] else float("nan")
    per = _per_notebook_after_first(fast, workers)
    own = phases["phases"][next(iter(phases["phases"]))]
    print(f"\nthe fast path by phase (wall on this machine, load average {os.getloadavg()[0]:.1f}; "
          f"CPU is steadier under load):")
    print(f"  start-up to the first graded notebook   {first:7.2f} s   (nbgrader config loaded at "
          f"{profile['load_config']:.2f} s; workers warm meanwhile)")
    print(f"  per notebook after it, one worker       {per:7.3f} s   ({workers} workers; "
          f"{phases['per_notebook_wall']:.3f} s in the one-worker profile below)")
    print(f"    of which the assignment's own cost   {own:7.3f} s   (the students' code, in the child; "
          f"{phases['per_notebook_student_cpu']:.3f} s of CPU against the grader's "
          f"{phases['per_notebook_trusted_cpu']:.3f} s)")
    print(f"  gradebook writes, per student           {profile['timings'].get('writer', 0.0) / max(1, students):7.3f} s"
          f"   (the writer, overlapping the workers)")
    print(f"  CPU, every process of the run           {fast['cpu']:7.2f} s   ({fast['cpu'] / n_nb:.3f} s per notebook)")
    if stock:
        print(f"  stock nbgrader, CPU of its run          {stock['cpu']:7.2f} s   "
              f"({stock['cpu'] / max(1, stock['notebooks']):.3f} s per notebook)")
    print("  one worker's notebook, phase by phase (bench/phases.py):")
    print_profile(phases, indent="    ")


def measure(assignment: str, students: int, args, base: Path) -> dict:
    """Grade one synthetic class of ``students`` both ways; print and return the numbers."""
    a = assignment
    print(f"\n=== {a}, {students} students: building the class in {base} ...", flush=True)
    template = build_course(base / "template", students, a)
    n_nb = sum(1 for _ in (template / "submitted").glob(f"*/{a}/*.ipynb"))
    stock_course = base / "stock"
    fast_course = base / "fast"
    for d in (stock_course, fast_course):
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(template, d)

    result: dict = {"assignment": a, "students": students, "notebooks": n_nb, "cores": os.cpu_count()}
    print(f"autograder grade ({n_nb} notebooks) ...", flush=True)
    fast = run_fast(fast_course, a, args.workers)
    fast_s, profile = fast["wall"], fast["profile"]
    result.update(fast_seconds=fast_s, fast_cpu=fast["cpu"], fast_progress=fast["progress"], fast_profile=profile)
    print(f"  {fast_s:.1f} s  ({fast_s / n_nb:.3f} s per notebook, {profile['scheduler']}; CPU {fast['cpu']:.1f} s)")
    one = sorted(roster(students, template / "source" / a))[0]
    regrade = run_fast(fast_course, a, args.workers, students=[one])
    result.update(regrade_seconds=regrade["wall"], regrade_cpu=regrade["cpu"])
    print(f"  `autograder grade --student {one} --force`: {regrade['wall']:.2f} s wall, CPU {regrade['cpu']:.2f} s")

    stock = None
    if not args.skip_stock:
        sample = None
        if args.stock_sample:
            sample = sorted(roster(students, template / "source" / a))[:args.stock_sample]
        n_stock = (sum(1 for s in sample for _ in (stock_course / "submitted" / s / a).glob("*.ipynb"))
                   if sample else n_nb)
        print(f"stock nbgrader autograde ({n_stock} notebooks, a kernel each) ...", flush=True)
        stock = {**run_stock(stock_course, a, sample), "notebooks": n_stock}
        stock_s = stock["wall"]
        label = "measured"
        stock_total = stock_s
        if sample:
            stock_total = stock_s * n_nb / n_stock
            label = f"EXTRAPOLATED from {n_stock} notebooks"
        print(f"  {stock_s:.1f} s  ({stock_s / n_stock:.2f} s per notebook; CPU {stock['cpu']:.1f} s)")
        result.update(stock_seconds=stock_s, stock_notebooks=n_stock, stock_total=stock_total,
                      stock_label=label, stock_cpu=stock["cpu"])

        stock_cells = scaffold.gradebook_cells(stock_course, a)
        fast_cells = scaffold.gradebook_cells(fast_course, a)
        keys = sorted(k for k in stock_cells if sample is None or k[0] in sample)
        diffs = [(k, stock_cells[k], fast_cells.get(k, "absent")) for k in keys
                 if not same_cell(stock_cells[k], fast_cells.get(k, "absent"))]
        result["cells_compared"] = len(keys)
        result["cell_differences"] = [list(map(str, d)) for d in diffs]
        print(f"\ngradebooks compared cell by cell: {len(keys)} entries (auto_score and needs_manual_grade "
              f"of every grade cell, notebook totals), {len(diffs)} differences")
        for k, s_, f_ in diffs[:40]:
            print(f"  {'/'.join(k)}: stock={s_} autograder={f_}")
        ratio = stock_total / fast_s
        result["ratio"] = ratio
        result["cpu_ratio"] = stock["cpu"] * n_nb / n_stock / fast["cpu"]
        print(f"\nstock nbgrader autograde: {stock_total:8.1f} s, CPU {stock['cpu'] * n_nb / n_stock:.1f} s ({label})")
        print(f"autograder grade:         {fast_s:8.1f} s, CPU {fast['cpu']:.1f} s")
        print(f"speed-up:                 {ratio:8.1f}x wall, {result['cpu_ratio']:.1f}x CPU")

    phases = phase_profile(fast_course, a, args.profile_sample)
    result["phases"] = phases
    print_phases(fast, phases, n_nb, students, stock)
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, nargs="+", default=[40, 8], metavar="N",
                    help="class sizes to measure (default: 40 and 8)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--assignment", action="append", default=None, metavar="NAME",
                    help="repeatable; default: every assignment of the course with typical mistakes")
    ap.add_argument("--stock-sample", type=int, default=None, metavar="K",
                    help="time stock on K students only and EXTRAPOLATE (labelled as such)")
    ap.add_argument("--skip-stock", action="store_true", help="time the fast path only")
    ap.add_argument("--keep", default=None, metavar="DIR", help="build the courses here and keep them")
    ap.add_argument("--profile-sample", type=int, default=8, metavar="K",
                    help="notebooks timed phase by phase in one worker (bench/phases.py; default 8)")
    args = ap.parse_args(argv)

    assignments = args.assignment or [p.name for p in sorted((REPO / "source").iterdir())
                                      if samples.catalogue(str(REPO), p.name).mistakes]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    results = []
    for a in assignments:
        for n in args.students:
            base = root / f"{a}-{n}"
            base.mkdir(parents=True, exist_ok=True)
            results.append(measure(a, n, args, base))
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)

    print("\nsummary (ratios measured within this run):")
    for r in results:
        ratio = f"{r['ratio']:6.1f}x" if "ratio" in r else "   n/a"
        stock = f"{r['stock_total']:7.1f} s ({r['stock_label']})" if "stock_total" in r else "not measured"
        cpu = f", {r['cpu_ratio']:.1f}x CPU" if "cpu_ratio" in r else ""     # both EXTRAPOLATED with a sample
        print(f"  {r['assignment']:<12} {r['students']:>3} students  autograder {r['fast_seconds']:6.1f} s "
              f"(CPU {r['fast_cpu']:.1f} s, first notebook at {r['fast_progress'][0]:.1f} s)  "
              f"stock {stock}  speed-up {ratio}{cpu};  one student regraded {r['regrade_seconds']:.1f} s")
    print(f"\nresults: {save_results('bench', results)}")
    return 1 if any(r.get("cell_differences") for r in results) else 0


def save_results(kind: str, results) -> Path:
    """Write a run's figures to bench/results/<kind>-<time>.json; return the path."""
    out = REPO / "bench" / "results" / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    return out


def same_cell(a, b) -> bool:
    """Whether two gradebook cells agree (scores to 1e-9)."""
    if a is None or b is None or isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return a == b
    return abs(float(a) - float(b)) < 1e-9


if __name__ == "__main__":
    sys.exit(main())
