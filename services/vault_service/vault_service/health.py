"""What the vault's `grpc.health.v1` status means.

Overall (`""`) and `ucf.vault.v1.VaultService` are SERVING only when the key
ring is loaded (the process does not start otherwise), MongoDB answers a ping,
the audit chain's head can be read, and the last audit append did not fail.
After a failed append the check itself appends a `health_recover` record: the
status flips back only once the audit log really accepts writes again, and
that is the only time the health check writes to the log.
"""

from __future__ import annotations

import asyncio

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.health import HealthPublisher, HealthServicer

from vault_service.audit import AuditLog


def health_monitor(
    servicer: HealthServicer,
    db: AsyncDatabase,
    audit: AuditLog,
    services: list[str],
    interval: float,
    timeout: float = 3.0,
) -> HealthPublisher:
    async def healthy() -> bool:
        try:
            await asyncio.wait_for(db.command("ping"), timeout)
            if not await asyncio.wait_for(audit.readable(), timeout):
                return False
            if audit.failing:
                await asyncio.wait_for(audit.append("health_recover", "ok", caller="vault"), timeout)
            return True
        except Exception:  # noqa: BLE001 - audit or driver failure means "not serving"
            return False

    async def probe() -> dict[str, bool]:
        return dict.fromkeys(("", *services), await healthy())

    return HealthPublisher(servicer, probe, ["", *services], interval, timeout=4 * timeout)
