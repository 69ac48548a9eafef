"""The course on a real JupyterHub (deploy/hub/), with real Unix accounts, driven in Chromium.

The test creates an instructor and two students (random names, removed afterwards), runs
`deploy/hub/course.py setup` and starts JupyterHub with its proxy on 127.0.0.1.  Then:

1. each student logs in (PAM), fetches `jacobians` from the Assignment List, answers
   jacobian.ipynb (the second with a transposed Jacobian), validates and submits, and may not
   open the Formgrader; "Fetch Feedback" waits until there is feedback, and no news pop-up shows;
2. as the second student's uid, while the first one's kernel prints: nothing of it by any
   channel (TCP and Unix sockets, connection files, ZeroMQ on every endpoint found); the Lab's
   terminal has the course's tools;
3. as the second student's uid: no file of the course's private parts (the checkout's
   source/, solutions/, autograding/, tests, .git; the course root with the gradebook) through
   the shell, the contents API by a symlink, or nbgrader; their own visible checks still work;
   nothing of the hub's own state;
4. as the second student's uid: no listing, reading, writing, renaming or deleting of the
   first student's submission, home or feedback, and a submission forged in the first
   student's name is not collected; a timestamp.txt rewritten after submitting is named by
   collect and the exchange's time counts;
5. the instructor lands on the hub's home page with the Formgrader one click away;
   the instructor grades with `autograder grade` (as root: the full sandbox), opens
   the Formgrader service, gives the written answer its point and releases feedback; each
   student fetches feedback and has their own score, and only theirs;
6. on a second hub, whose course grades `jacobians` on submit (`autograder serve`, managed by
   the hub): a student submits and fetches graded feedback on the same page moments later;
   the service runs as the instructor, the notebook under a throw-away uid.

Skipped with the reason where accounts cannot be created (not root) or a piece is missing.
Screenshots: artifacts/browser/<test name>/.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, TimeoutError as PlaywrightTimeout, expect

import answers
import hub_probes
import labui
from answers import ASSIGNMENT, NOTEBOOK
from conftest import ARTIFACTS, REPO, _clean_env, kill_tree
from ports import free_port

HUB_DIR = REPO / "deploy" / "hub"
sys.path.insert(0, str(HUB_DIR))
import course as hub_course  # noqa: E402  (deploy/hub/course.py)
from settings import Settings  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COURSE_ID = "jacobians-dl"
TRANSPOSED_CODE = dict(answers.CODE, jacobian_by_hand=answers.TRANSPOSED)
TRANSPOSED_POINTS = answers.AUTOGRADED_POINTS - 3      # jacobian_by_hand is worth 3


def _why_skip() -> str | None:
    if os.geteuid() != 0:
        return "creates Unix accounts and starts servers as them: run as root (CI does)"
    missing = [t for t in ("useradd", "userdel", "groupadd", "groupdel", "chpasswd", "runuser")
               if not shutil.which(t)]
    if missing:
        return f"missing {', '.join(missing)} (Debian's passwd/util-linux)"
    venv = Settings.from_env({}).venv
    if not (venv / "bin" / "python").exists():
        return f"{venv} is missing: `make hub-venv` (part of `make setup`)"
    if not (venv / "bin" / "configurable-http-proxy").exists():
        return "configurable-http-proxy is missing: `make deploy-deps` (npm) before `make hub-venv`"
    probe = subprocess.run(["runuser", "-u", "nobody", "--", str(venv / "bin" / "python"), "-c",
                            f"open({str(HUB_DIR / 'settings.py')!r}).close(); import torch"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return (f"other users cannot run {venv} or read {HUB_DIR} (is the clone under /root?); "
                f"clone the repository where every user can read it: {probe.stderr[-300:]}")
    return None


@dataclass
class Hub:
    settings: Settings
    env: dict
    url: str
    passwords: dict
    students: tuple
    log: Path

    def login(self, page: Page, user: str, next_path: str = "") -> None:
        page.goto(f"{self.url}/hub/login" + (f"?next={next_path}" if next_path else ""))
        page.fill("#username_input", user)
        page.fill("#password_input", self.passwords[user])
        page.click("#login_submit")

    def open_lab(self, page: Page, user: str) -> None:
        self.login(page, user)
        page.wait_for_url(re.compile(f"/user/{user}/lab"), timeout=180_000)
        expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=120_000)
        expect(page.locator("#jp-MainMenu")).to_be_visible()

    def as_user(self, user: str, code: str, *args: str) -> dict:
        """Run Python as `user` (their uid and groups); the code prints one JSON object."""
        proc = self.run_as(user, str(self.settings.venv / "bin" / "python"), "-c", code, *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def run_as(self, user: str, *cmd: str) -> subprocess.CompletedProcess:
        """`cmd` as `user` in their home, with the environment a student's server gives them."""
        home = pwd.getpwnam(user).pw_dir
        env = [f"{k}={v}" for k, v in dict(self.settings.environment("student"), HOME=home,
                                           USER=user, LC_ALL="C.UTF-8").items()]
        return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *env, *cmd],
                              capture_output=True, text=True, timeout=300, cwd=home)

    def inbound(self, student: str) -> list[Path]:
        return sorted((self.settings.exchange / COURSE_ID / "inbound").glob(f"{student}+{ASSIGNMENT}+*"))

    def instructor(self, *args: str) -> subprocess.CompletedProcess:
        proc = hub_course.as_instructor(self.settings, str(self.settings.venv / "bin" / "nbgrader"),
                                        *args, check=False)
        assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc


