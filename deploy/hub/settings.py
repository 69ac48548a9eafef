"""The hub deployment's settings: one course, one instructor, any number of students.

Read from the environment (defaults: a production layout), so that jupyterhub_config.py,
course.py and the tests agree on every path, name and port:

    NBGRADER_COURSE_ID      course id                        jacobians-dl
    COURSE_INSTRUCTOR       the instructor's login           instructor
    COURSE_STUDENTS_GROUP   Unix group of the students       <course id>-students
    COURSE_GRADERS_GROUP    Unix group that reads submissions <course id>-graders
    COURSE_ROOT             the course (a copy of this repo's course), the instructor's
                                                             ~instructor/<course id>
    NBGRADER_EXCHANGE_ROOT  the shared exchange              /srv/nbgrader/exchange
    HUB_STATE_DIR           the hub's own state (private/: its database and cookie secret),
                            the generated Jupyter config and
                            every user's kernel runtime directory    /srv/jupyterhub
    HUB_IP, HUB_PORT        where the hub's proxy listens    127.0.0.1, 8000
    HUB_API_PORT, PROXY_API_PORT  the hub and the proxy's API (loopback)  8081, 8001
    FORMGRADER_PORT         the Formgrader service (loopback) 9999
    NBGRADER_DB_URL         the gradebook, if not SQLite in the course root; given to the
                            instructor's processes only (it may hold a password)
    COURSE_VENV             the Python environment every server runs in, executable by every
                            user: this repo's .venv-hub (`make hub-venv`)
    GRADE_ON_SUBMIT         assignments graded as they are submitted, by the
                            hub-managed `autograder serve` (space or comma separated) none
"""
from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path


HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ASSIGNMENT = "jacobians"


@dataclass(frozen=True)
class Settings:
    course_id: str
    instructor: str
    students_group: str
    graders_group: str
    course_root: Path
    exchange: Path
    state: Path
    hub_ip: str
    hub_port: int
    hub_api_port: int
    proxy_api_port: int
    formgrader_port: int
    venv: Path
    db_url: str | None = None
    grade_on_submit: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env=None) -> "Settings":
        env = os.environ if env is None else env
        course_id = env.get("NBGRADER_COURSE_ID", "jacobians-dl")
        instructor = env.get("COURSE_INSTRUCTOR", "instructor")
        root = env.get("COURSE_ROOT") or os.path.join(_home(instructor), course_id)
        return cls(
            course_id=course_id,
            instructor=instructor,
            students_group=env.get("COURSE_STUDENTS_GROUP", f"{course_id}-students"),
            graders_group=env.get("COURSE_GRADERS_GROUP", f"{course_id}-graders"),
            course_root=Path(root),
            exchange=Path(env.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")),
            state=Path(env.get("HUB_STATE_DIR", "/srv/jupyterhub")),
            hub_ip=env.get("HUB_IP", "127.0.0.1"),
            hub_port=int(env.get("HUB_PORT", "8000")),
            hub_api_port=int(env.get("HUB_API_PORT", "8081")),
            proxy_api_port=int(env.get("PROXY_API_PORT", "8001")),
            formgrader_port=int(env.get("FORMGRADER_PORT", "9999")),
            venv=Path(env.get("COURSE_VENV", str(REPO / ".venv-hub"))),
            db_url=env.get("NBGRADER_DB_URL") or None,
            grade_on_submit=tuple(env.get("GRADE_ON_SUBMIT", "").replace(",", " ").split()),
        )

    def jupyter_config(self, role: str) -> Path:
        """Generated Jupyter server + Lab config for 'student' or 'instructor' servers."""
        return self.state / f"jupyter-{role}"

    @property
    def hub_private(self) -> Path:
        """The hub's database, cookie secret and pid files: root's alone."""
        return self.state / "private"

    def runtime_dir(self, user: str) -> Path:
        """`user`'s Jupyter runtime directory (connection files, kernels' sockets), named by
        uid to keep socket paths short (a Unix socket's path has at most 107 bytes)."""
        return self.state / "runtime" / str(pwd.getpwnam(user).pw_uid)

    def environment(self, role: str) -> dict[str, str]:
        """What every process of that role needs: the course, the exchange, this deployment's
        nbgrader config (HERE) and the generated server config, the course's Python first."""
        # students' own checks read the visible_checks.pickle their fetched assignment carries
        private = {"NBGRADER_DB_URL": self.db_url} if self.db_url and role == "instructor" else {}
        return {
            **private,
            "NBGRADER_COURSE_ID": self.course_id,
            "NBGRADER_EXCHANGE_ROOT": str(self.exchange),
            "JUPYTER_CONFIG_PATH": os.pathsep.join([str(self.jupyter_config(role)), str(HERE)]),
            "PYTHONPATH": str(HERE),
            "PATH": os.pathsep.join([str(self.venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        }

    @property
    def formgrader_url(self) -> str:
        return f"/services/{self.course_id}/"


def _home(user: str) -> str:
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return os.path.join("/home", user)
