"""Progress of a grading run, one notebook at a time."""
from __future__ import annotations

import sys
import time

from autograder.batch.jobs import NotebookJob, NotebookResult


class Progress:
    """tqdm bar (rate, ETA) on a terminal; one plain line per notebook otherwise."""

    def __init__(self, total: int, stream=None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()
        tty = self.stream.isatty() if tty is None else tty
        self.bar = None
        if tty and total:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="nb", file=self.stream, dynamic_ncols=True,
                            desc="grading", smoothing=0.1)

    def update(self, job: NotebookJob, res: NotebookResult, score: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{job.student}/{job.notebook}", refresh=False)
            self.bar.update(1)
            if res.status == "failed":
                self.bar.write(f"FAILED {job.student}/{job.notebook}: {'; '.join(res.problems)}")
            return
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        state = score if res.status != "failed" else "FAILED: " + "; ".join(res.problems)
        print(f"[{self.done}/{self.total}] {job.student}/{job.notebook}: {state} "
              f"({rate:.2f} nb/s, ETA {eta:.0f} s)", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