def _processes():
    """(pid, uid, command line as a list) of every process on the machine (read as root)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:             # it ended meanwhile
            continue
        yield int(pid), uid, args


def _kill_user_processes(uid: int) -> None:
    for pid, owner, _ in _processes():
        if owner == uid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _lab_settings(tmp: Path, user: str) -> None:
    """The browser tests' Lab settings (every cell in the DOM, no pop-ups) for a hub user."""
    settings = Path(_clean_env(tmp / f"settings-{user}")["JUPYTERLAB_SETTINGS_DIR"])
    home = Path(pwd.getpwnam(user).pw_dir)
    target = home / ".jupyter" / "lab" / "user-settings"
    shutil.copytree(settings, target, dirs_exist_ok=True)
    subprocess.run(["chown", "-R", f"{user}:", str(home / ".jupyter")], check=True)


def _checkout_modes() -> dict[Path, tuple[int, int]]:
    """(mode, gid) of the checkout's top-level entries: setup closes them, the test reopens them."""
    return {p: (p.lstat().st_mode, p.lstat().st_gid) for p in [REPO, *REPO.iterdir()] if not p.is_symlink()}


@pytest.fixture(scope="module")
def hub():
    with _running_hub() as running:
        yield running


@pytest.fixture(scope="module")
def submitting_hub():
    """A second hub, whose course grades `jacobians` as it is submitted (GRADE_ON_SUBMIT)."""
    with _running_hub(GRADE_ON_SUBMIT=ASSIGNMENT) as running:
        yield running


