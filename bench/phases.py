"""Where one grading worker's time goes, notebook by notebook: a profile per phase.

    .venv/bin/python bench/phases.py COURSE ASSIGNMENT [--sample K] [--json OUT]

In this process, as a pool worker does it: warm up (`notebook.grade.warm_up`, then the
sandbox's zygote), grade one notebook of each kind untimed (first calls), then grade K
notebooks of the class under cProfile and charge the wall time to the phases below by the
cumulative time of the functions that do them. The student's own code is what the child
runs (cells and calls, timed from this side, so the round trips are in it); everything else
is the grader's overhead per notebook. Wall time suffers from a loaded machine; the CPU
seconds of the trusted worker and of each notebook's own process (read from /proc before it
is reaped) do much less.
"""
from __future__ import annotations

import argparse
import cProfile
import contextlib
import json
import os
import pstats
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# phase -> the functions (file suffix, name) whose cumulative time is that phase; only the
# share files are called from another phase's functions (a call), and are taken out of it
PHASES = {
    "the student's own code (cells and calls, in the child)": [("sandbox/session.py", "run_cell"),
                                                                ("sandbox/session.py", "call"),
                                                                ("sandbox/session.py", "proxy")],
    "big probes into share files": [("sandbox/session.py", "_share_big_tensors")],
    "sandbox: fork, confine, start, reap": [("sandbox/session.py", "session")],
    "hidden probes drawn": [("course/authoring.py", "own_probes"), ("course/authoring.py", "shared_probes")],
    "references": [("course/authoring.py", "reference")],
    "comparisons and diagnoses": [("judge/compare.py", "judge")],
    "policy (the student's source read)": [("judge/policy.py", "static_violations")],
    "reading, planning, recording the notebook": [("intake/submission.py", "read_submission"),
                                                  ("intake/cell_plan.py", "plan_cells"),
                                                  ("notebook/recording.py", "record_decisions")],
}
TOTAL = ("batch/worker.py", "run_job")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _jobs(course_root: str, assignment: str):
    from autograder.batch import plan as planning
    from autograder.batch.jobs import Limits
    from autograder.batch.summary import Summary
    from autograder.course.directory import load_course
    from autograder.gradebook.writer import GradebookWriter

    course = load_course(course_root)
    writer = GradebookWriter(course, assignment)
    try:
        plans = planning.plan(course, writer, assignment, None, True, Summary())
    finally:
        writer.close()
    instructor = planning.instructor_reader(course, assignment)
    return planning.build_jobs(course, assignment, plans, Limits(),
                               planning.exercise_seeds(course, assignment, instructor), instructor)


def _children_cpu(sandbox_class) -> list[float]:
    """From now on, the CPU seconds of each notebook's own process (the students' code), read
    as its session ends, before it is reaped."""
    seconds: list[float] = []
    opened = sandbox_class.session
    tick = os.sysconf("SC_CLK_TCK")

    @contextlib.contextmanager
    def session(self, *args, **kwargs):
        with opened(self, *args, **kwargs) as child:
            try:
                yield child
            finally:
                try:
                    with open(f"/proc/{child.pid}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    seconds.append((int(fields[11]) + int(fields[12])) / tick)
                except (OSError, IndexError, ValueError):
                    pass
    sandbox_class.session = session
    return seconds


def _cumulative(stats: pstats.Stats, wanted: list[tuple[str, str]]) -> float:
    total = 0.0
    for (filename, _, name), (_, _, _, cumtime, _) in stats.stats.items():
        if any(name == fn and filename.endswith(suffix) for suffix, fn in wanted):
            total += cumtime
    return total


def profile(course_root: str, assignment: str, sample: int) -> dict:
    from autograder.sandbox.startup import skip_unused_grammar
    skip_unused_grammar()
    jobs = _jobs(course_root, assignment)
    from autograder.batch.worker import run_job
    from autograder.notebook import grade
    from autograder.sandbox.session import Sandbox

    c0, t0 = _cpu(), time.perf_counter()
    grade.warm_up()
    grade.after_fork()
    warm = {"warm-up wall": time.perf_counter() - t0, "warm-up cpu": _cpu() - c0}
    try:
        seen = set()
        for job in jobs:                       # first calls of each notebook's code paths
            if job.notebook not in seen:
                seen.add(job.notebook)
                run_job(job)
        timed = [j for j in jobs if j.student != jobs[0].student][:sample] or jobs[:sample]
        children = _children_cpu(Sandbox)
        profiler = cProfile.Profile()
        c1 = _cpu()
        profiler.enable()
        for job in timed:
            run_job(job)
        profiler.disable()
        cpu = _cpu() - c1
    finally:
        grade.before_exit()
    stats = pstats.Stats(profiler)
    n = len(timed)
    total = _cumulative(stats, [TOTAL])
    phases = {name: _cumulative(stats, fns) / n for name, fns in PHASES.items()}
    phases[next(iter(PHASES))] -= phases["big probes into share files"]
    phases["other grader work"] = total / n - sum(phases.values())
    return {"notebooks": n, "per_notebook_wall": total / n, "per_notebook_trusted_cpu": cpu / n,
            "per_notebook_student_cpu": sum(children) / max(1, len(children)),
            "phases": phases, **warm, "load": os.getloadavg()[0]}


def print_profile(result: dict, indent: str = "  ") -> None:
    n, per = result["notebooks"], result["per_notebook_wall"]
    print(f"{indent}one worker, {n} notebooks under cProfile (load average {result['load']:.1f}): "
          f"{per:.3f} s wall per notebook; CPU per notebook {result['per_notebook_trusted_cpu']:.3f} s in the "
          f"trusted worker, {result['per_notebook_student_cpu']:.3f} s in the notebook's own process")
    for name, seconds in result["phases"].items():
        print(f"{indent}  {name:<56} {seconds:7.3f} s  {100 * seconds / per:5.1f} %")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("course")
    ap.add_argument("assignment")
    ap.add_argument("--sample", type=int, default=8, help="notebooks timed (default 8)")
    ap.add_argument("--json", default=None, metavar="OUT")
    args = ap.parse_args(argv)
    result = profile(args.course, args.assignment, args.sample)
    print_profile(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
