"""Regenerate the committed release/ and solutions/ folders from source/.

    python scripts/regenerate.py release [ASSIGNMENT ...]    # = nbgrader generate_assignment, into release/
    python scripts/regenerate.py solutions [ASSIGNMENT ...]  # worked solutions, executed, into solutions/
    python scripts/regenerate.py all [ASSIGNMENT ...]

Without an assignment, every assignment of source/ is regenerated.

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

from autograder.intake import notebook_text
from autograder.dev import scaffold  # noqa: E402

MARK_SCHEME_BEGIN = "=== BEGIN MARK SCHEME ==="
MARK_SCHEME_END = "=== END MARK SCHEME ==="


def assignments(repo: Path = REPO) -> list[str]:
    """The course's assignments: the folders of source/."""
    return sorted(p.name for p in (repo / "source").iterdir() if p.is_dir() and not p.name.startswith("."))


def build_release(dest_root: Path, assignment: str, repo: Path = REPO) -> Path:
    """Run `nbgrader generate_assignment` on a scratch copy of the course; copy its
    release/<assignment> to dest_root/<assignment>. Returns that folder."""
    dest = Path(dest_root) / assignment
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        course = scaffold.make_course(Path(tmp) / "course", source_root=repo, release=False)
        scaffold.nbgrader("generate_assignment", assignment, "--force", cwd=course,
                          env=scaffold.course_env(course))
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(course / "release" / assignment, dest)
    return dest


def solution_notebook(source_path: Path) -> nbformat.NotebookNode:
    """The worked solution of one source notebook (not executed): hidden tests removed,
    solution markers and mark schemes stripped, outputs cleared."""
    nb = nbformat.read(source_path, as_version=4)
    for cell in nb.cells:
        text = notebook_text.remove_hidden_tests(cell.source)
        text = notebook_text.strip_solution_markers(
            notebook_text.remove_block(text, MARK_SCHEME_BEGIN, MARK_SCHEME_END))
        cell.source = text
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb


def build_solutions(dest_root: Path, assignment: str, repo: Path = REPO, execute: bool = True,
                    timeout: int = 600) -> Path:
    """Write dest_root/<assignment>/ with the worked solution of every source notebook
    (plus the other files of source/<assignment>), executed in that folder."""
    src = repo / "source" / assignment
    dest = Path(dest_root) / assignment
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
        "*.ipynb", ".ipynb_checkpoints", "__pycache__"))
    for name in notebook_text.notebook_names(src):
        nb = solution_notebook(src / f"{name}.ipynb")
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
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every one in source/")
    args = parser.parse_args(argv)
    for assignment in args.assignments or assignments():
        if args.what in ("release", "all"):
            print("release ->", build_release(REPO / "release", assignment))
        if args.what in ("solutions", "all"):
            print("solutions ->", build_solutions(REPO / "solutions", assignment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
