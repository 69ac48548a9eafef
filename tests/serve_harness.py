"""What tests/test_serve.py and bench/bench_submit.py share: a course with a file-system
exchange, students who use the real nbgrader CLI in homes of their own (`fetch_assignment`,
`submit`, `fetch_feedback`), and `autograder serve` run as the instructor runs it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from autograder.dev import samples, scaffold

ASG = "jacobians"
COURSE_ID = "jacobians-dl"


def open_course(template: Path, dest: Path, *, settings: str = "") -> Path:
    """A copy of a course template with the assignment released to its exchange
    (``<course>/exchange``); ``settings`` is appended to its nbgrader_config.py."""
    import shutil
    shutil.copytree(template, dest)
    if settings:
        with open(dest / "nbgrader_config.py", "a", encoding="utf-8") as fh:
            fh.write("\n" + settings + "\n")
    scaffold.nbgrader("release_assignment", ASG, cwd=dest)
    return dest


class Student:
    """A student with a home of their own, who talks to the exchange with nbgrader's CLI."""

    def __init__(self, course: Path, name: str, homes: Path):
        self.course, self.name = course, name
        self.home = homes / name
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = scaffold.course_env(self.home, {"HOME": str(self.home)})

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        return scaffold.nbgrader(*args, "--course", COURSE_ID, f"--Exchange.root={self.course / 'exchange'}",
                                 cwd=self.home, env=self.env)

    @property
    def folder(self) -> Path:
        return self.home / ASG

    def work(self, spec: samples.Spec = "perfect", *, extra: dict[str, str] | None = None) -> None:
        """Fill the fetched notebooks as a student of this spec would; ``extra``: notebook ->
        a code cell added after its setup cell."""
        if not self.folder.exists():
            self.nbgrader("fetch_assignment", ASG)
        for path in list(self.folder.glob("*.ipynb")):
            path.unlink()
        samples.write_submission(self.folder, spec, release_dir=self.course / "release" / ASG,
                                 source_dir=self.course / "source" / ASG)
        for notebook, code in (extra or {}).items():
            path = self.folder / f"{notebook}.ipynb"
            nb = nbformat.read(path, as_version=4)
            at = next(i for i, c in enumerate(nb.cells)
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "setup") + 1
            nb.cells.insert(at, nbformat.v4.new_code_cell(code))
            nbformat.write(nb, path)

    def submit(self) -> float:
        """`nbgrader submit`; the time it returned."""
        self.nbgrader("submit", ASG, "--student", self.name)
        return time.time()

    def fetch_feedback(self) -> dict[str, dict[str, str]]:
        """`nbgrader fetch_feedback`: submission timestamp -> notebook -> feedback HTML."""
        self.nbgrader("fetch_feedback", ASG)
        out: dict[str, dict[str, str]] = {}
        for page in sorted((self.folder / "feedback").glob("*/*.html")):
            out.setdefault(page.parent.name, {})[page.stem] = page.read_text(encoding="utf-8")
        return out

    def submissions(self) -> list[str]:
        """The timestamps of this student's submissions, oldest first (nbgrader's cache)."""
        cache = self.home / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE_ID
        return sorted(p.name.split("+")[2] for p in cache.glob(f"*+{ASG}+*"))


class Served:
    """`autograder serve` in the course root, as a subprocess; its output in ``log``."""

    def __init__(self, course: Path, *args: str):
        self.course = course
        self.log = course / f"serve-{time.time_ns()}.log"
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder", "serve", ASG, *args],
                                     cwd=course, env=scaffold.course_env(course), stdout=self._out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: str, count: int = 1, timeout: float = 300) -> None:
        """Until ``what`` has appeared ``count`` times in the output."""
        deadline = time.monotonic() + timeout
        while self.text().count(what) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"autograder serve exited ({self.proc.returncode}):\n{self.text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what!r} x{count} after {timeout:.0f} s:\n{self.text()[-4000:]}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 300) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self._out.close()
        return code


def journal_rows(course: Path) -> list[tuple[str, str, str]]:
    """(student, timestamp, state) of every submission the service recorded."""
    from autograder.serve.journal import Journal
    from autograder.course.directory import private_path
    journal = Journal(private_path(course, "serve", "journal.sqlite"))
    try:
        return [(e.student, e.timestamp, e.state) for e in journal.entries()]
    finally:
        journal.close()


def score_history(course: Path, student: str) -> list[float]:
    """Every score the gradebook writer committed for the student (the sidecar's history)."""
    import json
    from autograder.course.directory import private_path
    path = private_path(course, "graded", ASG, student + ".json")
    if not os.path.exists(path):
        return []
    with open(path) as fh:
        return [h["score"] for h in json.load(fh)["history"]]