@contextlib.contextmanager
def _running_hub(**settings: str):
    reason = _why_skip()
    if reason:
        pytest.skip(reason)
    checkout = _checkout_modes()
    tag = secrets.token_hex(3)
    tmp = Path(tempfile.mkdtemp(prefix="hub-test-"))
    tmp.chmod(0o755)
    env = {
        "NBGRADER_COURSE_ID": COURSE_ID,
        "COURSE_INSTRUCTOR": f"agi{tag}",
        "COURSE_STUDENTS_GROUP": f"ag{tag}-students",
        "COURSE_GRADERS_GROUP": f"ag{tag}-graders",
        "NBGRADER_EXCHANGE_ROOT": str(tmp / "exchange"),
        "HUB_STATE_DIR": str(tmp / "state"),
        "HUB_PORT": str(free_port()),
        "HUB_API_PORT": str(free_port()),
        "PROXY_API_PORT": str(free_port()),
        "FORMGRADER_PORT": str(free_port()),
        **settings,
    }
    students = (f"ags{tag}a", f"ags{tag}b")
    s = Settings.from_env(env)
    users = (s.instructor, *students)
    passwords = {user: secrets.token_urlsafe(12) for user in users}
    proc = None
    try:
        hub_course.ensure_group(s.students_group)
        hub_course.ensure_group(s.graders_group)
        hub_course.ensure_user(s.instructor, groups=[s.graders_group], password=passwords[s.instructor])
        for student in students:
            hub_course.ensure_user(student, groups=[s.students_group], password=passwords[student])
        s = Settings.from_env(env)                     # the instructor's home exists now
        hub_course.setup(s, demo_users=False)
        for user in users:
            _lab_settings(tmp, user)

        log = tmp / "jupyterhub.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([str(s.venv / "bin" / "python"), "-m", "jupyterhub", "-f",
                                     str(HUB_DIR / "jupyterhub_config.py")],
                                    cwd=s.state, env=dict(os.environ, **env), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while "JupyterHub is now running" not in log.read_text():
            assert proc.poll() is None, f"jupyterhub exited:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"jupyterhub did not start:\n{log.read_text()[-4000:]}"
            time.sleep(0.5)
        yield Hub(settings=s, env=env, url=f"http://127.0.0.1:{s.hub_port}", passwords=passwords,
                  students=students, log=log)
    finally:
        if proc is not None:
            kill_tree(proc)
            (ARTIFACTS / "hub").mkdir(parents=True, exist_ok=True)
            shutil.copy(log, ARTIFACTS / "hub" / f"jupyterhub-{tag}.log")
        for user in users:
            try:
                uid = pwd.getpwnam(user).pw_uid
            except KeyError:
                continue
            _kill_user_processes(uid)
            subprocess.run(["userdel", "--remove", user], capture_output=True)
        for group in (s.students_group, s.graders_group):
            subprocess.run(["groupdel", group], capture_output=True)
        for path, (mode, gid) in checkout.items():
            os.chown(path, -1, gid)
            os.chmod(path, stat.S_IMODE(mode))
        shutil.rmtree(tmp, ignore_errors=True)


def _submit_from_lab(hub: Hub, page: Page, shots, student: str, code: dict[str, str]) -> None:
    hub.open_lab(page, student)
    page_config = json.loads(page.locator("#jupyter-config-data").text_content())
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(
        page_config["disabledExtensions"])
    labui.open_assignment_list(page)
    released = labui.assignment_rows(page, "released", 1)
    expect(released.locator(".item_course")).to_have_text(COURSE_ID)
    released.locator(".item_status button", has_text="Fetch").click()
    fetched = labui.assignment_rows(page, "fetched", 1)
    fetched.locator(".item_name a", has_text=ASSIGNMENT).click()
    notebooks = page.locator("#fetched_assignments_list .collapse.in .list_item .item_name")
    notebooks.filter(has_text=re.compile(f"^{NOTEBOOK}$")).locator("a").click()
    expect(labui.current_tab_label(page)).to_have_text(f"{NOTEBOOK}.ipynb", timeout=60_000)
    for name in code:                            # a loaded machine renders the cells late
        expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content",
                            has_text=f"def {name}(")).to_have_count(1, timeout=60_000)
    for name, source in code.items():
        labui.set_source(page, labui.code_cell(page, f"def {name}("), source)
    labui.set_markdown(page, labui.markdown_cell(page, "YOUR ANSWER HERE"), answers.EXPLANATION)
    shots(page, f"{student} answered")

    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").first.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible(timeout=300_000)
    if code == answers.CODE:
        expect(dialog).to_contain_text("Success! Your notebook passes all the tests.")
    shots(page, f"{student} validated")
    dialog.locator("button.jp-Dialog-button").first.click()
    expect(dialog).to_have_count(0)

    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="Assignments").click()
    labui.assignment_rows(page, "fetched", 1).locator(".item_status button", has_text="Submit").click()
    submitted = labui.assignment_rows(page, "submitted", 1)
    expect(submitted.locator(".item_name").first).to_have_text(ASSIGNMENT)
    # nothing to fetch yet: no "Fetch Feedback" to click, and no news pop-up ever came
    fetch_feedback = submitted.locator(".item_status button", has_text="Fetch Feedback")
    expect(fetch_feedback).to_have_count(1)
    expect(fetch_feedback).to_be_hidden()
    expect(page.get_by_text("official Jupyter news")).to_have_count(0)
    shots(page, f"{student} submitted")


