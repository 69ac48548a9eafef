"""The hardened path is a drop-in for nbgrader: nbgrader's own autograde tests pass through it.

nbgrader ships its autograde tests (``nbgrader.tests.apps.test_nbgrader_autograde``). We run
that module twice, as subprocesses, in the same way: stock, and routed, with a Jupyter config
dir on ``JUPYTER_CONFIG_PATH`` whose ``nbgrader_config.py`` installs ``SandboxedExecute`` for
every nbgrader command the tests run. Every test that passes stock must pass routed, except
where the hardened grader differs on purpose (``ON_PURPOSE``).
"""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# Both runs together take ~20 minutes on a loaded 2-core machine (the stock run starts a
# kernel per notebook): give them room rather than a flaky limit.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

MODULE = "nbgrader.tests.apps.test_nbgrader_autograde"
# Stock expectations the hardened grader does not meet on purpose (docs/configuration.md makes the
# case): none now; a notebook that cannot be graded costs only itself and the command still fails.
ON_PURPOSE: dict[str, str] = {}
ROUTING = "from autograder.hooks.preprocessor import install\ninstall(get_config())\n"


def _outcomes(tmp: Path, name: str, config_dir: Path | None) -> dict[str, str]:
    """test name -> "passed" | "failed" | "skipped", from one pytest run of nbgrader's module."""
    report = tmp / f"{name}.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NBGRADER", "AUTOGRADER"))}
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    if config_dir is not None:
        env["JUPYTER_CONFIG_PATH"] = str(config_dir)
    subprocess.run([sys.executable, "-m", "pytest", "--pyargs", MODULE, "-q", "-p", "no:cacheprovider",
                    "-o", "addopts=", f"--junitxml={report}"],
                   cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=3000)
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = {child.tag for child in case}
        name = case.get("name")
        outcomes[name] = ("failed" if kinds & {"failure", "error"} else
                          "skipped" if "skipped" in kinds else "passed")
    return outcomes


def test_nbgrader_autograde_suite_passes_routed(tmp_path):
    config_dir = tmp_path / "routed-config"
    config_dir.mkdir()
    (config_dir / "nbgrader_config.py").write_text(ROUTING)
    runs = {"stock": None, "routed": config_dir}
    for name in runs:
        (tmp_path / name).mkdir()
    # The two runs share nothing: in parallel they take the time of the slower one.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_outcomes, tmp_path / name, name, cfg) for name, cfg in runs.items()}
        stock, routed = (futures[name].result() for name in runs)

    passed_stock = {t for t, o in stock.items() if o == "passed"}
    assert len(passed_stock) >= 40, f"stock nbgrader passed only {sorted(passed_stock)}"
    lost = sorted(t for t in passed_stock - set(ON_PURPOSE) if routed.get(t) != "passed")
    assert not lost, f"pass with stock nbgrader but not routed through SandboxedExecute: {lost}"
    # the list of differences stays honest: each still differs, and only there
    assert {t: routed.get(t) for t in ON_PURPOSE} == dict.fromkeys(ON_PURPOSE, "failed")
