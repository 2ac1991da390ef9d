"""The vault's `grpc.health.v1` status, kept current by a periodic check.

Overall (`""`) and `ucf.vault.v1.VaultService` are SERVING only when the key
ring is loaded (the process does not start otherwise), MongoDB answers a ping,
the audit chain's head can be read, and the last audit append did not fail.
After a failed append the check itself appends a `health_recover` record: the
status flips back only once the audit log really accepts writes again, and
that is the only time the health check writes to the log.
"""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health, health_pb2
from pymongo.asynchronous.database import AsyncDatabase

from vault_service.audit import AuditLog, AuditUnavailable

log = logging.getLogger("vault.health")

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthMonitor:
    def __init__(self, servicer: health.aio.HealthServicer, db: AsyncDatabase, audit: AuditLog,
                 services: list[str], interval: float, timeout: float = 3.0):
        self.servicer = servicer
        self._db = db
        self._audit = audit
        self._services = services
        self._interval = interval
        self._timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self.serving: bool | None = None

    async def _healthy(self) -> bool:
        try:
            await asyncio.wait_for(self._db.command("ping"), self._timeout)
            if not await asyncio.wait_for(self._audit.readable(), self._timeout):
                return False
            if self._audit.failing:
                await asyncio.wait_for(self._audit.append("health_recover", "ok", caller="vault"), self._timeout)
            return True
        except (AuditUnavailable, TimeoutError):
            return False
        except Exception:  # noqa: BLE001 - any driver failure means "not answering"
            return False

    async def check_once(self) -> bool:
        serving = await self._healthy()
        if serving != self.serving:
            log.log(logging.INFO if serving else logging.WARNING, "vault health: %s",
                    "SERVING" if serving else "NOT_SERVING")
        self.serving = serving
        for name in ("", *self._services):
            await self.servicer.set(name, _SERVING if serving else _NOT_SERVING)
        return serving

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check_once()
            except Exception:
                log.exception("health check failed")

    async def start(self) -> None:
        await self.check_once()
        self._task = asyncio.create_task(self._run(), name="vault-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.servicer.enter_graceful_shutdown()
