#!/usr/bin/env python
"""Set up and run the course on a JupyterHub host (as root).  Settings: settings.py.

    course.py setup [--demo-users]   groups, the exchange, generated Jupyter config, the course
                                     in the instructor's home, the assignment released
    course.py grade jacobians [...]  `autograder grade` in the course root as root (the full
                                     sandbox), then the files handed back to the instructor
    course.py env                    the instructor's environment, for `eval "$(… env)"`

Who can read what (why: docs/deploy.md): the checkout this runs from is open to students only
where their processes run code (RUN_BY_STUDENTS, the hub's Python); the rest of it, and the
course root, belong to the graders.  The hub's state directory holds:

    <state>/private/            root      0700  the hub's database and cookie secret
    <state>/jupyter-<role>/     root      0755  generated Jupyter config
    <state>/runtime/            root      0711  not listable
        <uid>/                  the user  0700  their Jupyter runtime: connection files, kernels'
                                                sockets (private_kernels.py)

The exchange is nbgrader's file-system exchange with these permissions:

    <exchange>/                 root      1777  anyone may create a course, nobody may
                                                rename or delete another's
    <exchange>/<course>/        instructor 0755
        outbound/               instructor 0755  released assignments, readable by all
        inbound/                instructor:graders 3733  submit-only: not listable, sticky,
                                                new submissions get the graders group
        feedback/               instructor 0711  reachable only by a file's secret name
"""
from __future__ import annotations

import argparse
import grp
import importlib.util
import os
import pwd
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from settings import ASSIGNMENT, REPO, Settings  # noqa: E402

DEMO_STUDENTS = ("student1", "student2")
# What of the checkout students' processes run (with the hub's Python, when it lives here);
# .venv too: the grader's sandbox runs a submission from it under a throw-away uid, which may
# import a library the warm-up did not. It holds installed packages only, nothing of the course.
RUN_BY_STUDENTS = ("autograder", "deploy", ".venv")


