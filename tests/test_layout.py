"""The engine's shape: one folder per step of the data path, each saying what it may import,
and the old flat import paths that courses and nbgrader_config.py files use still working."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import autograder

PACKAGE = Path(autograder.__file__).resolve().parent
FACE = {"__init__.py", "__main__.py", "cli.py"}


def test_no_engine_module_lies_outside_a_subpackage():
    assert {p.name for p in PACKAGE.glob("*.py")} == FACE


def test_every_subpackage_says_its_job_and_what_it_may_import():
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc.strip(), f"{init.parent.name}/ has no docstring"
        if init.parent.name != "inside":        # inside/'s rule is the boundary test's
            assert "May import" in doc, f"{init.parent.name}/__init__.py does not say what it may import"


def test_old_flat_import_paths_give_the_same_objects():
    for old, new in autograder.MOVED.items():
        assert importlib.import_module(f"autograder.{old}") is importlib.import_module(f"autograder.{new}")
    from autograder.lateness import PerDayLatePenalty
    from autograder.hooks.lateness import PerDayLatePenalty as moved
    assert PerDayLatePenalty is moved


def test_nbgrader_loads_the_course_config_by_its_new_paths():
    """nbgrader_config.py names classes by dotted strings; each must import."""
    from traitlets.config.loader import PyFileConfigLoader
    from traitlets.utils.importstring import import_item
    config = PyFileConfigLoader("nbgrader_config.py", path=str(PACKAGE.parent)).load_config()
    named = [config.ExchangeFactory.collect, config.AssignLatePenalties.plugin_class]
    assert all(import_item(name) for name in named)


def test_importing_the_package_loads_nothing_of_the_judge():
    code = "import sys, autograder; print(sorted(m for m in sys.modules if m.startswith('autograder')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['autograder']"
    code = "from autograder import check, Score; print(check.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "autograder.judge.selfcheck"