def test_students_log_in_fetch_validate_and_submit(hub, new_page, shots):
    first, second = hub.students
    page = new_page()
    _submit_from_lab(hub, page, shots, first, answers.CODE)
    _submit_from_lab(hub, new_page(), shots, second, TRANSPOSED_CODE)
    # the Formgrader is the instructor's alone
    response = page.goto(f"{hub.url}/services/{COURSE_ID}/formgrader")
    assert response.status == 403
    shots(page, "student refused the formgrader")
    for student in hub.students:
        (folder,) = hub.inbound(student)
        assert folder.stat().st_uid == pwd.getpwnam(student).pw_uid
    (first_nb,) = [p / f"{NOTEBOOK}.ipynb" for p in hub.inbound(first)]
    assert "math.exp(x), 0.0" in first_nb.read_text()


WATCHED_CELL = """import time
for i in range(80):
    print("kernel-secret", i, flush=True)
    time.sleep(0.5)
"""


def _own_notebook(path: Path, source: str, owner: str) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "watched", "metadata": {},
                     "outputs": [], "source": source}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    shutil.chown(path, owner, owner)


def _kernel_connections(uid: int) -> list[dict]:
    """The connection files of `uid`'s running kernels (as root: from their command lines)."""
    found = []
    for _, owner, args in _processes():
        if owner == uid and "ipykernel_launcher" in " ".join(args):
            path = Path(args[args.index("-f") + 1])
            found.append(dict(json.loads(path.read_text()), file=str(path)))
    return found


def test_no_one_reaches_another_users_kernel(hub, new_page, shots):
    first, second = hub.students
    owner = pwd.getpwnam(first)
    _own_notebook(Path(owner.pw_dir) / "watched.ipynb", WATCHED_CELL, first)
    page = new_page()
    hub.open_lab(page, first)
    page.goto(f"{hub.url}/user/{first}/lab/tree/watched.ipynb?reset")
    expect(labui.current_tab_label(page)).to_have_text("watched.ipynb", timeout=60_000)
    try:                                         # the Lab may ask which kernel, once
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=15_000)
    except PlaywrightTimeout:
        pass
    cell = labui.code_cell(page, "kernel-secret")
    cell.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-OutputArea")).to_contain_text("kernel-secret 2", timeout=120_000)

    out = hub.as_user(second, hub_probes.KERNEL_CHANNELS, str(owner.pw_uid), owner.pw_dir, "8")
    expect(cell.locator(".jp-OutputArea")).to_contain_text("kernel-secret 20", timeout=60_000)
    shots(page, "the first student's kernel printing while the second one listens")
    assert out["received"] == [], out
    connections = _kernel_connections(owner.pw_uid)
    assert connections and {c["transport"] for c in connections} == {"ipc"}, connections
    for connection in connections:                  # sockets in a folder only the owner enters
        folder = Path(connection["ip"]).parent
        assert (folder.stat().st_uid, folder.stat().st_mode & 0o777) == (owner.pw_uid, 0o700)
        assert {f"{connection['ip']}-{connection[k]}" for k in ("shell_port", "iopub_port", "control_port")
                } <= set(out["kernel sockets"]), out   # the prober found them, and got nothing
    assert out["connection files"] and set(out["connection files"].values()) == {"PermissionError"}, out
    assert set(out["runtime folders"].values()) <= {"PermissionError"}, out
    assert set(out["unix connect"].values()) == {"PermissionError"}, out
    assert all(status != 200 for status in out["http"].values()), out