def _lab_script():
    """scripts/lab.py (what `make lab` runs): it writes the servers' Jupyter config."""
    spec = importlib.util.spec_from_file_location("course_lab", REPO / "scripts" / "lab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("stdin", None if "input" in kw else subprocess.DEVNULL)
    return subprocess.run(cmd, check=True, **kw)


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run("groupadd", "--system", name)
        return grp.getgrnam(name).gr_gid


def ensure_user(name: str, *, groups: list[str], password: str | None = None) -> None:
    """A login with a private home (0700: the nbgrader cache and notebooks are in it)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run("useradd", "--create-home", "--shell", "/bin/bash", "-K", "HOME_MODE=0700", name)
    _run("usermod", "--append", "--groups", ",".join(groups), name)
    if password is not None:
        _run("chpasswd", input=f"{name}:{password}\n".encode())


def _dir(path: Path, owner: str, group: str | None, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, owner, group or pwd.getpwnam(owner).pw_gid)
    os.chmod(path, mode)


def setup_exchange(s: Settings) -> None:
    _dir(s.exchange, "root", "root", 0o1777)
    course = s.exchange / s.course_id
    _dir(course, s.instructor, None, 0o755)
    _dir(course / "outbound", s.instructor, None, 0o755)
    _dir(course / "inbound", s.instructor, s.graders_group,
         stat.S_ISGID | stat.S_ISVTX | 0o733)
    _dir(course / "feedback", s.instructor, None, 0o711)


def close_checkout(s: Settings) -> None:
    """Every top-level entry of the checkout but what students' processes run becomes the
    graders' (group) and nobody else's: source/, solutions/, autograding/, tests/, bench/,
    .git and whatever course was kept there."""
    run = {*RUN_BY_STUDENTS, *([s.venv.name] if s.venv.parent == REPO else [])}
    graders = grp.getgrnam(s.graders_group).gr_gid
    os.chmod(REPO, 0o755)
    for entry in REPO.iterdir():
        if entry.name in run or entry.is_symlink():
            continue
        mode = stat.S_IMODE(entry.lstat().st_mode)
        os.chown(entry, -1, graders)
        os.chmod(entry, (mode & 0o700) | (mode & 0o500) >> 3)


def ensure_runtime_dir(s: Settings, user: str) -> None:
    """`user`'s Jupyter runtime directory, theirs alone, in a folder nobody can list or change."""
    _dir(s.runtime_dir(user).parent, "root", "root", 0o711)
    _dir(s.runtime_dir(user), user, None, 0o700)


def setup_state(s: Settings) -> None:
    _dir(s.state, "root", "root", 0o755)
    _dir(s.hub_private, "root", "root", 0o700)
    ensure_runtime_dir(s, s.instructor)


def setup_jupyter_config(s: Settings) -> None:
    lab = _lab_script()
    for role in ("student", "instructor"):
        target = s.jupyter_config(role)
        lab.write_server_config(target, student=(role == "student"))
        for dirname, _, _ in os.walk(target):
            os.chmod(dirname, 0o755)
        for path in target.rglob("*"):
            if path.is_file():
                os.chmod(path, 0o644)


def as_instructor(s: Settings, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    entry = pwd.getpwnam(s.instructor)
    env = dict(s.environment("instructor"), HOME=entry.pw_dir, USER=s.instructor,
               LOGNAME=s.instructor, LC_ALL="C.UTF-8")
    return subprocess.run(cmd, cwd=s.course_root, env=env, user=entry.pw_uid, group=entry.pw_gid,
                          extra_groups=os.getgrouplist(s.instructor, entry.pw_gid),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=check)


def setup_course(s: Settings) -> None:
    """The course in the instructor's home, private to them (source/ holds the solutions)."""
    if not (s.course_root / "nbgrader_config.py").exists():
        s.course_root.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "nbgrader_config.py", s.course_root / "nbgrader_config.py")
        for folder in ("source", "autograding"):       # the notebooks, and how their tests are graded
            shutil.copytree(REPO / folder, s.course_root / folder,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    _run("chown", "-R", f"{s.instructor}:", str(s.course_root))
    os.chmod(s.course_root, 0o700)
    nbgrader = str(s.venv / "bin" / "nbgrader")
    as_instructor(s, nbgrader, "generate_assignment", ASSIGNMENT, "--force")
    as_instructor(s, nbgrader, "release_assignment", ASSIGNMENT, "--force")


def setup(s: Settings, demo_users: bool) -> None:
    ensure_group(s.students_group)
    ensure_group(s.graders_group)
    passwords = {}
    if demo_users:
        for user in (s.instructor, *DEMO_STUDENTS):
            passwords[user] = secrets.token_urlsafe(9)
            groups = [s.graders_group] if user == s.instructor else [s.students_group]
            ensure_user(user, groups=groups, password=passwords[user])
    else:
        ensure_user(s.instructor, groups=[s.graders_group])
    setup_state(s)
    setup_exchange(s)
    setup_jupyter_config(s)
    setup_course(s)
    close_checkout(s)
    print(f"course {s.course_id}: {s.course_root} (instructor {s.instructor}), "
          f"exchange {s.exchange}, students: members of {s.students_group}")
    for user, password in passwords.items():
        print(f"  login {user:12s} password {password}")


def grade(s: Settings, args: list[str]) -> int:
    """As root, so that each notebook runs in its own namespaces and throw-away uid; whatever
    the run created belongs to the instructor afterwards, so their Formgrader can use it."""
    env = dict(os.environ, **s.environment("instructor"))
    try:
        status = subprocess.run([str(s.venv / "bin" / "autograder"), "grade", *args],
                                cwd=s.course_root, env=env).returncode
    finally:
        _run("chown", "-R", "--from=root", f"{s.instructor}:", str(s.course_root))
    return status


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    st = sub.add_parser("setup", help="prepare groups, exchange, config and the course (root)")
    st.add_argument("--demo-users", action="store_true",
                    help=f"also create the instructor and {', '.join(DEMO_STUDENTS)} with passwords")
    sub.add_parser("grade", help="autograder grade, as root, in the course root").add_argument(
        "args", nargs=argparse.REMAINDER)
    sub.add_parser("env", help="print the instructor's environment as shell assignments")
    args = p.parse_args(argv)
    s = Settings.from_env()
    if args.command == "env":
        for key, value in s.environment("instructor").items():
            print(f"export {key}={shlex.quote(value)}")
        print(f"cd {shlex.quote(str(s.course_root))}")
        return 0
    if os.geteuid() != 0:
        raise SystemExit(f"course.py {args.command}: run as root")
    if args.command == "setup":
        setup(s, args.demo_users)
        return 0
    return grade(s, args.args)


if __name__ == "__main__":
    sys.exit(main())
