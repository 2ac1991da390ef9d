"""The job workers inside the connector service process.

`concurrency` loops each claim the oldest runnable job (see store.py) and
run it; when the queue is empty they sleep until `wake()` (a job created by
this process) or the poll interval (jobs created by other processes, leases
that expired). Each loop has its own worker token, so leases tell loops and
processes apart. `stop()` asks running jobs to stop at their next batch
boundary and re-queue themselves, and cancels what did not stop within the
grace period (their leases then expire and another worker resumes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import timedelta

from connector_service.jobs.runner import JobRunner
from connector_service.jobs.store import JobStore

log = logging.getLogger("connector_service.jobs")


class JobWorkers:
    def __init__(self, jobs: JobStore, runner: JobRunner, *, concurrency: int, lease: timedelta, poll_seconds: float):
        self._jobs, self._runner = jobs, runner
        self._concurrency, self._lease, self._poll = concurrency, lease, poll_seconds
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(f"{self._prefix}:{n}")) for n in range(self._concurrency)]

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        self._wake.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _loop(self, worker: str) -> None:
        while not self._stopping.is_set():
            try:
                job = await self._jobs.claim(worker, self._lease)
            except Exception:
                log.warning("could not claim a job; retrying", exc_info=True)
                job = None
            if job is not None:
                try:
                    await self._runner.run(job, worker, self._stopping)
                except Exception:
                    log.warning("job bookkeeping failed; its lease will expire and it will be resumed", exc_info=True)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