def test_the_lab_terminal_has_the_courses_tools(hub, new_page, shots):
    first = hub.students[0]
    home = Path(pwd.getpwnam(first).pw_dir)
    page = new_page()
    hub.open_lab(page, first)
    labui.menu(page, "File", "launcher:create")   # a student's way in; the palette's popup can close under a click
    page.locator(".jp-LauncherCard", has=page.locator(".jp-LauncherCard-label", has_text=re.compile("^Terminal$"))).click()
    terminal = page.locator(".jp-Terminal .xterm")
    expect(terminal).to_be_visible(timeout=60_000)
    terminal.click()
    page.keyboard.type("{ command -v nbgrader python; python -c 'import torch, autograder; print(\"ok\")'; }"
                       " > ~/tools.txt 2>&1\n")
    for _ in range(150):
        if (home / "tools.txt").exists() and "ok" in (home / "tools.txt").read_text():
            break
        page.wait_for_timeout(200)
    shots(page, "the terminal")
    venv_bin = hub.settings.venv / "bin"
    assert (home / "tools.txt").read_text().split() == [str(venv_bin / "nbgrader"), str(venv_bin / "python"), "ok"]


def _private_parts(hub: Hub) -> list[Path]:
    """The course's private parts, every file and folder of them: the checkout's instructor-only
    folders and the course root (gradebook, secret, source)."""
    tops = [REPO / name for name in ("source", "solutions", "autograding", "tests", "bench", ".git",
                                     "nbgrader_config.py")] + [hub.settings.course_root]
    found = []
    for top in tops:
        found += [top, *(top.rglob("*") if top.is_dir() else ())]
    return [p for p in found if not p.is_symlink()]


def _listed(hub: Hub, name: str, paths) -> str:
    listing = Path(hub.settings.state) / name
    listing.write_text("\n".join(map(str, paths)))
    listing.chmod(0o644)
    return str(listing)


LEAKS = {   # what a student would like to read, by a link in their home
    "peek-source.ipynb": REPO / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
    "peek-solution.ipynb": REPO / "solutions" / ASSIGNMENT / "dead_neurons.ipynb",
    "peek-exercises.py": REPO / "autograding" / ASSIGNMENT / "exercises.py",
    "peek-tests.py": REPO / "tests" / "browser" / "answers.py",
}


