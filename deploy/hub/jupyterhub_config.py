"""JupyterHub for the course: `jupyterhub -f deploy/hub/jupyterhub_config.py`, as root, after
`deploy/hub/course.py setup` (`make hub` does both).  Settings: deploy/hub/settings.py.

Following nbgrader's JupyterHub setup for one course:
* every user logs in with their Unix account (PAM) and gets a single-user JupyterLab started
  as that user (LocalProcessSpawner), in the course's Python environment, with the Assignment
  List and Validate only (the instructor-only Lab plugins are disabled);
* the instructor's Formgrader is a hub-managed service at /services/<course id>/, a JupyterLab
  running as the instructor in the course root, which only the instructor may open;
* JupyterHub's own proxy, configurable-http-proxy (from npm; `make setup` puts it in .venv/bin).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ensure_runtime_dir  # noqa: E402
from settings import Settings  # noqa: E402

s = Settings.from_env()
c = get_config()  # noqa: F821  (provided by traitlets when JupyterHub loads this file)

# --- the hub ------------------------------------------------------------------------------
c.JupyterHub.ip = s.hub_ip
c.JupyterHub.port = s.hub_port
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_api_port}"
# its database (users, token hashes, servers' ports) and cookie secret are root's alone
c.JupyterHub.db_url = f"sqlite:///{s.hub_private / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(s.hub_private / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(s.hub_private / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [str(s.venv / "bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = str(s.hub_private / "jupyterhub-proxy.pid")

# Students land in their Lab; the instructor on the hub's home page, which has the Formgrader
# one click away beside their own server (templates/home.html).
c.JupyterHub.default_url = lambda handler: (
    f"{handler.hub.base_url}home" if getattr(handler.current_user, "name", None) == s.instructor else "")
c.JupyterHub.template_paths = [str(Path(__file__).resolve().parent / "templates")]
c.JupyterHub.template_vars = {"course": {"id": s.course_id, "instructor": s.instructor,
                                         "formgrader": f"{s.formgrader_url}formgrader"}}

# --- who may log in -----------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {s.students_group, s.graders_group}

# --- each user's server, as that user ------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(s.venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# each user's kernels in their own runtime directory (deploy/hub/private_kernels.py)
c.Spawner.pre_spawn_hook = lambda spawner: ensure_runtime_dir(s, spawner.user.name)
c.Spawner.environment = dict(s.environment("student"),
                             JUPYTER_RUNTIME_DIR=lambda spawner: str(s.runtime_dir(spawner.user.name)))
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# --- the Formgrader, a service running as the instructor -----------------------------------
c.JupyterHub.services = [{
    "name": s.course_id,
    "url": f"http://127.0.0.1:{s.formgrader_port}",
    "command": [str(s.venv / "bin" / "jupyterhub-singleuser"), f"--ServerApp.root_dir={s.course_root}"],
    "user": s.instructor,
    "cwd": str(s.course_root),
    "environment": dict(s.environment("instructor"), JUPYTERHUB_DEFAULT_URL="/lab",
                        JUPYTER_RUNTIME_DIR=str(s.runtime_dir(s.instructor))),
    "oauth_no_confirm": True,
}]
# Graded on submit: `autograder serve`, started by the hub as root (the hub's own account) so
# that its workers give each notebook the full sandbox; it goes on as the instructor once they
# have started (`--as`), and the hub starts it again if it stops.
if s.grade_on_submit:
    c.JupyterHub.services.append({
        "name": "grade-on-submit",
        "command": [str(s.venv / "bin" / "python"), "-m", "autograder", "serve", "--as", s.instructor,
                    *s.grade_on_submit],
        "cwd": str(s.course_root),
        "environment": s.environment("instructor"),
    })
c.JupyterHub.load_roles = [
    {"name": f"formgrade-{s.course_id}", "users": [s.instructor],
     "scopes": [f"access:services!service={s.course_id}"]},
]
