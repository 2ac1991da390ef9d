"""Standard grpc.health.v1 health, fed by a periodic check of what this
process depends on.

- `""` (overall) is SERVING only while MongoDB answers `ping`.
- `ucf.vault.v1.VaultService` is the vault's health as seen from here, so the
  gateway, which cannot reach the vault network, can report it truthfully.
- The ucf services follow the overall status.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from grpc_health.v1 import health, health_pb2
from pymongo.asynchronous.database import AsyncDatabase

log = logging.getLogger("connector_service.health")

VAULT_SERVICE = "ucf.vault.v1.VaultService"
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthMonitor:
    def __init__(self, servicer: health.aio.HealthServicer, db: AsyncDatabase, vault: Any,
                 services: list[str], interval: float, timeout: float = 3.0):
        self.servicer = servicer
        self._db = db
        self._vault = vault
        self._services = services
        self._interval = interval
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None

    async def _mongo_ok(self) -> bool:
        try:
            await asyncio.wait_for(self._db.command("ping"), self._timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    async def _vault_ok(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._vault.check_health(), self._timeout))
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    async def check_once(self) -> None:
        mongo, vault = await asyncio.gather(self._mongo_ok(), self._vault_ok())
        overall = _SERVING if mongo else _NOT_SERVING
        for name in ("", *self._services):
            await self.servicer.set(name, overall)
        await self.servicer.set(VAULT_SERVICE, _SERVING if vault else _NOT_SERVING)

    async def _run(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:
                log.exception("health check failed")
            await asyncio.sleep(self._interval)

    async def start(self) -> None:
        await self.check_once()
        self._task = asyncio.create_task(self._run(), name="health-monitor")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.servicer.enter_graceful_shutdown()
