"""`DaskPool` (`--scheduler tcp://host:port`): notebook jobs graded on an existing dask.distributed
cluster. The submitted notebook's bytes travel with the job, so a worker needs the package
installed but not the course directory."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Iterable, Iterator

from autograder.intake.files import NotRegularFile, read_regular
from autograder.batch.jobs import NotebookJob, NotebookResult
from autograder.batch.worker import DEFAULT_GRADER, failed_result, release, run_job


def run_shipped_job(job: NotebookJob, content: bytes, grader: str = DEFAULT_GRADER) -> NotebookResult:
    """Runs on a Dask worker: the submitted notebook arrives as bytes, not as a path."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="autograder-job-") as tmp:
        path = os.path.join(tmp, job.notebook + ".ipynb")
        with open(path, "wb") as fh:
            fh.write(content)
        return run_job(dataclasses.replace(job, submitted_path=path), grader)


class DaskPool:
    def __init__(self, address: str, grader: str = DEFAULT_GRADER, connect_timeout: float = 30):
        self.address = address
        self.grader = grader
        self.connect_timeout = connect_timeout
        self.n_workers = 0

    def describe(self) -> str:
        return f"dask cluster at {self.address} ({self.n_workers} workers)"

    def start(self) -> "DaskPool":
        return self

    def close(self) -> None:
        pass

    def run(self, jobs: Iterable[NotebookJob]) -> Iterator[tuple[NotebookJob, NotebookResult]]:
        from distributed import Client, as_completed

        jobs = list(jobs)
        if not jobs:
            return
        with Client(self.address, timeout=self.connect_timeout, set_as_default=False) as client:
            self.n_workers = len(client.scheduler_info().get("workers", {}))
            futures = {}
            for job in jobs:
                try:
                    content = read_regular(job.submitted_path)
                except (NotRegularFile, OSError) as exc:
                    yield job, failed_result(job, str(exc))
                    continue
                fut = client.submit(run_shipped_job, job, content, self.grader, pure=False,
                                    key=f"grade-{job.assignment}-{job.student}-{job.notebook}-{time.time_ns()}")
                futures[fut] = job
            try:
                for fut in as_completed(list(futures), loop=client.loop):
                    job = futures.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker
                        res = failed_result(job, f"dask task failed: {type(exc).__name__}: {exc}")
                    yield job, res
            finally:
                if futures:
                    client.cancel(list(futures))
                # A Dask worker outlives the run, and its processes end without atexit: free
                # the sandboxes' memory files and zygotes now (the next run starts them again);
                # a worker gone by now has nothing of ours to free.
                with contextlib.suppress(Exception):
                    client.run(release, self.grader)
