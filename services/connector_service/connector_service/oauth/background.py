"""Background refresh: OAuth2 credentials are refreshed ahead of expiry even when
nobody reads them.

Every replica runs the loop. Each pass finds connected OAuth2 connections
whose credential expires within `ahead_seconds` (a cross-tenant read of the
connection records' non-secret `credential_expires_at`; every later step is
scoped by the tenant it found) and refreshes each through the
`RefreshCoordinator`, so whichever replicas try at once, one calls the
provider and the others see its result. A credential without a refresh token
is left alone (it expires as it would have). A credential that cannot be
refreshed any more marks the connection (`refresh_failed`, or `expired`), is
audited as `credential.refresh_failed`, and is handed to every
`on_refresh_failed` listener: that is where the `connection.credential_refresh_failed`
event is emitted once lifecycle events exist.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import UcfError
from ucf_common.logging import log_fields

from connector_service.catalog.providers import Catalog
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.model import EXPIRED, REFRESH_FAILED, Connection
from connector_service.connections.store import ConnectionStore
from connector_service.oauth.clients import OAuthClients
from connector_service.oauth.errors import RefreshFailed, RefreshFailureReason
from connector_service.oauth.refresh import CredentialStore, RefreshCoordinator
from connector_service.platform import wire
from connector_service.platform.loops import Loop

log = logging.getLogger("connector_service.oauth.background")
ACTOR = "refresher"
_BATCH = 500

#: `listener(tenant_id, connection, error)` after a credential could not be refreshed and the
#: connection was marked. The emit point of `connection.credential_refresh_failed`.
RefreshFailedListener = Callable[[str, Connection, RefreshFailed], Awaitable[None]]


class BackgroundRefresher:
    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        coordinator: RefreshCoordinator,
        store: CredentialStore,
        connections: ConnectionStore,
        oauth_clients: OAuthClients,
        catalog: Catalog,
        audit_log: AuditLog,
        ahead_seconds: float,
        interval_seconds: float,
    ):
        self._col = db["connections"]  # for the index that serves `ConnectionStore.due_for_refresh`
        self._coordinator, self._store, self._connections = coordinator, store, connections
        self._oauth, self._catalog, self._audit = oauth_clients, catalog, audit_log
        self._ahead, self._interval = ahead_seconds, interval_seconds
        self._listeners: list[RefreshFailedListener] = []
        self._loop = Loop("background refresh", self._pass, retry_seconds=interval_seconds, log=log)

    def on_refresh_failed(self, listener: RefreshFailedListener) -> None:
        self._listeners.append(listener)

    async def create_indexes(self) -> None:
        await self._col.create_index([("credential_kind", 1), ("status", 1), ("credential_expires_at", 1)])

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _pass(self) -> float:
        await self.run_once()
        return self._interval * random.uniform(0.8, 1.2)  # jitter keeps replicas from scanning in step

    async def run_once(self) -> int:
        """One pass; answers how many credentials it refreshed."""
        horizon = wire.now() + timedelta(seconds=self._ahead)
        due = await self._connections.due_for_refresh(horizon, _BATCH)
        random.shuffle(due)
        refreshed = 0
        for conn in due:
            refreshed += await self._refresh(
                conn.tenant_id, conn.id, conn.connector_id, self._margin(conn), conn.system_metadata
            )
        return refreshed

    def _margin(self, conn: Connection) -> float:
        """`ahead_seconds`, or half the lifetime of a token the last refresh gave when that is shorter:
        a provider whose tokens live less than `ahead_seconds` is not refreshed on every pass."""
        issued, expires = conn.last_refreshed_at, conn.credential_expires_at
        if issued is None or expires is None:
            return self._ahead
        lifetime: timedelta = expires - issued
        return min(self._ahead, max(1.0, lifetime.total_seconds() / 2))

    async def _refresh(
        self,
        tenant_id: str,
        connection_id: str,
        connector_id: str,
        margin: float,
        system_metadata: dict[str, Any] | None = None,
    ) -> int:
        fields = log_fields(connection_id=connection_id)
        spec = self._catalog.get(connector_id)
        try:
            current = await self._store.load(tenant_id, connection_id)
            if spec is None or current is None or not current.tokens.refresh_token:
                return 0
            # Connect params (Okta `domain`) in the system metadata fill the token URL.
            client = await self._oauth.client(tenant_id, connector_id, spec.for_connection(system_metadata))
            stored = await self._coordinator.get_fresh(tenant_id, connection_id, client, margin_seconds=self._ahead)
        except RefreshFailed as err:
            await self._failed(tenant_id, connection_id, connector_id, err)
            return 0
        except UcfError as err:
            log.warning("background refresh failed; will retry: %s", err.code.wire, extra=fields)
            return 0
        except (KeyError, ValueError) as err:
            log.warning("background refresh skipped: the connection lacks connect parameter %s", err, extra=fields)
            return 0
        return int(stored.version != current.version)

    async def _failed(self, tenant_id: str, connection_id: str, connector_id: str, err: RefreshFailed) -> None:
        status = EXPIRED if err.reason is RefreshFailureReason.NO_REFRESH_TOKEN else REFRESH_FAILED
        conn = await self._connections.set_status(tenant_id, connection_id, status, err.message)
        await self._audit.record(
            tenant_id,
            audit.CREDENTIAL_REFRESH_FAILED,
            audit.FAILED,
            connection_id=connection_id,
            connector_id=connector_id,
            actor=ACTOR,
            reason=err.reason.value,
            provider_error=err.provider_error or "",
        )
        log.info(
            "background refresh failed for good; connection marked %s",
            status,
            extra=log_fields(connection_id=connection_id),
        )
        for listener in self._listeners:
            try:
                await listener(tenant_id, conn, err)
            except Exception:
                log.warning("a refresh-failed listener failed", exc_info=True)
