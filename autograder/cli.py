"""`autograder grade ASSIGNMENT …` and `autograder report ASSIGNMENT`, run from the course root."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .jobs import LIMIT_FIELDS, Limits, limits_from

BUSY = 75    # sysexits' EX_TEMPFAIL: another `autograder grade` holds the course; try later


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autograder", description=__doc__)
    p.add_argument("--course", default=".", help="course root (where nbgrader_config.py is); default: .")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="grade every submission of ASSIGNMENT not graded yet")
    g.add_argument("assignment")
    g.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="dask.distributed scheduler, e.g. tcp://10.0.0.5:8786 (default: local pool)")
    g.add_argument("--student", action="append", default=None, metavar="ID",
                   help="grade only this student (repeatable)")
    g.add_argument("--force", action="store_true", help="regrade submissions that are already graded")
    for limit in LIMIT_FIELDS:
        g.add_argument(limit.metadata["flag"], dest=limit.name, type=type(limit.default), default=None,
                       metavar=limit.metadata["metavar"], help=f"{limit.metadata['help']} (default {limit.default:g})")
    g.add_argument("--grader", default=None, help=argparse.SUPPRESS)   # tests: module:function
    g.add_argument("--profile-json", default=None, help=argparse.SUPPRESS)  # bench: timings out

    r = sub.add_parser("report", help="HTML + CSV report of a graded assignment")
    r.add_argument("assignment")
    r.add_argument("--output", default=None, metavar="DIR",
                   help="where to write report files (default: <course>/.autograder/reports/<assignment>)")
    return p


def _limits(args) -> Limits:
    return limits_from({limit.name: getattr(args, limit.name) for limit in LIMIT_FIELDS})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "grade":
        import signal

        def _terminate(signum, frame):
            raise KeyboardInterrupt      # `kill PID` stops as cleanly as Ctrl-C
        signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    root = os.path.abspath(args.course)
    if not os.path.exists(os.path.join(root, "nbgrader_config.py")):
        print(f"autograder: no nbgrader_config.py in {root}; run from the course root "
              f"or pass --course", file=sys.stderr)
        return 2
    from .startup import skip_unused_grammar
    skip_unused_grammar()
    from .gradebook import load_course

    if args.command == "grade":
        import time
        from . import batch
        t0 = time.monotonic()
        if args.workers is not None and args.workers < 1:
            print("autograder: --workers must be at least 1", file=sys.stderr)
            return 2
        # workers start (importing torch) while this process loads nbgrader and plans
        from .courselock import CourseBusy, hold
        pool = batch.make_pool(args.workers, args.scheduler, args.grader or batch.DEFAULT_GRADER).start()
        try:
            course = load_course(root)
            lock = hold(course_root=course.root, db_url=course.db_url, course_id=course.course_id)
        except CourseBusy as busy:
            pool.close()
            print(f"autograder: {busy}", file=sys.stderr)
            return BUSY
        except BaseException:
            pool.close()
            raise
        t_loaded = time.monotonic()
        try:
            summary = batch.grade(course, args.assignment, students=args.student, force=args.force,
                                  limits=_limits(args), pool=pool, t0=t0)
        except (OSError, TimeoutError) as exc:
            if not args.scheduler:
                raise
            print(f"autograder: cannot use the Dask scheduler at {args.scheduler}: {exc}", file=sys.stderr)
            return 2
        finally:
            lock.close()
        batch.print_summary(summary)
        if args.profile_json:
            import json
            with open(args.profile_json, "w") as fh:
                json.dump({"elapsed": summary.elapsed, "load_config": t_loaded - t0,
                           "graded": len(summary.graded), "failed": summary.failed,
                           "scheduler": summary.scheduler, "timings": dict(summary.timings)}, fh)
        if summary.interrupted:
            return 130
        return 0 if summary.ok else 1

    if args.command == "report":
        from . import report
        course = load_course(root)
        paths = report.write_report(course, args.assignment, args.output)
        for p in paths:
            print(p)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
