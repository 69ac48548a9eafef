"""The Makefile's regenerate targets in an instructor's own environment: with no .venv/ and the
package installed, `make release` / `make solutions` run the plain commands and set nothing
up; `make test` always sets up (CI relies on it). Dry runs (`make -n`): nothing is built."""
from __future__ import annotations

import subprocess
import sys

import pytest

from course_layout import REPO_ROOT


def dry_run(target: str, *, venv, python: str) -> str:
    proc = subprocess.run(["make", "-n", target, f"VENV={venv}", f"PYTHON={python}"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("target", ["release", "solutions"])
def test_an_installed_package_runs_the_plain_command(tmp_path, target):
    out = dry_run(target, venv=tmp_path / "no-venv", python=sys.executable)
    assert f"{sys.executable} scripts/regenerate.py {target}" in out and "pip install" not in out


def test_without_the_package_release_sets_up_first(tmp_path):
    out = dry_run("release", venv=tmp_path / "no-venv", python="/bin/false")
    assert "pip install" in out and f"{tmp_path}/no-venv/bin/python scripts/regenerate.py release" in out


def test_make_test_always_sets_up(tmp_path):
    assert "pip install" in dry_run("test", venv=tmp_path / "no-venv", python=sys.executable)
