"""Plain reports the child sends back about the cells it ran (validated by wire.py)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CellReport:
    outputs: list = field(default_factory=list)  # nbformat output dicts, sanitised again by the grader
    error: str = ""                               # "" or the exception's one-line summary
    truncated: bool = False                       # the cell printed more than the output cap


@dataclass
class Ready:
    pid: int
    isolation: list = field(default_factory=list)  # what isolation the child could apply
    skipped: list = field(default_factory=list)    # submitted files left out of its working folder
