"""The connector-side audit trail (`audit_segments`): who did what to which
connection, with which outcome, under which request id.

Records hold ids, action names, outcomes and small non-secret facts only.
`details` keys that name a credential are refused, so a token cannot slip
into an audit record by mistake; they are stored lowerCamelCase, like every
other field of the API (`expiry_source` → `expirySource`).

Every entry has an outcome from the closed set `OUTCOMES`: `success`, `denied`
(the caller was refused: authentication, scope, tenant, egress, a revoked
connection, a refused onboarding) or `failed` (the service or a provider could
not do it). Denials are written with `record_denial`, which never raises and
keeps at most `DENIAL_BUDGET` entries per tenant and action per
`DENIAL_WINDOW_SECONDS` in one process, so refused requests cannot flood the
trail (refused authentications are bounded further by `AuthThrottle`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError
from ucf_common.errors import ErrorCode
from ucf_common.logging import log_fields
from ucf_common.request_context import current_request_id

from connector_service.app import metrics
from connector_service.auth import interceptor
from connector_service.platform import wire
from connector_service.platform.writes import duplicate_indexes

log = logging.getLogger("connector_service.audit")

CONNECTION_CREATED = "connection.created"
CONNECTION_UPDATED = "connection.updated"
CONNECTION_DELETED = "connection.deleted"
CREDENTIAL_STORED = "credential.stored"
#: The service's own use of a credential: resource reads, sync jobs, verification.
CREDENTIAL_USED = "credential.use"
#: A plaintext credential handed to a caller (`GetToken`, REST `GET …/token`).
CREDENTIAL_EXPORTED = "credential.export"
CREDENTIAL_REFRESHED = "credential.refreshed"
CREDENTIAL_REVOKED = "credential.revoked"
CREDENTIAL_VALIDATED = "credential.validated"
CONNECTOR_UPDATED = "connector.updated"
AUTH_FAILED = "interceptor.failed"
ACCESS_DENIED = "access.denied"
EGRESS_REFUSED = "egress.refused"
ONBOARDING_FAILED = "connection.onboarding"
JOB_CREATED = "job.created"
JOB_CANCELLED = "job.cancelled"
SYNC_STATE_WRITTEN = "sync_state.written"
WEBHOOK_REGISTERED = "webhook.registered"
WEBHOOK_UNREGISTERED = "webhook.unregistered"
SCHEDULE_UPDATED = "schedule.updated"
SCHEDULE_DELETED = "schedule.deleted"
SCHEDULE_SKIPPED = "schedule.skipped"
CREDENTIAL_REFRESH_FAILED = "credential.refresh_failed"

_QUIET_ACTIONS = frozenset({CREDENTIAL_USED, CREDENTIAL_EXPORTED})

SUCCESS, DENIED, FAILED = "success", "denied", "failed"
OUTCOMES = frozenset({SUCCESS, DENIED, FAILED})
#: Error codes that mean the caller was refused (`denied`); any other means `failed`.
_DENIED_CODES = frozenset(
    {
        ErrorCode.INVALID_REQUEST,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.FORBIDDEN,
        ErrorCode.NOT_FOUND,
        ErrorCode.CONFLICT,
        ErrorCode.FAILED_PRECONDITION,
        ErrorCode.RATE_LIMITED,
    }
)


def outcome_of(code: ErrorCode) -> str:
    """The outcome of a request refused with `code`: `denied` for the caller's side, else `failed`."""
    return DENIED if code in _DENIED_CODES else FAILED


#: Denial entries kept per (tenant, action) per window in one process; the rest are counted in the log.
DENIAL_BUDGET = 100
DENIAL_WINDOW_SECONDS = 60.0

_BATCH = 500
_LINGER_SECONDS = 0.001
_LINGER_BELOW = 16
SEGMENTS = "audit_segments"
_SECRET_WORDS = ("token", "secret", "password", "verifier", "api_key", "apikey")


#: Detail names already checked and found harmless (names come from code: a small set).
_HARMLESS_NAMES: set[str] = set()


