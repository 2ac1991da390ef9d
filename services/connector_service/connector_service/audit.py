"""The connector-side audit trail (`audit_logs`): who did what to which
connection, with which outcome, under which request id.

Records hold ids, action names, outcomes and small non-secret facts only.
`details` keys that name a credential are refused, so a token cannot slip
into an audit record by mistake.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError
from ucf_common.logging import log_fields
from ucf_common.request_context import current_request_id

from connector_service import wire
from connector_service.auth import principal_var

log = logging.getLogger("connector_service.audit")

CONNECTION_CREATED = "connection.created"
CONNECTION_UPDATED = "connection.updated"
CONNECTION_DELETED = "connection.deleted"
CREDENTIAL_STORED = "credential.stored"
CREDENTIAL_READ = "credential.read"
CREDENTIAL_REFRESHED = "credential.refreshed"
CREDENTIAL_REVOKED = "credential.revoked"
CREDENTIAL_VALIDATED = "credential.validated"
CONNECTOR_UPDATED = "connector.updated"

_BATCH = 500
_LINGER_SECONDS = 0.001
_LINGER_BELOW = 16
_SECRET_WORDS = ("token", "secret", "password", "verifier", "api_key", "apikey")
_DUPLICATE_KEY = 11000


#: Detail names already checked and found harmless (names come from code: a small set).
_HARMLESS_NAMES: set[str] = set()


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    for name in details:
        if name in _HARMLESS_NAMES:
            continue
        if any(word in name.lower() for word in _SECRET_WORDS):
            raise ValueError(f"audit detail {name!r} looks like a credential field")
        if len(_HARMLESS_NAMES) < 1024:
            _HARMLESS_NAMES.add(name)
    return details


class AuditLog:
    """Appends are group-committed: records that arrive while a write is in flight
    go to the database together in the next `insert_many`, and each `record` call
    returns only once its own entry is written (or raises what the write raised).
    One caller at a time costs one insert, as before; many concurrent token reads
    share a round trip instead of queueing one insert each, and while the previous batch
    had more than one record the writer lingers `_LINGER_SECONDS` (1 ms) before taking
    the next one, so that batch is fuller (fewer commands for the database). A writer
    cancelled before it took some records fails their callers (`_writer_finished`).

    Appends are idempotent by themselves (every record carries its own `_id`), so they may go
    through `append_db`: the same database on a client with the driver's retryable writes
    off. The retry is ours (`_insert`): once, after a connection failure, counting a
    duplicate key as already written. That spares the server the per-command session
    bookkeeping that retryable writes cost (the hot path writes one insert per batch of
    reads); everything else still uses `db`.
    """

    def __init__(self, db: AsyncDatabase, *, append_db: AsyncDatabase | None = None):
        self._logs = db["audit_logs"]
        self._appends = (db if append_db is None else append_db)["audit_logs"]
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._last_batch = 0

    async def create_indexes(self) -> None:
        await self._logs.create_index([("tenant_id", 1), ("connection_id", 1), ("_id", -1)])

    async def record(
        self,
        tenant_id: str,
        action: str,
        outcome: str,
        *,
        connection_id: str = "",
        connector_id: str = "",
        actor: str | None = None,
        **details: Any,
    ) -> None:
        """Appends one entry; the actor defaults to the calling API key's id."""
        principal = principal_var.get()
        entry = {
            "_id": wire.new_id("aud"),
            "tenant_id": tenant_id,
            "action": action,
            "outcome": outcome,
            "actor": actor or (principal.key_id if principal else "anonymous"),
            "request_id": current_request_id(),
            "connection_id": connection_id,
            "connector_id": connector_id,
            "details": _check_details(details),
            "created_at": wire.now(),
        }
        await self._append(entry)
        # The record itself is the trail; the log line is for operators following writes and
        # failures. Successful credential reads (the hot path, one per handout) log at DEBUG.
        level = logging.DEBUG if action == CREDENTIAL_READ and outcome == "success" else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "audit %s %s", action, outcome, extra=log_fields(
                tenant_id=tenant_id, connection_id=connection_id, actor=entry["actor"]))

    async def _append(self, entry: dict[str, Any]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
            self._writer.add_done_callback(self._writer_finished)
        await asyncio.shield(done)

    def _writer_finished(self, writer: asyncio.Task[None]) -> None:
        """A writer cancelled (or crashed) before taking some records fails their callers:
        nobody goes on without their record written."""
        if not writer.cancelled() and writer.exception() is None:
            return
        pending, self._pending = self._pending, []
        for _, done in pending:
            if not done.done():
                done.set_exception(RuntimeError("audit write interrupted"))

    async def _write_pending(self) -> None:
        while self._pending:
            if self._last_batch > 1 and len(self._pending) < _LINGER_BELOW:
                # Group commit under concurrency (the last batch had company): give concurrent
                # readers a moment to join this insert. The database's cost is mostly per
                # command, so a fuller batch is cheaper per record. A lone caller never waits.
                await asyncio.sleep(_LINGER_SECONDS)
            batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            self._last_batch = len(batch)
            failure: BaseException | None = None
            try:
                await self._insert([entry for entry, _ in batch])
            except PyMongoError as err:
                failure = err
            finally:  # every waiter of the batch hears how its write went, even on cancellation
                for _, done in batch:
                    if not done.done():
                        if failure is None and not sys.exc_info()[0]:
                            done.set_result(None)
                        else:
                            done.set_exception(failure or RuntimeError("audit write interrupted"))

    async def _insert(self, entries: list[dict[str, Any]]) -> None:
        try:
            await self._appends.insert_many(entries, ordered=False)
        except ConnectionFailure:  # the answer was lost, not necessarily the write: try once more
            try:
                await self._appends.insert_many(entries, ordered=False)
            except BulkWriteError as err:
                # Unordered: every record not written before went in now; the others answer
                # a duplicate key, which means the first attempt had written them.
                if any(e.get("code") != _DUPLICATE_KEY for e in err.details.get("writeErrors", [])) \
                        or err.details.get("writeConcernErrors"):
                    raise

    async def list(
        self, tenant_id: str, *, connection_id: str = "", action: str = "", cursor: str = "", limit: int = 0
    ) -> tuple[list[dict[str, Any]], str]:
        """Newest first; returns the page and the cursor of the next one ('' at the end)."""
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if connection_id:
            query["connection_id"] = connection_id
        if action:
            query["action"] = action
        return await wire.find_page(self._logs, query, cursor, limit, newest_first=True)
