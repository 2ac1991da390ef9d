"""What the connector service's `grpc.health.v1` statuses mean.

- `""` (overall) and the ucf services are SERVING only while MongoDB answers `ping`.
- `ucf.vault.v1.VaultService` is the vault's health as seen from here, so the
  gateway, which cannot reach the vault network, can report it truthfully.
"""

from __future__ import annotations

import asyncio
from typing import Any

from grpc_health.v1 import health
from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.health import HealthPublisher

from connector_service.vault.port import VaultPort

VAULT_SERVICE = "ucf.vault.v1.VaultService"


async def _answers(check: Any, timeout: float) -> bool:
    try:
        return bool(await asyncio.wait_for(check, timeout))
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


def health_monitor(
    servicer: health.aio.HealthServicer,
    db: AsyncDatabase,
    vault: VaultPort,
    services: list[str],
    interval: float,
    timeout: float = 3.0,
) -> HealthPublisher:
    async def probe() -> dict[str, bool]:
        mongo, vault_ok = await asyncio.gather(
            _answers(db.command("ping"), timeout), _answers(vault.check_health(), timeout)
        )
        return {**dict.fromkeys(("", *services), mongo), VAULT_SERVICE: vault_ok}

    return HealthPublisher(servicer, probe, ["", *services, VAULT_SERVICE], interval, timeout=2 * timeout)