def test_the_course_private_parts_are_the_instructors_alone(hub, new_page, shots):
    first, second = hub.students
    s = hub.settings
    private = _private_parts(hub)
    assert any(p.name == "gradebook.db" for p in private) and len(private) > 100
    out = hub.as_user(second, hub_probes.READ_ALL, _listed(hub, "private-parts.txt", private))
    readable = [p for p, result in out.items() if result == "allowed"]
    assert not readable, f"{len(readable)} private paths readable by a student, e.g. {readable[:8]}"
    theirs = hub.as_user(s.instructor, hub_probes.READ_ALL, _listed(hub, "leaks.txt", LEAKS.values()))
    assert set(theirs.values()) == {"allowed"}, theirs          # the graders' group reads them
    shown = hub.run_as(second, "cat", str(LEAKS["peek-solution.ipynb"]), str(s.course_root / "gradebook.db"))
    assert shown.returncode != 0 and not shown.stdout

    # the contents API follows a link in the student's home with the student's rights
    home = Path(pwd.getpwnam(second).pw_dir)
    links = {**LEAKS, "peek-course-source.ipynb": s.course_root / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"}
    for name, target in links.items():
        assert hub.run_as(second, "ln", "-sfn", str(target), str(home / name)).returncode == 0
    page = new_page()
    hub.open_lab(page, second)
    for name in links:
        for path in (f"api/contents/{name}?content=1&type=file&format=text", f"files/{name}"):
            response = page.request.get(f"{hub.url}/user/{second}/{path}")
            assert response.status != 200, f"{path}: {response.status} {response.text()[:200]}"

    # nbgrader, pointed at the course or the checkout
    gradebook = hub.run_as(second, "nbgrader", "db", "student", "list", f"--CourseDirectory.root={s.course_root}")
    assert first not in gradebook.stdout + gradebook.stderr
    stolen = home / "stolen"
    hub.run_as(second, "nbgrader", "generate_solution", ASSIGNMENT, "--force", f"--CourseDirectory.root={REPO}",
               f"--CourseDirectory.solution_directory={stolen}")
    assert not stolen.exists() or not list(stolen.rglob("*.ipynb"))

    # what the student needs still works: the released notebook's own checks
    checked = hub.as_user(second, hub_probes.SELF_CHECK, str(home / ASSIGNMENT))
    assert checked["right"]["score"] == 3.0, checked
    assert checked["transposed"]["score"] < 3.0 and "transpose" in checked["transposed"]["printed"], checked


def test_the_hubs_state_is_the_hubs_alone(hub):
    s = hub.settings
    state = [p for p in s.state.rglob("*")
             if p.name in ("jupyterhub.sqlite", "jupyterhub_cookie_secret") and p.is_file()]
    assert len(state) == 2, state
    out = hub.as_user(hub.students[1], hub_probes.READ_ALL, _listed(hub, "hub-state.txt", state))
    assert set(out.values()) == {"PermissionError"}, out


# Run as the second student: each attempt on the first student's files, by exact path;
# prints {attempt: "allowed" or the error's type}.

SUBMISSION_ATTEMPTS = hub_probes.ATTEMPT + r"""
inbound, theirs, home, forged = sys.argv[1:5]
out = {
    "list inbound": attempt(lambda: os.listdir(inbound)),
    "read submission": attempt(lambda: open(os.path.join(theirs, "jacobian.ipynb")).read()),
    "overwrite submission": attempt(lambda: open(os.path.join(theirs, "jacobian.ipynb"), "w").close()),
    "add to submission": attempt(lambda: open(os.path.join(theirs, "extra.txt"), "w").close()),
    "rename submission": attempt(lambda: os.rename(theirs, theirs + "-moved")),
    "delete submission": attempt(lambda: os.rmdir(theirs)),
    "list home": attempt(lambda: os.listdir(home)),
}
os.mkdir(forged)
with open(os.path.join(forged, "jacobian.ipynb"), "w") as fh:
    fh.write("FORGED")
with open(os.path.join(forged, "timestamp.txt"), "w") as fh:
    fh.write(forged.split("+")[2])
print(json.dumps(out))
"""

FEEDBACK_ATTEMPTS = hub_probes.ATTEMPT + r"""
feedback, theirs = sys.argv[1:3]
print(json.dumps({
    "list feedback": attempt(lambda: os.listdir(feedback)),
    "overwrite feedback": attempt(lambda: open(theirs, "w").close()),
    "delete feedback": attempt(lambda: os.unlink(theirs)),
}))
"""


def test_one_student_cannot_touch_anothers_submission(hub):
    first, second = hub.students
    (theirs,) = hub.inbound(first)
    inbound = theirs.parent
    forged = inbound / f"{first}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged"
    out = hub.as_user(second, SUBMISSION_ATTEMPTS, str(inbound), str(theirs),
                      pwd.getpwnam(first).pw_dir, str(forged))
    assert out == {key: "PermissionError" for key in out}, out
    assert forged.is_dir() and forged.stat().st_uid == pwd.getpwnam(second).pw_uid


FORGED_TIME = "2026-01-01 00:00:00"

REWRITE = hub_probes.ATTEMPT + r"""
path, text = sys.argv[1:3]
def rewrite():
    with open(path, "w") as fh:
        fh.write(text)
print(json.dumps({"rewrite": attempt(rewrite)}))
"""


def test_a_submission_changed_after_submit_keeps_the_exchanges_time(hub):
    first, second = hub.students
    s = hub.settings
    (folder,) = hub.inbound(second)
    submitted_at = dt.datetime.fromtimestamp(folder.stat().st_ctime, dt.timezone.utc).replace(tzinfo=None)
    assert hub.as_user(second, REWRITE, str(folder / "timestamp.txt"), FORGED_TIME) == {"rewrite": "allowed"}

    collected = hub.instructor("collect", ASSIGNMENT)
    log = collected.stdout + collected.stderr
    assert "claims to be" in log                                # the forged folder, skipped
    said = [line for line in log.splitlines() if "timestamp.txt says" in line]
    assert len(said) == 1 and f"{second}+" in said[0] and FORGED_TIME in said[0], log
    submitted = s.course_root / "submitted" / first / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert "math.exp(x), 0.0" in submitted.read_text() and "FORGED" not in submitted.read_text()
    from nbgrader.utils import parse_utc
    kept = parse_utc((s.course_root / "submitted" / second / ASSIGNMENT / "timestamp.txt").read_text())
    assert submitted_at <= kept.replace(tzinfo=None) <= dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), kept


