"""The course's assignments and notebooks as the repository holds them (source/), for tests
that hold for every assignment."""
from __future__ import annotations

from pathlib import Path

from autograder.intake.notebook_text import notebook_names

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (REPO_ROOT / "source").iterdir() if p.is_dir() and not p.name.startswith("."))
NOTEBOOKS = [(a, nb) for a in ASSIGNMENTS for nb in notebook_names(REPO_ROOT / "source" / a)]
