"""The command line: `autograder grade` / `python -m autograder grade` / `autograder report`."""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from traitlets.config import Config

from autograder import cli
from autograder.batch.jobs import Limits, NotebookJob, NotebookResult
from autograder.batch.progress import Progress

from test_batch import ASG, FAKE, course, grades, submit  # noqa: F401  (fixtures)

TESTS = str(Path(__file__).parent)


def cli_run(root, *args, timeout=240, module=True):
    env = dict(os.environ, PYTHONPATH=TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = ([sys.executable, "-m", "autograder"] if module
           else [str(Path(sys.executable).parent / "autograder")])
    return subprocess.run([*cmd, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_grade_then_nothing_left_then_report(course):  # noqa: F811
    p = cli_run(course, "grade", ASG, "--workers", "2", "--grader", FAKE)
    assert p.returncode == 0, p.stderr
    # not a TTY: one plain line per notebook, with rate and ETA
    lines = [l for l in p.stderr.splitlines() if l.startswith("[")]
    assert len(lines) == 7 and lines[-1].startswith("[7/7] ") and "nb/s, ETA" in lines[-1]
    assert re.search(r"^graded +alice/one +2/3$", p.stdout, re.M)     # summary table (2 of 3 points)
    assert "carol/two" in p.stdout and "not submitted: scored 0" in p.stdout
    assert "7 notebooks graded (4 students committed), 0 failed, 0 skipped" in p.stdout
    assert grades(course)[("bob", "one", "test_alpha")] == (1.0, False)

    p = cli_run(course, "grade", ASG, "--grader", FAKE, module=False)      # the console script
    assert p.returncode == 0, p.stderr
    assert "0 notebooks graded (0 students committed), 0 failed, 4 skipped" in p.stdout
    assert "already graded (use --force to regrade)" in p.stdout

    p = cli_run(course, "grade", ASG, "--grader", FAKE, "--force", "--student", "bob", "--student", "nobody")
    assert p.returncode == 0, p.stderr
    assert "2 notebooks graded (1 students committed)" in p.stdout
    assert "nobody" in p.stdout and "no submission" in p.stdout

    p = cli_run(course, "report", ASG)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(course / ".autograder" / "reports" / ASG / f)
                                for f in ("report.html", "scores.csv", "diagnoses.csv")]


def test_failures_give_exit_code_1(course):  # noqa: F811
    submit(course, "eve", {"one": "# raise"})
    p = cli_run(course, "grade", ASG, "--grader", FAKE)
    assert p.returncode == 1
    assert re.search(r"^FAILED +eve/one +grader error: RuntimeError: grader exploded$", p.stdout, re.M)


def test_ctrl_c_stops_cleanly_and_rerun_finishes(course):  # noqa: F811
    for i in range(4):
        submit(course, f"slow{i}", {"one": "# score: 1\n# sleep 1.5", "two": "# score: 1\n# sleep 1.5"})
    env = dict(os.environ, PYTHONPATH=TESTS)
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASG, "--grader", FAKE,
                             "--workers", "2"], cwd=course, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stderr:
        if line.startswith("[3/"):
            break
    os.killpg(proc.pid, signal.SIGINT)          # Ctrl-C reaches the whole process group
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "INTERRUPTED: run again to finish." in out
    p = cli_run(course, "grade", ASG, "--grader", FAKE)
    assert p.returncode == 0, p.stderr
    g = grades(course)
    assert all(g[(f"slow{i}", "two", "test_beta")] == (3.0, False) for i in range(4))
    assert not list((course / "autograded").glob("*/.*"))


def test_usage_errors(tmp_path):
    p = cli_run(tmp_path, "grade", ASG)
    assert p.returncode == 2 and "no nbgrader_config.py" in p.stderr
    p = cli_run(tmp_path, "bogus")
    assert p.returncode == 2


def test_serve_as_names_a_real_account_and_needs_root(course):  # noqa: F811
    p = cli_run(course, "serve", "--as", "no-such-account-here", ASG)
    want = "no user 'no-such-account-here'" if os.geteuid() == 0 else "for a service started as root"
    assert p.returncode == 2 and want in p.stderr


def test_limits_from_options():
    unconfigured = SimpleNamespace(config=Config())
    args = cli._parser().parse_args(["grade", "a", "--timeout", "5", "--memory-limit", "512"])
    assert cli._limits(args, unconfigured) == Limits(cell_timeout=5.0, notebook_timeout=Limits().notebook_timeout,
                                                     memory_mb=512)
    args = cli._parser().parse_args(["grade", "a", "--timeout", "900"])
    assert cli._limits(args, unconfigured).notebook_timeout == 900


def test_progress_bar_on_a_tty():
    buf = io.StringIO()
    prog = Progress(3, buf, tty=True)
    job = NotebookJob(ASG, "s", "one", "/x", "{}", {})
    for _ in range(3):
        prog.update(job, NotebookResult(ASG, "s", "one", "graded", None), "1/1")
    prog.close()
    text = buf.getvalue()
    assert "3/3" in text and "nb/s" in text and "<00:00" in text      # count, rate, ETA
