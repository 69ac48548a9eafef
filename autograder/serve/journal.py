"""Which submissions the service has seen and what it did with each, on disk.

One row per inbound folder, written before the service acts on it and updated once it is done,
each change its own durable SQLite transaction. A service killed at any point (``kill -9``)
finds on restart every submission that was queued and not finished; the gradebook writer's
commit point (the autograded folder, `GradebookWriter.is_graded`) tells whether one was graded
already, so none is graded twice.
"""
from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

QUEUED = "queued"          # seen, not finished
GRADED = "graded"          # graded and its feedback released
REFUSED = "refused"        # not graded by the rules (the feedback says why)
SUPERSEDED = "superseded"  # a newer submission of the same student came before it was graded
FAILED = "failed"          # could not be recorded (the detail says why)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    assignment TEXT NOT NULL,
    name TEXT NOT NULL,            -- the inbound folder: student+assignment+timestamp[+random]
    student TEXT NOT NULL,
    timestamp TEXT NOT NULL,       -- as the student's side wrote it
    state TEXT NOT NULL,
    seen_at REAL NOT NULL,         -- the service's clock: rate rules never trust the student's
    finished_at REAL,
    detail TEXT,
    PRIMARY KEY (assignment, name)
)"""


@dataclass(frozen=True)
class Entry:
    assignment: str
    name: str
    student: str
    timestamp: str
    state: str
    seen_at: float
    detail: str | None = None


class Journal:
    def __init__(self, path: str):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def note(self, *, assignment: str, name: str, student: str, timestamp: str) -> bool:
        """Record a submission as queued; False when it was seen before."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO submissions (assignment, name, student, timestamp, state, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", (assignment, name, student, timestamp, QUEUED, time.time()))
        return cur.rowcount == 1

    def known(self, assignment: str) -> set[str]:
        return {row[0] for row in self.db.execute(
            "SELECT name FROM submissions WHERE assignment = ?", (assignment,))}

    def queued(self) -> list[Entry]:
        """Every unfinished submission, in the order it was noted (arrival order)."""
        return [Entry(*row) for row in self.db.execute(
            "SELECT assignment, name, student, timestamp, state, seen_at, detail FROM submissions "
            "WHERE state = ? ORDER BY rowid", (QUEUED,))]

    def finish(self, entry: Entry, state: str, detail: str | None = None) -> None:
        self.db.execute("UPDATE submissions SET state = ?, finished_at = ?, detail = ? "
                        "WHERE assignment = ? AND name = ?",
                        (state, time.time(), detail, entry.assignment, entry.name))

    def graded_at(self, assignment: str, student: str) -> list[float]:
        """When the student's graded submissions of ASSIGNMENT arrived (service clock)."""
        return [row[0] for row in self.db.execute(
            "SELECT seen_at FROM submissions WHERE assignment = ? AND student = ? AND state = ? "
            "ORDER BY seen_at", (assignment, student, GRADED))]

    def entries(self, assignment: str | None = None) -> list[Entry]:
        """Everything recorded, oldest first (for the tests and the instructor's questions)."""
        where, args = ("WHERE assignment = ?", (assignment,)) if assignment else ("", ())
        return [Entry(*row) for row in self.db.execute(
            "SELECT assignment, name, student, timestamp, state, seen_at, detail FROM submissions "
            f"{where} ORDER BY seen_at, name", args)]
