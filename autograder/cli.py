"""`autograder grade | serve | report | export | extend | new`, run from the course root."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from autograder.batch.jobs import LIMIT_FIELDS, Limits, limits_from

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

    s = sub.add_parser("serve", help="grade each submission as it arrives in the exchange, and release its "
                                     "feedback (foreground; stop with Ctrl-C or SIGTERM)")
    s.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="the assignments to grade on submit (default: the course's GradeOnSubmit.assignments)")
    s.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    for limit in LIMIT_FIELDS:
        s.add_argument(limit.metadata["flag"], dest=limit.name, type=type(limit.default), default=None,
                       metavar=limit.metadata["metavar"], help=f"{limit.metadata['help']} (default {limit.default:g})")
    s.add_argument("--as", dest="run_as", default=None, metavar="USER",
                   help="started as root: start the grading workers as root (each notebook in its own "
                        "namespaces and throw-away uid), then go on as USER (a hub's instructor), who "
                        "then owns the journal, the gradebook, autograded/ and the released feedback")
    s.add_argument("--grader", default=None, help=argparse.SUPPRESS)   # tests: module:function

    r = sub.add_parser("report", help="HTML + CSV report of a graded assignment")
    r.add_argument("assignment")
    r.add_argument("--output", default=None, metavar="DIR",
                   help="where to write report files (default: <course>/.autograder/reports/<assignment>)")

    x = sub.add_parser("export", help="grades for an LMS (Canvas) or a spreadsheet (CSV)")
    x.add_argument("assignments", nargs="+", metavar="ASSIGNMENT")
    to = x.add_mutually_exclusive_group(required=True)
    to.add_argument("--canvas", metavar="GRADEBOOK.csv",
                    help="a gradebook exported from Canvas: fill the assignments' columns")
    to.add_argument("--csv", metavar="OUT", help="one row per student, one column per exercise")
    x.add_argument("--output", metavar="FILE", default=None,
                   help="with --canvas: the file to import into Canvas (default: <GRADEBOOK>-import.csv)")
    x.add_argument("--match", metavar="COLUMN", default=None,
                   help="with --canvas: the Canvas column holding the student's id (default: SIS Login ID)")
    x.add_argument("--column", action="append", default=[], metavar='ASSIGNMENT="TITLE (ID)"',
                   help="with --canvas: the Canvas column for ASSIGNMENT (default: the one titled "
                        "like it, ignoring case and the id); repeatable")
    x.add_argument("--add-column", action="store_true",
                   help="with --canvas: add a column for an assignment Canvas has none for "
                        "(Canvas then creates the assignment on import)")

    e = sub.add_parser("extend", help="give one student a later due date for an assignment (or revoke it)")
    e.add_argument("student")
    e.add_argument("assignment")
    until = e.add_mutually_exclusive_group(required=True)
    until.add_argument("--until", metavar="DATE",
                       help="the student's due date, e.g. '2026-12-01 17:00 Europe/Paris' or "
                            "'2026-12-01T17:00+01:00'; without a zone, the course's Exchange.timezone")
    until.add_argument("--days", type=float, metavar="N",
                       help="N days after the assignment's due date (0 revokes the extension)")
    until.add_argument("--remove", action="store_true", help="revoke the student's extension")

    n = sub.add_parser("new", help="write an exercise's prompt, solution and test cells and its declaration "
                                   "(again: update them in place)")
    n.add_argument("assignment")
    n.add_argument("exercise", help="the function students write; its test cell is test_EXERCISE")
    n.add_argument("--notebook", default=None, metavar="NAME",
                   help="source/ASSIGNMENT/NAME.ipynb (default: the notebook holding it already, else ASSIGNMENT)")
    n.add_argument("--solution", default=None, metavar="FILE",
                   help="Python defining `def EXERCISE(...)`: the solution cell (required the first time)")
    n.add_argument("--declaration", default=None, metavar="FILE",
                   help="Python binding `EXERCISE = exercise(name=\"EXERCISE\", ...)` (default: a stub to fill in; "
                        "an existing declaration is kept)")
    n.add_argument("--prompt", default=None, metavar="FILE|TEXT",
                   help="the prompt, markdown (default: one from the solution's signature and docstring)")
    n.add_argument("--points", type=float, default=None, help="the test cell's points (default: kept, else 1)")
    n.add_argument("--kind", default="by hand", help="for the stub declaration: by hand | matrix-free | free")
    n.add_argument("--answer", default="matrix", help="for the stub declaration: matrix | vector | scalar | "
                                                      "shape | index | property")
    return p


def _limits(args, course) -> Limits:
    """The course's configured limits (nbgrader's Execute.timeout, SandboxedExecute's settings:
    what routed `nbgrader autograde` uses), with this command's flags over them."""
    from autograder.hooks.preprocessor import SandboxedExecute
    flags = {limit.name: getattr(args, limit.name) for limit in LIMIT_FIELDS}
    configured = SandboxedExecute(config=course.config).configured_limits()
    return limits_from({**configured, **{name: value for name, value in flags.items() if value is not None}})


