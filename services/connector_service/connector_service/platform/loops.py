"""One background loop: a pass run again and again until the process stops.

The scheduler, the webhook forwarder, the webhook refresher and the background
token refresher are each a `Loop` around their own pass. A pass answers how long
to sleep before the next one (0 runs the next at once); `wake()` cuts a sleep
short when this process wrote something the loop should see sooner. A failing
pass is logged without its exception text reaching any answer, and the loop
tries again after `retry_seconds`: a database blip must not end a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

#: One pass; answers the seconds to sleep before the next.
Pass = Callable[[], Awaitable[float]]


class Loop:
    """`start()` once, `stop()` once. `graceful` loops let a pass in progress finish on stop
    (the scheduler's claims); the others are cancelled at their next await."""

    def __init__(self, name: str, run_pass: Pass, *, retry_seconds: float, log: logging.Logger, graceful: bool = False):
        self._name, self._pass, self._retry, self._log = name, run_pass, retry_seconds, log
        self._graceful = graceful
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        if not self._graceful:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before the pass: a wake() during it runs the next pass at once
            try:
                sleep = await self._pass()
            except Exception:  # noqa: BLE001 - any failure of one pass leaves the loop running
                self._log.warning("%s pass failed; retrying", self._name, exc_info=True)
                sleep = self._retry
            if sleep <= 0 or self._stopping.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), sleep)