def _gradebook(hub: Hub):
    from nbgrader.api import Gradebook
    return Gradebook(f"sqlite:///{hub.settings.course_root / 'gradebook.db'}", COURSE_ID)


def test_the_instructor_lands_one_click_from_the_formgrader(hub, new_page, shots):
    page = new_page()
    hub.login(page, hub.settings.instructor)
    page.wait_for_url(re.compile("/hub/home"), timeout=60_000)
    shots(page, "instructor's landing page")
    page.locator("#formgrader").click()
    page.wait_for_url(re.compile(f"/services/{COURSE_ID}/formgrader"), timeout=120_000)
    expect(page.locator("table tbody tr", has_text=ASSIGNMENT)).to_be_visible(timeout=60_000)
    shots(page, "the formgrader, one click on")
    student_page = new_page()
    hub.login(student_page, hub.students[0])       # a student's landing is their Lab, no button
    student_page.wait_for_url(re.compile(f"/user/{hub.students[0]}/lab"), timeout=180_000)
    student_page.goto(f"{hub.url}/hub/home")
    expect(student_page.locator("#start")).to_be_visible()
    expect(student_page.locator("#formgrader")).to_have_count(0)


def test_instructor_grades_on_the_hub_and_each_student_sees_only_their_feedback(hub, new_page, shots):
    first, second = hub.students
    s = hub.settings
    graded = subprocess.run([sys.executable, str(HUB_DIR / "course.py"), "grade", ASSIGNMENT],
                            env=dict(os.environ, **hub.env), capture_output=True, text=True,
                            timeout=900)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert not [p for p in s.course_root.rglob("*") if p.stat().st_uid == 0]   # handed back
    with _gradebook(hub) as gb:
        scores = {st: gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, st).code_score
                  for st in hub.students}
        (sub_nb_id,) = [gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, first).id]
    assert scores == {first: answers.AUTOGRADED_POINTS, second: TRANSPOSED_POINTS}

    # --- the Formgrader service, as the instructor ---------------------------------------
    page = new_page()
    formgrader = f"/services/{COURSE_ID}/formgrader"
    hub.login(page, s.instructor, next_path=formgrader)
    page.wait_for_url(re.compile(f"{formgrader}"), timeout=120_000)
    row = page.locator("table tbody tr", has_text=ASSIGNMENT)
    expect(row.locator("td.num-submissions")).to_have_text("2", timeout=60_000)
    shots(page, "formgrader on the hub")
    page.goto(f"{hub.url}{formgrader}/submissions/{sub_nb_id}/")
    score_input = page.locator("input#explain_jacobian_entry")
    expect(score_input).to_be_visible(timeout=60_000)
    expect(page.locator("body")).to_contain_text("partial derivative of output i")
    page.wait_for_load_state("networkidle")      # the grades are loaded: the input is theirs now
    score_input.fill("1")
    score_input.press("Tab")
    for _ in range(100):
        with _gradebook(hub) as gb:
            manual = gb.find_grade("explain_jacobian_entry", NOTEBOOK, ASSIGNMENT, first).manual_score
        if manual == 1.0:
            break
        page.wait_for_timeout(200)
    assert manual == 1.0
    shots(page, "written answer graded")

    page.goto(f"{hub.url}{formgrader}/manage_assignments")
    row = page.locator("table tbody tr", has_text=ASSIGNMENT)
    row.locator("td.generate-feedback a").click()
    modal = page.locator(".modal.in")
    expect(modal).to_contain_text(f"Successfully generated feedback of '{ASSIGNMENT}'", timeout=300_000)
    modal.locator(".modal-footer button").last.click()
    row.locator("td.release-feedback a").click()
    expect(modal).to_contain_text(f"Successfully released feedback of '{ASSIGNMENT}'", timeout=120_000)
    shots(page, "feedback released")
    modal.locator(".modal-footer button").last.click()

    # --- each student fetches their feedback ------------------------------------------------
    expected = {first: answers.AUTOGRADED_POINTS + 1, second: TRANSPOSED_POINTS}
    for student in hub.students:
        student_page = new_page()
        hub.open_lab(student_page, student)
        labui.open_assignment_list(student_page)
        row = labui.assignment_rows(student_page, "submitted", 1)
        expect(row).to_contain_text("feedback available to fetch", timeout=60_000)
        row.locator(".item_status button", has_text="Fetch Feedback").click()
        expect(student_page.locator("#submitted_assignments_list a", has_text="view feedback")).to_be_visible(
            timeout=60_000)
        shots(student_page, f"{student} fetched feedback")
        home = Path(pwd.getpwnam(student).pw_dir)
        (html,) = list((home / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))
        text = html.read_text()
        assert f"{NOTEBOOK} (Score: {expected[student]:.1f} / 8.0)" in text
        # the second student's written answer is not graded by hand yet, and reads so
        assert ("not graded yet / 1.0" in text) == (student == second)
        assert "<math" in text and not re.search(r"<script[^>]*mathjax", text, re.I)   # math offline
        other = next(o for o in hub.students if o != student)
        assert other not in text

    # --- and the second student still cannot reach the first one's feedback ---------------
    feedback_dir = s.exchange / COURSE_ID / "feedback"
    theirs = next(p for p in feedback_dir.iterdir()
                  if f"{NOTEBOOK} (Score: {expected[first]:.1f}" in p.read_text())
    out = hub.as_user(second, FEEDBACK_ATTEMPTS, str(feedback_dir), str(theirs))
    assert out == {key: "PermissionError" for key in out}, out


