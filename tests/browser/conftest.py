"""Fixtures for the browser tests: a throw-away course, two JupyterLab servers, Chromium.

Layout of one test session (all under pytest's tmp dir, nothing read from or written to
the real HOME or Jupyter config):

    <tmp>/home/                 HOME, JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, Lab settings
    <tmp>/course/               copy of source/ + nbgrader_config.py; generate + release run here
    <tmp>/exchange/             the exchange (NBGRADER_EXCHANGE_ROOT), shared by both servers
    <tmp>/students/alice/       the student's Lab root (nbgrader_config.py written by lab.py)

Both servers are started with scripts/lab.py (what `make lab` runs): the instructor's with
the course as its root, the student's with `--student alice`.  Everything runs as one OS
user, so the student id comes from `CourseDirectory.student_id` rather than the login name.

Screenshots go to artifacts/browser/<test name>/ (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder.dev import scaffold
from autograder.course.directory import Course, load_course

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts" / "browser"
from answers import ASSIGNMENT, STUDENT
from ports import free_port
VENV_BIN = Path(sys.executable).parent

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
]


def _why_skip() -> str | None:
    if not CHROMIUM.exists():
        return (f"{CHROMIUM} is missing: install Debian's chromium (`make setup` does, "
                "or `apt-get install chromium` as root) to run the browser tests")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    if not (REPO / "source" / ASSIGNMENT).is_dir():
        return f"source/{ASSIGNMENT} does not exist yet"
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    reason = _why_skip()
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# --------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_tree(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """Stop a process started with start_new_session=True, and everything under it.

    lab.py runs jupyter in its own session and jupyter runs kernels in theirs, so one
    killpg is not enough: remember every descendant first, ask politely, then SIGKILL
    whatever is left.
    """
    pids = [proc.pid] + descendants(proc.pid)
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    groups.discard(os.getpgid(0))  # never our own group
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    pids += [p for p in descendants(proc.pid) if p not in pids]
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if proc.poll() is None:
        proc.wait(5)
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def stop_all(procs: list[subprocess.Popen]) -> None:
    """Ask every server to stop at once (each takes a few seconds), then make sure."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for proc in procs:
        kill_tree(proc)


@dataclass
class LabServer:
    name: str
    root: Path
    port: int
    token: str
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str) -> object:
        with urllib.request.urlopen(self.url(path), timeout=30) as r:
            return json.loads(r.read())

    def banner(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Stop with Ctrl-C." in self.banner():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited:\n{self.banner()[-4000:]}")
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} server not ready after {timeout} s:\n{self.banner()[-4000:]}")


