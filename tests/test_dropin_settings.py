"""The routed path's settings are nbgrader's, and its limits come from one table.

Quick checks of the parts that tests/test_nbgrader_dropin.py exercises only end to end:
the limits table (``jobs.Limits``) behind `autograder grade`'s flags, SandboxedExecute's traits
and docs/configuration.md; nbgrader's own ``Execute`` settings reaching SandboxedExecute; the kernel check;
and which files a notebook wrote make it out of its scratch folder.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from jupyter_client.kernelspec import NoSuchKernel
from traitlets.config import Config

from autograder import cli
from autograder.batch.jobs import LIMIT_FIELDS, Limits
from autograder.hooks.preprocessor import SandboxedExecute
from autograder.sandbox.files import MAX_FILES, copy_new_files

REPO = Path(__file__).resolve().parent.parent


def test_every_limit_is_a_flag_a_setting_and_documented_once():
    help_text = subprocess.run([sys.executable, "-m", "autograder", "grade", "--help"], capture_output=True,
                               text=True, check=True, cwd=REPO).stdout
    readme = (REPO / "docs" / "configuration.md").read_text()
    settings = {"cell_timeout": "Execute.timeout", "notebook_timeout": "SandboxedExecute.notebook_timeout",
                "memory_mb": "SandboxedExecute.memory_mb", "output_bytes": "SandboxedExecute.output_bytes"}
    assert set(settings) == {limit.name for limit in LIMIT_FIELDS}
    for limit in LIMIT_FIELDS:
        flag = limit.metadata["flag"]
        assert flag in help_text
        rows = [line for line in readme.splitlines() if f"`{flag} " in line]
        assert len(rows) == 1 and f"`c.{settings[limit.name]}`" in rows[0], flag
    trait = SandboxedExecute.class_traits()
    assert trait["memory_mb"].default_value == Limits.memory_mb
    assert trait["memory_mb"].help == LIMIT_FIELDS[2].metadata["help"]


def test_flags_set_the_limits():
    unconfigured = SimpleNamespace(config=Config())
    args = cli._parser().parse_args(["grade", "a", "--notebook-timeout", "50", "--output-limit", "10"])
    assert cli._limits(args, unconfigured) == Limits(notebook_timeout=50.0, output_bytes=10)
    args = cli._parser().parse_args(["grade", "a", "--timeout", "400"])
    assert cli._limits(args, unconfigured) == Limits(cell_timeout=400.0, notebook_timeout=400.0)


def test_autograder_grade_starts_from_the_courses_execute_timeout():
    """The course's c.Execute.timeout is the cell limit of both paths; a flag overrides it."""
    course = SimpleNamespace(config=Config({"Execute": {"timeout": 120}, "SandboxedExecute": {"memory_mb": 1024}}))
    assert cli._limits(cli._parser().parse_args(["grade", "a"]), course) == \
        Limits(cell_timeout=120.0, memory_mb=1024)
    assert cli._limits(cli._parser().parse_args(["grade", "a", "--timeout", "5"]), course).cell_timeout == 5.0


def test_nbgraders_execute_settings_reach_sandboxed_execute():
    config = Config({"Execute": {"timeout": 7, "enabled": False}})    # --Execute.timeout=7 --no-execute
    execute = SandboxedExecute(config=config)
    assert execute.timeout == 7 and execute.enabled is False
    nb, resources = nbformat.v4.new_notebook(), {}
    assert execute(nb, resources) == (nb, resources)      # disabled: nothing runs, nothing read


@pytest.mark.parametrize("kernelspec, error", [
    ({"name": "blarg", "language": "blarg", "display_name": "x"}, NoSuchKernel),
    ({"name": "python", "language": "python", "display_name": "x"}, None),
    (None, None),
])
def test_kernel_check_as_stock(kernelspec, error):
    nb = nbformat.v4.new_notebook()
    if kernelspec:
        nb.metadata.kernelspec = kernelspec
    if error:
        with pytest.raises(error):
            SandboxedExecute()._check_kernel(nb)
    else:
        SandboxedExecute()._check_kernel(nb)


def test_only_new_regular_files_come_out(tmp_path):
    scratch, dest = tmp_path / "scratch", tmp_path / "dest"
    (scratch / "sub").mkdir(parents=True)
    dest.mkdir()
    (scratch / "result.txt").write_text("new")
    (scratch / "sub" / "deep.csv").write_text("1,2")
    (scratch / "given.txt").write_text("changed by the student")
    (dest / "given.txt").write_text("the instructor's")
    (scratch / "p2.ipynb").write_text("{}")
    (scratch / ".hidden").write_text("x")
    (scratch / "link").symlink_to("/etc/passwd")
    (scratch / "linkdir").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(scratch / "pipe")
    skipped = copy_new_files(str(scratch), str(dest))
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "given.txt", "result.txt", "sub/deep.csv"]
    assert (dest / "given.txt").read_text() == "the instructor's"
    assert sorted(skipped) == ["link: a symbolic link, not a regular file", "pipe: a named pipe, not a regular file"]


def test_the_number_of_files_is_bounded(tmp_path):
    scratch, dest = tmp_path / "scratch", tmp_path / "dest"
    scratch.mkdir()
    for i in range(MAX_FILES + 5):
        (scratch / f"f{i:04d}.txt").write_text("x")
    skipped = copy_new_files(str(scratch), str(dest))
    assert len(list(dest.iterdir())) == MAX_FILES and len(skipped) == 5


@pytest.mark.slow
def test_autotest_cells_come_from_the_gradebook_without_false_warnings(tmp_path):
    """Routed autograde grades ``### AUTOTEST`` cells as nbgrader expanded them (not the comment
    source/ holds), and an unchanged release copy is not reported as tampered with."""
    import nbgrader
    from nbgrader.api import Gradebook

    files = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
        "from autograder.hooks.preprocessor import install\ninstall(c)\n")
    (course / "autotests.yml").write_bytes((files / "autotests.yml").read_bytes())
    (course / "source" / "ps1" / "p1.ipynb").write_bytes((files / "autotest-multi.ipynb").read_bytes())
    for student, copy in (("foo", "unchanged"), ("bar", "changed")):
        (course / "submitted" / student / "ps1").mkdir(parents=True)
        (course / "submitted" / student / "ps1" / "p1.ipynb").write_bytes(
            (files / f"autotest-multi-{copy}.ipynb").read_bytes())
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBGRADER"))},
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}

    def nbgrader_cli(*args):
        return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                              text=True, check=True).stderr
    nbgrader_cli("db", "assignment", "add", "ps1")
    nbgrader_cli("generate_assignment", "ps1")
    log = nbgrader_cli("autograde", "ps1")
    assert "was edited" not in log and "was changed" not in log, log
    autograded = nbformat.read(course / "autograded" / "bar" / "ps1" / "p1.ipynb", as_version=4)
    tests = [c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("grade")]
    # graded by the routed path: each test cell carries the trusted side's decided score
    assert len(tests) == 4 and all(any(o.output_type == "execute_result" for o in c.outputs) for c in tests)
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        scores = {s: gb.find_submission_notebook("p1", "ps1", s).score for s in ("foo", "bar")}
    assert scores == {"foo": 0.0, "bar": 3.0}
