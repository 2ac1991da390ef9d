"""Standard `grpc.health.v1` statuses kept current by a periodic probe.

Each process supplies one coroutine that answers {service name: serving?};
this class runs it on start and then every `interval` seconds, publishes the
answers, logs each change, and turns a probe that raises or hangs into "not
serving" rather than a stale "serving". On stop every status goes to
NOT_SERVING (graceful shutdown), so load balancers drain the process first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from grpc_health.v1 import health_pb2

log = logging.getLogger("ucf.health")

Probe = Callable[[], Awaitable[Mapping[str, bool]]]
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthServicer(Protocol):
    """What the publisher uses of grpc_health's asyncio servicer, `health.aio.HealthServicer`
    (grpc-stubs describes only the synchronous one)."""

    async def set(self, service: str, status: health_pb2.HealthCheckResponse.ServingStatus) -> None: ...

    async def enter_graceful_shutdown(self) -> None: ...


class HealthPublisher:
    def __init__(
        self,
        servicer: HealthServicer,
        probe: Probe,
        services: list[str],
        interval: float,
        timeout: float = 5.0,
    ):
        self.servicer = servicer
        self._probe = probe
        self._services = services
        self._interval = interval
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self.statuses: dict[str, bool] = {}

    async def check_once(self) -> dict[str, bool]:
        """Probe now and publish; every service the probe names, or all of them as down if it fails."""
        try:
            answer = dict(await asyncio.wait_for(self._probe(), self._timeout))
        except Exception:  # a probe that fails or hangs means "not serving" (logged below)
            log.exception("health probe failed")
            answer = dict.fromkeys(self.statuses or self._services, False)
        for name, serving in answer.items():
            if self.statuses.get(name) != serving:
                log.log(
                    logging.INFO if serving else logging.WARNING,
                    "health %s: %s",
                    name or "(overall)",
                    "SERVING" if serving else "NOT_SERVING",
                )
            await self.servicer.set(name, _SERVING if serving else _NOT_SERVING)
        self.statuses.update(answer)
        return answer

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check_once()

    async def start(self) -> None:
        await self.check_once()
        self._task = asyncio.create_task(self._run(), name="health-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.servicer.enter_graceful_shutdown()