def _pairs(given: list[str], assignments: list[str]) -> dict[str, str]:
    """--column ASSIGNMENT=COLUMN flags as a mapping."""
    from autograder.term.export import BadFile
    out = {}
    for item in given:
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise BadFile(f"--column {item!r}: write it ASSIGNMENT=\"TITLE (ID)\"")
        if name.strip() not in assignments:
            raise BadFile(f"--column {item!r}: {name.strip()} is not among the assignments exported "
                          f"({', '.join(assignments)})")
        out[name.strip()] = column.strip()
    return out


def _extended(student: str, assignment: str, done) -> str:
    """What `extend` did, in one or two lines."""
    head = f"{student} / {assignment}: "
    if done.extension is None:
        head += (f"extension revoked; due {done.due:%Y-%m-%d %H:%M} UTC, the assignment's due date"
                 if done.before else f"no extension to revoke; due {done.due:%Y-%m-%d %H:%M} UTC")
    else:
        head += (f"due {done.due + done.extension:%Y-%m-%d %H:%M} UTC (the assignment's due date "
                 f"{done.due:%Y-%m-%d %H:%M} UTC, extended by {done.extension})")
    if done.penalty is None:
        return head + (f"\n{done.next_step}" if done.next_step else "")
    before, after = done.penalty
    if before == after:
        return head + f"\nlate penalty unchanged: {after:g} points (score {done.total:g})"
    return head + f"\nlate penalty regraded: {before:g} -> {after:g} points (score now {done.total:g})"