def _check_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details with lowerCamelCase keys; a key naming a credential is refused."""
    for name in details:
        if name in _HARMLESS_NAMES:
            continue
        if any(word in name.lower().replace("_", "") for word in _SECRET_WORDS):
            raise ValueError(f"audit detail {name!r} looks like a credential field")
        if len(_HARMLESS_NAMES) < 1024:
            _HARMLESS_NAMES.add(name)
    return {camel_case(name): value for name, value in details.items()}


@functools.lru_cache(maxsize=1024)
def camel_case(name: str) -> str:
    """`expiry_source` → `expirySource`; a name without underscores is kept as it is."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class AuditLog:
    """Appends are group-committed: records that arrive while a write is in flight
    go to the database together in the next write, and each `record` call returns
    only once its own entry is written (or raises what the write raised). One caller
    at a time costs one insert; many concurrent token reads share one. While the previous
    batch had more than one record the writer lingers `_LINGER_SECONDS` (1 ms) before
    taking the next one, so that batch is fuller. A writer cancelled before it took some
    records fails their callers (`_writer_finished`).

    Storage: a batch is written as one *segment* document per tenant (`audit_segments`:
    `tenant_id`, `oldest`/`newest` entry id, the distinct `connection_ids` and `actions`,
    and the `entries`), so the database pays its per-document costs (index keys, oplog
    entry) once per batch instead of once per record. Entry ids are minted when the
    batch is taken, all with that moment's millisecond and consecutive random suffixes, after
    the previous batch's newest id (continued from it within one millisecond): they sort in
    commit order, and a segment's ids share one millisecond, which is what
    lets `list` stop scanning early (see there).

    Appends are idempotent by themselves (every segment carries its own `_id`), so they may
    go through `append_db`: the same database on a client with the driver's retryable
    writes off. The retry is ours (`_insert`): once, after a connection failure, counting
    a duplicate key as already written. That spares the server the per-command session
    bookkeeping that retryable writes cost; everything else still uses `db`.
    """

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, append_db: AsyncDatabase[dict[str, Any]] | None = None):
        self._segments = db[SEGMENTS]
        self._appends = (db if append_db is None else append_db)[SEGMENTS]
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._last_batch = 0
        #: The newest entry id this log minted: the next batch's ids sort after it (same millisecond too).
        self._last_id = ""
        #: (tenant, action) → (window start, denial entries written in it, entries dropped).
        self._denials: dict[tuple[str, str], list[float]] = {}

    async def create_indexes(self) -> None:
        await self._segments.create_index([("tenant_id", 1), ("oldest", -1)])
        await self._segments.create_index([("tenant_id", 1), ("connection_ids", 1), ("oldest", -1)])

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
        """Appends one entry; the actor defaults to the calling API key's id. `outcome` must be
        one of `OUTCOMES`; `details` keys are stored lowerCamelCase."""
        if outcome not in OUTCOMES:
            raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}, not {outcome!r}")
        principal = interceptor.principal_var.get()
        entry = {
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
        # failures. Successful credential uses and exports (the hot path, one per handout) log at DEBUG.
        level = logging.DEBUG if action in _QUIET_ACTIONS and outcome == SUCCESS else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "audit %s %s",
                action,
                outcome,
                extra=log_fields(tenant_id=tenant_id, connection_id=connection_id, actor=entry["actor"]),
            )

    async def record_denial(
        self,
        tenant_id: str,
        action: str,
        *,
        outcome: str = DENIED,
        connection_id: str = "",
        connector_id: str = "",
        actor: str | None = None,
        **details: Any,
    ) -> None:
        """Records a refused request (`outcome: denied`, or `failed` for a refusal the service or a
        provider caused) without ever raising: the caller goes on to answer its refusal whether or
        not this write worked. Beyond `DENIAL_BUDGET` entries per (tenant, action) per window this
        process writes none and logs how many it dropped."""
        if not self._denial_allowed(tenant_id, action):
            return
        try:
            await self.record(
                tenant_id,
                action,
                outcome,
                connection_id=connection_id,
                connector_id=connector_id,
                actor=actor,
                **details,
            )
        except Exception as err:  # noqa: BLE001 - the refusal must still be answered
            log.warning(
                "audit write of a denial failed: %s",
                type(err).__name__,
                extra=log_fields(tenant_id=tenant_id, action=action),
            )

    def _denial_allowed(self, tenant_id: str, action: str) -> bool:
        now = time.monotonic()
        key = (tenant_id, action)
        window = self._denials.get(key)
        if window is None or now - window[0] >= DENIAL_WINDOW_SECONDS:
            if window is not None and window[2]:
                log.warning(
                    "audit: %d denials not recorded in the last window",
                    int(window[2]),
                    extra=log_fields(tenant_id=tenant_id, action=action),
                )
            if len(self._denials) >= 10_000:
                self._denials = {k: w for k, w in self._denials.items() if now - w[0] < DENIAL_WINDOW_SECONDS}
            window = self._denials[key] = [now, 0.0, 0.0]
        if window[1] >= DENIAL_BUDGET:
            window[2] += 1
            return False
        window[1] += 1
        return True

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
            metrics.AUDIT_BATCH.observe(len(batch))
            try:
                with metrics.AUDIT_SECONDS.time():
                    segments = _segments([entry for entry, _ in batch], after=self._last_id)
                    self._last_id = max(segment["newest"] for segment in segments)
                    await self._insert(segments)
            except PyMongoError as err:
                failure = err
            finally:  # every waiter of the batch hears how its write went, even on cancellation
                for _, done in batch:
                    if not done.done():
                        if failure is None and not sys.exc_info()[0]:
                            done.set_result(None)
                        else:
                            done.set_exception(failure or RuntimeError("audit write interrupted"))

    async def _write(self, segments: list[dict[str, Any]]) -> None:
        """One insert command. A batch of one tenant (the common case) is one segment, and
        `insert_one` spares the driver its bulk-write machinery (about a fifth of the driver's
        CPU per commit, measured in issue 17); several go in one unordered `insert_many`."""
        if len(segments) == 1:
            await self._appends.insert_one(segments[0])
        else:
            await self._appends.insert_many(segments, ordered=False)

    async def _insert(self, segments: list[dict[str, Any]]) -> None:
        try:
            await self._write(segments)
        except ConnectionFailure:  # the answer was lost, not necessarily the write: try once more
            try:
                await self._write(segments)
            except DuplicateKeyError:
                pass  # the one segment's own `_id`: the first attempt had written it
            except BulkWriteError as err:
                # Unordered: every segment not written before went in now; the others answer
                # a duplicate key, which means the first attempt had written them.
                duplicate_indexes(err)

    async def list(
        self, tenant_id: str, *, connection_id: str = "", action: str = "", cursor: str = "", limit: int = 0
    ) -> tuple[list[dict[str, Any]], str]:
        """Newest first; returns the page (entries shaped as documents: `_id`, `tenant_id`, ...)
        and the cursor of the next one ('' at the end).

        Segments are read in `oldest`-descending order. A segment's ids share the millisecond
        of its `oldest`, so once `size + 1` entries are held and a segment's millisecond is
        below that of the last entry held, neither it nor any segment after it can hold a
        newer entry: the scan stops there.
        """
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if connection_id:
            query["connection_ids"] = connection_id
        if action:
            query["actions"] = action
        after = wire.decode_cursor(cursor)
        if after:
            query["oldest"] = {"$lt": after}
        size = wire.page_size(limit)
        picked: list[dict[str, Any]] = []
        async for segment in self._segments.find(query).sort("oldest", -1).batch_size(size + 1):
            if len(picked) > size and wire.id_millisecond(segment["oldest"]) < wire.id_millisecond(picked[size]["_id"]):
                break
            picked.extend(
                {"_id": entry["id"], "tenant_id": tenant_id, **entry}
                for entry in segment["entries"]
                if (not after or entry["id"] < after)
                and (not connection_id or entry["connection_id"] == connection_id)
                and (not action or entry["action"] == action)
            )
            picked.sort(key=lambda entry: entry["_id"], reverse=True)
            del picked[size + 1 :]
        for entry in picked:
            del entry["id"]
        return picked[:size], wire.encode_cursor(picked[size - 1]["_id"]) if len(picked) > size else ""


def _segments(entries: list[dict[str, Any]], after: str = "") -> list[dict[str, Any]]:
    """One segment per tenant; entries get consecutive ids of this millisecond, in order, all after
    `after` (the previous batch's newest id)."""
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for entry, entry_id in zip(entries, wire.consecutive_ids("aud", len(entries), after), strict=True):
        tenant = entry.pop("tenant_id")
        entry["id"] = entry_id
        by_tenant.setdefault(tenant, []).append(entry)
    return [
        {
            "_id": grouped[-1]["id"],
            "tenant_id": tenant,
            "oldest": grouped[0]["id"],
            "newest": grouped[-1]["id"],
            "connection_ids": sorted({e["connection_id"] for e in grouped}),
            "actions": sorted({e["action"] for e in grouped}),
            "entries": grouped,
        }
        for tenant, grouped in by_tenant.items()
    ]