@dataclass
class LabSession:
    """The browser tests' world: the course (as the servers read it), the student's folder and
    the two Lab servers, all under one temp dir with its own environment."""
    tmp: Path
    env: dict
    home: Path
    course: Course
    student_root: Path
    instructor: LabServer = None
    student: LabServer = None
    procs: list = field(default_factory=list)

    @property
    def root(self) -> Path:
        return Path(self.course.root)

    def run(self, *cmd: str, cwd: Path | None = None, check: bool = True, timeout: float = 600,
            env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([str(c) for c in cmd], cwd=cwd or self.root, env=env or self.env,
                                capture_output=True, text=True, timeout=timeout,
                                start_new_session=True)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def nbgrader(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(VENV_BIN / "nbgrader", *args, **kw)

    def inbound(self) -> list[Path]:
        inbound = Path(self.course.exchange_root) / self.course.course_id / "inbound"
        return sorted(inbound.glob(f"{STUDENT}+{ASSIGNMENT}+*"))


def _course_as_the_servers_see_it(root: Path, env: dict) -> Course:
    """nbgrader_config.py reads NBGRADER_* variables: load the course in the servers' environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name in set(os.environ) - set(env):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        return load_course(str(root))


def _clean_env(tmp: Path) -> dict:
    """An environment that shares nothing with the machine's Jupyter or nbgrader setup."""
    env = {k: v for k, v in os.environ.items()
           if k in {"LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM", "USER", "LOGNAME", "SHELL"}}
    home = tmp / "home"
    env.update({
        "PATH": os.pathsep.join([str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / ".jupyter" / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / ".jupyter" / "lab" / "workspaces"),
        "IPYTHONDIR": str(home / ".ipython"),
        "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
        "MPLBACKEND": "agg",
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYTHONUNBUFFERED": "1",
        "NBGRADER_EXCHANGE_ROOT": str(tmp / "exchange"),
    })
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                "MPLCONFIGDIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    # Lab settings that make the UI deterministic: every cell stays in the DOM, no news
    # or update pop-ups over the page.
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
    for plugin, values in {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    }.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    return env


def _start_lab(c: LabSession, name: str, root: Path, *extra: str) -> LabServer:
    server = LabServer(name=name, root=root, port=free_port(), token=f"token-{name}-{os.getpid()}",
                       log=c.tmp / f"lab-{name}.log")
    with open(server.log, "w") as log:
        server.proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "lab.py"), "--course-root", str(c.root),
             "--port", str(server.port), "--token", server.token, *extra],
            cwd=c.tmp, env=c.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    c.procs.append(server.proc)
    return server


@pytest.fixture(scope="session")
def lab_course(tmp_path_factory):
    """A released course with an instructor's Lab and a student's Lab running on it."""
    tmp = tmp_path_factory.mktemp("browser-course")
    env = _clean_env(tmp)
    root = scaffold.make_course(tmp / "course", release=False)
    c = LabSession(tmp=tmp, env=env, home=tmp / "home", course=_course_as_the_servers_see_it(root, env),
                   student_root=tmp / "students" / STUDENT)
    try:
        c.nbgrader("generate_assignment", ASSIGNMENT, "--force")
        c.nbgrader("release_assignment", ASSIGNMENT, "--force")
        c.nbgrader("db", "student", "add", STUDENT, "--first-name", "Alice", "--last-name", "Liddell")
        released = Path(c.course.exchange_root) / c.course.course_id / "outbound" / ASSIGNMENT
        assert released.is_dir(), f"release_assignment put nothing in {released}"

        c.instructor = _start_lab(c, "instructor", c.root)
        c.student = _start_lab(c, "student", c.student_root, "--student", STUDENT,
                               "--student-root", str(c.student_root))
        for server in (c.instructor, c.student):
            server.wait_ready()
            assert "[!!]" not in server.banner(), f"lab.py reported a problem:\n{server.banner()}"
        yield c
    finally:
        stop_all(c.procs)


# --------------------------------------------------------------------------------------
# the browser
# --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Shots:
    """Numbered PNG screenshots of one test's key steps under artifacts/browser/<test>/."""

    def __init__(self, folder: Path):
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.n = 0

    def __call__(self, page, name: str, full_page: bool = False) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def shots(request) -> Shots:
    return Shots(ARTIFACTS / request.node.name)


@pytest.fixture
def new_page(chromium, shots, request):
    """new_page() -> a fresh page in its own browser context (own cookies per role).

    When the test fails, every page it opened is photographed as it was at the failure.
    """
    contexts = []

    def make():
        context = chromium.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for context in contexts:
        if failed:
            for page in context.pages:
                try:
                    shots(page, "FAILED")
                except Exception:
                    pass
        context.close()


def submit_with_cli(c: LabSession) -> None:
    """Alice's submission made with nbgrader's CLI -- the same answers the student test types.

    Used by the instructor's test when it runs without the student's test before it.
    """
    import nbformat

    import answers

    work = c.student_root / ASSIGNMENT
    if not work.exists():
        c.nbgrader("fetch_assignment", ASSIGNMENT, cwd=c.student_root)
    path = work / f"{answers.NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    sources = {**answers.CODE, **answers.MANUAL}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    nbformat.write(nb, path)
    c.nbgrader("submit", ASSIGNMENT, cwd=c.student_root)