def _serve(args, root: str) -> int:
    import signal

    from autograder.batch.worker import DEFAULT_GRADER
    from autograder.course.directory import load_course
    from autograder.serve.rules import GradeOnSubmit
    from autograder.serve.service import Service

    if args.workers is not None and args.workers < 1:
        print("autograder: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.run_as is not None:
        from autograder.serve.account import account
        if os.geteuid() != 0:
            print("autograder: serve --as USER is for a service started as root", file=sys.stderr)
            return 2
        try:
            account(args.run_as)
        except KeyError:
            print(f"autograder: no user {args.run_as!r} on this machine", file=sys.stderr)
            return 2
    course = load_course(root)
    rules = GradeOnSubmit(config=course.config)
    assignments = args.assignments or rules.assignments
    if not assignments:
        print("autograder: no assignment to serve: name them (autograder serve ASSIGNMENT ...) or set "
              "c.GradeOnSubmit.assignments in nbgrader_config.py", file=sys.stderr)
        return 2
    service = Service(course, assignments, rules=rules, limits=_limits(args, course), workers=args.workers,
                      grader=args.grader or DEFAULT_GRADER, run_as=args.run_as)

    def _stop(signum, frame):
        if service.stopping:
            raise KeyboardInterrupt        # a second signal: leave the round in flight queued
        service.stop()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        service.run()
    except KeyboardInterrupt:
        return 130
    return 0


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
    from autograder.sandbox.startup import skip_unused_grammar
    skip_unused_grammar()
    from autograder.course.directory import load_course

    if args.command == "grade":
        import time
        from autograder.batch import run as batch
        from autograder.batch.summary import print_summary
        t0 = time.monotonic()
        if args.workers is not None and args.workers < 1:
            print("autograder: --workers must be at least 1", file=sys.stderr)
            return 2
        # workers start (importing torch) while this process loads nbgrader and plans
        from autograder.batch.lock import CourseBusy, hold
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
                                  limits=_limits(args, course), pool=pool, t0=t0)
        except (OSError, TimeoutError) as exc:
            if not args.scheduler:
                raise
            print(f"autograder: cannot use the Dask scheduler at {args.scheduler}: {exc}", file=sys.stderr)
            return 2
        finally:
            lock.close()
            pool.close()
        print_summary(summary)
        if args.profile_json:
            import json
            with open(args.profile_json, "w") as fh:
                json.dump({"elapsed": summary.elapsed, "load_config": t_loaded - t0,
                           "graded": len(summary.graded), "failed": summary.failed,
                           "scheduler": summary.scheduler, "timings": dict(summary.timings)}, fh)
        if summary.interrupted:
            return 130
        return 0 if summary.ok else 1

    if args.command == "serve":
        return _serve(args, root)

    if args.command == "report":
        from autograder.term import report
        course = load_course(root)
        paths = report.write_report(course, args.assignment, args.output)
        for p in paths:
            print(p)
        return 0

    if args.command == "export":
        from autograder.term import export
        course = load_course(root)
        try:
            if args.csv:
                out = args.csv
                unmatched = export.write_csv(course, args.assignments, out)
            else:
                settings = export.CanvasExport(config=course.config)
                columns = {**settings.columns, **_pairs(args.column, args.assignments)}
                out = args.output or os.path.splitext(args.canvas)[0] + "-import.csv"
                if os.path.abspath(out) == os.path.abspath(args.canvas):
                    raise export.BadFile(f"{out}: would overwrite the Canvas export; give another --output")
                unmatched = export.fill_canvas(course, args.assignments, args.canvas, out,
                                               key=args.match or settings.match, columns=columns,
                                               add_columns=args.add_column)
        except export.BadFile as exc:
            print(f"autograder: {exc}", file=sys.stderr)
            return 2
        for line in unmatched.lines():
            print(f"autograder: {line}", file=sys.stderr)
        print(out)
        return 0

    if args.command == "new":
        from autograder.dev.new_exercise import NewExerciseError, new_exercise, read_file, read_text_or_file
        try:
            done = new_exercise(root, args.assignment, args.exercise, notebook=args.notebook,
                                solution=read_file(args.solution), declaration=read_file(args.declaration),
                                prompt=read_text_or_file(args.prompt), points=args.points,
                                kind=args.kind, answer=args.answer)
        except (NewExerciseError, OSError) as exc:
            print(f"autograder new: {exc}", file=sys.stderr)
            return 2
        print(f"{done.notebook}: the cells of {args.exercise}")
        print(f"{done.declarations}: its declaration ({done.declaration})")
        if done.declaration == "stub":
            print(f"next: fill in the TODOs of {args.exercise}'s declaration (reference, visible and hidden probes)")
        print(f"then: nbgrader generate_assignment {args.assignment} --force")
        return 0

    if args.command == "extend":
        from autograder.batch.lock import CourseBusy, hold
        from autograder.hooks import lateness
        from autograder.term import extensions
        course = load_course(root)
        zone = course.config.Exchange.get("timezone", "UTC")
        try:
            until = lateness.parse_date(args.until, zone) if args.until else None
        except (ValueError, OverflowError) as exc:
            print(f"autograder: cannot read --until {args.until!r}: {exc}", file=sys.stderr)
            return 2
        try:       # the penalty is rewritten: not while `autograder grade` writes
            lock = hold(course_root=course.root, db_url=course.db_url, course_id=course.course_id)
        except CourseBusy as busy:
            print(f"autograder: {busy}", file=sys.stderr)
            return BUSY
        try:
            done = extensions.extend(course, args.student, args.assignment, until=until,
                                     days=args.days, remove=args.remove)
        finally:
            lock.close()
        print(_extended(args.student, args.assignment, done))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
