"""Regenerate the committed release/ and solutions/ folders from source/.

    python scripts/regenerate.py release     # = nbgrader generate_assignment, into release/
    python scripts/regenerate.py solutions   # worked solutions, executed, into solutions/
    python scripts/regenerate.py all

Both are built in a scratch course so the repository's own gradebook is never touched, and
both are importable (tests/test_release.py and tests/test_solutions.py regenerate into a
temporary directory and compare with what is committed).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import samples  # noqa: E402

ASSIGNMENT = samples.ASSIGNMENT
MARK_SCHEME_BEGIN = "=== BEGIN MARK SCHEME ==="
MARK_SCHEME_END = "=== END MARK SCHEME ==="


def build_release(dest_root: Path, repo: Path = REPO) -> Path:
    """Run `nbgrader generate_assignment` on a scratch copy of the course; copy its
    release/<assignment> to dest_root/<assignment>. Returns that folder."""
    dest = Path(dest_root) / ASSIGNMENT
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        course = samples.make_course(Path(tmp) / "course", source_root=repo, release=False)
        samples.nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course,
                         env=samples.course_env(course))
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(course / "release" / ASSIGNMENT, dest)
    return dest


def solution_notebook(source_path: Path) -> nbformat.NotebookNode:
    """The worked solution of one source notebook (not executed): hidden tests removed,
    solution markers and mark schemes stripped, outputs cleared."""
    nb = nbformat.read(source_path, as_version=4)
    for cell in nb.cells:
        text = samples.remove_hidden_tests(cell.source)
        text = samples.strip_solution_markers(samples.remove_block(text, MARK_SCHEME_BEGIN, MARK_SCHEME_END))
        cell.source = text
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb


def build_solutions(dest_root: Path, repo: Path = REPO, execute: bool = True,
                    timeout: int = 600) -> Path:
    """Write dest_root/<assignment>/ with the worked solution of every source notebook
    (plus the other files of source/<assignment>), executed in that folder."""
    src = repo / "source" / ASSIGNMENT
    dest = Path(dest_root) / ASSIGNMENT
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
        "*.ipynb", ".ipynb_checkpoints", "__pycache__"))
    for name in samples.NOTEBOOKS:
        path = src / f"{name}.ipynb"
        if not path.exists():
            continue
        nb = solution_notebook(path)
        if execute:
            from nbclient import NotebookClient

            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(dest)}},
                           record_timing=False).execute()
        nbformat.write(nb, dest / f"{name}.ipynb")
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["release", "solutions", "all"])
    args = parser.parse_args(argv)
    if args.what in ("release", "all"):
        print("release ->", build_release(REPO / "release"))
    if args.what in ("solutions", "all"):
        print("solutions ->", build_solutions(REPO / "solutions"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