# A line the submitted notebook prints as it runs: the uid the grader ran it under.
UID_PROBE = "import os\nprint('notebook uid', os.getuid())\n\n"


def test_graded_on_submit_the_student_fetches_feedback_seconds_later(submitting_hub, new_page, shots):
    """`make hub` with GRADE_ON_SUBMIT: the hub runs `autograder serve`; a student who submits
    from the Assignment List fetches graded feedback on the same page moments later. The
    service goes on as the instructor (all it writes is theirs), while each notebook still runs
    in the full sandbox, under a throw-away uid."""
    hub = submitting_hub
    s = hub.settings
    student = hub.students[0]
    page = new_page()
    _submit_from_lab(hub, page, shots, student,
                     dict(answers.CODE, jacobian_by_hand=UID_PROBE + answers.CODE["jacobian_by_hand"]))
    submitted = time.monotonic()
    for _ in range(120):            # the student refreshes the list until there is feedback
        page.locator("#refresh_assignments_list").click()
        row = labui.assignment_rows(page, "submitted", 1)
        if "feedback available to fetch" in row.inner_text():
            break
        page.wait_for_timeout(500)
    waited = time.monotonic() - submitted
    expect(row).to_contain_text("feedback available to fetch")
    row.locator(".item_status button", has_text="Fetch Feedback").click()
    expect(page.locator("#submitted_assignments_list a", has_text="view feedback")).to_be_visible(timeout=60_000)
    shots(page, f"feedback fetched {waited:.0f} s after submitting")
    (html,) = list((Path(pwd.getpwnam(student).pw_dir) / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))
    text = html.read_text()
    assert f"{NOTEBOOK} (Score: {answers.AUTOGRADED_POINTS:.1f} / 8.0)" in text
    assert "not graded yet / 1.0" in text        # the written answer waits for the instructor

    instructor = pwd.getpwnam(s.instructor).pw_uid
    autograded = s.course_root / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for written in (autograded, s.course_root / "gradebook.db",
                    s.course_root / ".autograder" / "serve" / "journal.sqlite"):
        assert written.stat().st_uid == instructor, written
    ran_as = int(re.search(r"notebook uid (\d+)", autograded.read_text()).group(1))
    assert ran_as not in (0, instructor, pwd.getpwnam(student).pw_uid)
    assert {uid for _, uid, args in _processes() if args[1:4] == ["-m", "autograder", "serve"]} == {instructor}
    assert "serving jacobians" in hub.log.read_text()
