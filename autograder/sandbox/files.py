"""Files a notebook wrote, brought out of its working folder (as stock nbgrader leaves them
beside the autograded notebook).

Only when it is done, and only what cannot hurt the grader: regular
files that are new (nothing in the destination is overwritten), not notebooks, not hidden,
never links or special files, within a count and a size budget.
"""
from __future__ import annotations

import os

from autograder.intake.files import NotRegularFile, open_regular

MAX_FILES = 100
MAX_BYTES = 20 * 1024 * 1024      # all files together


def copy_new_files(scratch: str, dest: str) -> list[str]:
    """Copy what the notebook created in ``scratch`` into ``dest``; return what was left out, and why."""
    skipped, count, budget = [], 0, MAX_BYTES
    for root, dirs, files in os.walk(scratch):          # never follows links to folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), scratch)
            target = os.path.join(dest, rel)
            if name.startswith(".") or name.endswith(".ipynb") or os.path.lexists(target):
                continue
            if count >= MAX_FILES:
                skipped.append(f"{rel}: more than {MAX_FILES} files")
                continue
            copied = _copy_regular(os.path.join(root, name), target, budget)
            if isinstance(copied, str):
                skipped.append(f"{rel}: {copied}")
            else:
                count, budget = count + 1, budget - copied
    return skipped


def _copy_regular(path: str, target: str, budget: int) -> int | str:
    """Bytes copied, or why not."""
    try:
        fd = open_regular(path)
    except NotRegularFile as exc:
        return f"{exc.kind}, not a regular file"
    except OSError as exc:
        return exc.strerror or str(exc)
    with os.fdopen(fd, "rb") as source:
        size = os.fstat(fd).st_size
        if size > budget:
            return f"the files written exceed {MAX_BYTES // (1024 * 1024)} MB"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        data = source.read(size)
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        os.write(out, data)
    finally:
        os.close(out)
    return len(data)
