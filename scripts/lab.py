#!/usr/bin/env python
"""Start JupyterLab for this course, with nbgrader's Lab and server extensions.

`make lab` runs this script.  It starts JupyterLab 4 on localhost in one of two roles:

* instructor (default): the server's root is the course root (where `nbgrader_config.py`
  is), so the Formgrader, Create Assignment, Assignment List and Validate panels all see
  the course, its gradebook and its course-local exchange;
* student (`--student ID`): the server's root is a private folder for that student (by
  default `artifacts/lab/students/ID/`), configured to fetch from and submit to the same
  exchange under that student id.  The instructor-only panels are hidden, as they would
  be for students on a JupyterHub.

Before handing over it checks that the extensions answer and prints the URL (with its
token) to open.  Ctrl-C stops the server.  See docs/lab.md.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

from autograder.course.directory import Course, load_course

REPO_ROOT = Path(__file__).resolve().parent.parent

NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
)
# Lab plugins a student should not see (what nbgrader's docs disable on a JupyterHub).
INSTRUCTOR_ONLY_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:create-assignment",
)
# The Lab's news pop-up, which offers to fetch from the internet: off for everyone.
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"
NBGRADER_LABEXTENSION = "@jupyter/nbgrader"
# nbgrader's Assignment List offers "Fetch Feedback" for every submitted assignment. Shown only
# when one of its submissions has feedback to fetch: that submission's row then carries a note,
# an empty span otherwise (and a link once fetched).
ASSIGNMENT_LIST_CSS = """\
#submitted_assignments_list > .list_item:not(:has(.nested_list_item .item_name > span:not(:empty)))
  > .col-md-12 > .item_status > button {
  display: none;
}
"""


def lab_course(course_root: Path) -> Course:
    """The course nbgrader sees from `course_root`, which must hold its nbgrader_config.py and
    name a course id (the Lab's Assignment List and the students' config need one)."""
    course_root = course_root.resolve()
    if not (course_root / "nbgrader_config.py").is_file():
        raise SystemExit(f"error: no nbgrader_config.py in {course_root}; is that the course root?")
    course = load_course(str(course_root))
    if not course.course_id:
        raise SystemExit("error: nbgrader_config.py sets no CourseDirectory.course_id")
    return course


def free_port(ip: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def port_is_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, port))
        except OSError:
            return False
        return True


def write_student_config(student_root: Path, student_id: str, course: Course) -> Path:
    """The student's own nbgrader_config.py: which course, which exchange, which id.

    On a JupyterHub each student is an OS user and nbgrader takes the id from the user
    name; on one machine every student is the same OS user, so the id is set explicitly
    (`CourseDirectory.student_id`, the same as `nbgrader submit --student`).
    """
    student_root.mkdir(parents=True, exist_ok=True)
    path = student_root / "nbgrader_config.py"
    path.write_text(textwrap.dedent(f"""\
        # Written by scripts/lab.py for the student view of course {course.course_id!r}.
        # On a JupyterHub the same settings live in /etc/jupyter/nbgrader_config.py and
        # the student id is the user's login name.
        c = get_config()  # noqa: F821
        c.CourseDirectory.course_id = {course.course_id!r}
        c.CourseDirectory.student_id = {student_id!r}
        c.Exchange.root = {str(course.exchange_root)!r}
        c.Exchange.cache = {str(student_root / '.nbgrader_cache')!r}
        c.Exchange.assignment_dir = {str(student_root)!r}
        """))
    return path


def write_server_config(config_dir: Path, student: bool) -> None:
    """Config that `jupyter lab` reads from an extra JUPYTER_CONFIG_PATH entry."""
    (config_dir / "labconfig").mkdir(parents=True, exist_ok=True)
    (config_dir / "custom").mkdir(exist_ok=True)
    (config_dir / "custom" / "custom.css").write_text(ASSIGNMENT_LIST_CSS)
    server = {"ServerApp": {"jpserver_extensions": {name: True for name in NBGRADER_SERVER_EXTENSIONS},
                            # where the Lab's /custom/custom.css comes from (not the user's ~/.jupyter)
                            "tornado_settings": {"static_custom_path": [str(config_dir / "custom")]}},
              "LabApp": {"custom_css": True}}
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(server, indent=2))
    disabled = [NEWS_PLUGIN, *(INSTRUCTOR_ONLY_PLUGINS if student else ())]
    page = {"disabledExtensions": dict.fromkeys(disabled, True)}
    (config_dir / "labconfig" / "page_config.json").write_text(json.dumps(page, indent=2))


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def wait_until_ready(base: str, token: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"error: jupyter lab exited with status {proc.returncode} while starting")
        try:
            status, _ = http_get(f"{base}/api/status?token={token}", timeout=2)
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"error: jupyter lab did not answer on {base} within {timeout:.0f} s")


def check_extensions(base: str, token: str, course: Course, student: bool) -> list[tuple[str, bool, str]]:
    """Ask the running server whether each nbgrader piece is there; (name, ok, detail)."""
    import nbgrader

    checks: list[tuple[str, bool, str]] = []
    status, body = http_get(f"{base}/lab?token={token}")
    page_config = {}
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S)
    if status == 200 and match:
        page_config = json.loads(html.unescape(match.group(1)))
    federated = {ext.get("name") for ext in page_config.get("federated_extensions", [])}
    disabled = page_config.get("disabledExtensions", [])
    if isinstance(disabled, dict):
        disabled = [k for k, v in disabled.items() if v]
    checks.append(("nbgrader Lab extension", NBGRADER_LABEXTENSION in federated,
                   "loaded in /lab" if NBGRADER_LABEXTENSION in federated else "missing from /lab page config"))

    status, body = http_get(f"{base}/nbgrader_version?version={nbgrader.__version__}&token={token}")
    ok = status == 200 and json.loads(body).get("success") is True
    checks.append(("Assignment List (Nbgrader > Assignment List)", ok,
                   "server extension answers" if ok else f"HTTP {status}: {body[:200]}"))

    status, body = http_get(f"{base}/assignments?course_id={course.course_id}&token={token}")
    detail = f"HTTP {status}"
    ok = False
    if status == 200:
        answer = json.loads(body)
        ok = answer.get("success") is True
        if ok:
            released = sorted({a["assignment_id"] for a in answer["value"] if a.get("status") == "released"})
            detail = ("released: " + ", ".join(released)) if released else "exchange reachable, nothing released yet"
        else:
            detail = str(answer.get("value"))[:300]
    checks.append((f"Exchange {course.exchange_root}", ok, detail))

    # The validate handler takes POST only: a GET answers 405 when the route exists, 404 if not.
    status, _ = http_get(f"{base}/assignments/validate?token={token}")
    checks.append(("Validate button (notebook toolbar)", status == 405,
                   "server extension answers" if status == 405 else f"validate endpoint: HTTP {status}"))

    if student:
        hidden = all(p in disabled for p in INSTRUCTOR_ONLY_PLUGINS)
        checks.append(("Formgrader / Create Assignment hidden for students", hidden,
                       "disabled in page config" if hidden else f"disabled: {disabled}"))
    else:
        status, body = http_get(f"{base}/formgrader/api/assignments?token={token}")
        ok = status == 200
        checks.append(("Formgrader (Nbgrader > Formgrader)", ok,
                       f"gradebook {course.db_url}" if ok else f"HTTP {status}: {body[:200]}"))
        create_ok = "@jupyter/nbgrader:create-assignment" not in disabled and NBGRADER_LABEXTENSION in federated
        checks.append(("Create Assignment (Nbgrader > Create Assignment, in a notebook)", create_ok,
                       "enabled" if create_ok else "disabled in page config"))
    return checks


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Start JupyterLab for this nbgrader course (instructor view, or a student's with --student).")
    p.add_argument("--course-root", type=Path, default=REPO_ROOT,
                   help="folder holding nbgrader_config.py and source/ (default: this repository)")
    p.add_argument("--student", metavar="ID",
                   help="start a student's Lab instead: fetch/validate/submit as student ID")
    p.add_argument("--student-root", type=Path,
                   help="the student's notebook folder (default: <course root>/artifacts/lab/students/ID)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="port (default: 8888 for the instructor, 8889 for a student, or a free one; 0: any free port)")
    p.add_argument("--token", default=os.environ.get("JUPYTER_TOKEN") or None,
                   help="access token (default: $JUPYTER_TOKEN or a fresh random one)")
    p.add_argument("--open-browser", action="store_true", help="also open a web browser")
    p.add_argument("--check", action="store_true",
                   help="start, check that every nbgrader panel answers, print the result and stop")
    p.add_argument("--startup-timeout", type=float, default=90.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    course = lab_course(args.course_root)
    exchange_root = Path(course.exchange_root).resolve()
    student = bool(args.student)
    if student and ("*" in args.student or "+" in args.student or "/" in args.student):
        raise SystemExit("error: a student id may not contain '*', '+' or '/'")

    # nbgrader's release creates the exchange (mode 0777) on the first release; until then
    # the Assignment List reports it missing.  The instructor creates it up front, the same way.
    if not student and not exchange_root.exists():
        exchange_root.mkdir(parents=True)
        exchange_root.chmod(0o777)
        print(f"created the exchange {exchange_root}")

    if student:
        root = (args.student_root or Path(course.root) / "artifacts" / "lab" / "students" / args.student).resolve()
        write_student_config(root, args.student, course)
    else:
        root = Path(course.root)

    port = args.port
    if port == 0:  # "any free port"
        port = free_port(args.ip)
    elif port is None:
        preferred = 8889 if student else 8888
        port = preferred if port_is_free(args.ip, preferred) else free_port(args.ip)
    token = args.token or secrets.token_hex(24)
    base = f"http://{args.ip}:{port}"

    config_dir = Path(tempfile.mkdtemp(prefix="course-lab-config-"))
    write_server_config(config_dir, student)
    env = dict(os.environ)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(config_dir)] + [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p])
    # jupyter_client maps the "python" kernel to this interpreter; keep the venv first on PATH
    # so `!pip`, `!nbgrader` etc. in a notebook use the course environment too.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_TOKEN"] = token

    cmd = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=" + ("True" if args.open_browser else "False"),
        "--LabApp.news_url=",
        "--LabServerApp.extra_labextensions_path=[]",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # containers and CI often run as root
    # nbgrader's server extensions read nbgrader_config.py from the server's working
    # directory, so the server runs inside its root.
    proc = subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True)

    def forward(signum, _frame):
        # Only unwind here: the `finally` below stops the server.  (Stopping it inside the
        # handler would deadlock when the signal lands while the main thread sits in
        # proc.wait(), which holds the Popen's wait lock.)
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    handled = [signal.SIGTERM, signal.SIGINT] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    for sig in handled:
        signal.signal(sig, forward)

    try:
        wait_until_ready(base, token, proc, args.startup_timeout)
        checks = check_extensions(base, token, course, student)
        role = f"student view for '{args.student}'" if student else "instructor view"
        lines = [
            "",
            "=" * 78,
            f" JupyterLab for course '{course.course_id}' ({role}) is running.",
            "",
            f"   Open:   {base}/lab?token={token}",
            f"   Token:  {token}   (paste it if the login page asks)",
            f"   Root:   {root}",
            f"   Exchange: {exchange_root}",
        ]
        if not student:
            lines.append(f"   Gradebook: {course.db_url}")
        lines += ["", " nbgrader:"]
        for name, ok, detail in checks:
            lines.append(f"   [{'ok' if ok else '!!'}] {name}: {detail}")
        lines.append("")
        if student:
            lines += [
                " Nbgrader > Assignment List: fetch, open a notebook, press Validate in its",
                " toolbar, then Submit in the list. Feedback appears there once released.",
            ]
        else:
            lines += [
                " Nbgrader > Formgrader: generate/release, collect, grade, feedback.",
                " Try the student's side in a second Lab:  .venv/bin/python scripts/lab.py --student alice",
            ]
        lines += [" Stop with Ctrl-C.", "=" * 78, ""]
        print("\n".join(lines), flush=True)
        if args.check:
            return 0 if all(ok for _, ok, _ in checks) else 1
        return proc.wait()
    finally:
        stop(proc)
        shutil.rmtree(config_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
