"""The audit head on the log stream, so a truncated audit tail can be detected.

An intact hash chain proves that no record was edited, removed or reordered,
but not that the newest records are all still there: deleting the last records
leaves a shorter chain that is still intact. So the vault writes its head — the
record count and the newest record's hash — to its log stream (which is shipped
off the host) at start, at stop and every VAULT_AUDIT_HEAD_INTERVAL_SECONDS, as
a JSON log line with `"event": "vault.audit_head"`, `count` and `head`.

`python -m vault_service verify-audit --expect-head COUNT:HASH` then checks the
chain in the database against a head taken from the shipped logs: the chain
must reach record COUNT and that record must have that hash.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError
from ucf_common.logging import log_fields

from vault_service.audit import GENESIS_HASH, AuditLog, ChainReport

log = logging.getLogger("vault.audit")

EVENT = "vault.audit_head"
_HEAD_TEXT = re.compile(r"(\d+):([0-9a-f]{64})")
#: A head read that takes longer than this is reported as unavailable instead of holding up a stop.
_READ_TIMEOUT = 5.0


@dataclass(frozen=True)
class AuditHead:
    #: Sequence number of the newest record (= the number of records in an intact chain); 0 for an empty log.
    count: int
    #: That record's hash (64 zeros for an empty log).
    hash: str

    def __str__(self) -> str:
        return f"{self.count}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> AuditHead:
        """`COUNT:HASH` as the log line's `count` and `head` give it; ValueError otherwise."""
        match = _HEAD_TEXT.fullmatch(text.strip().lower())
        if match is None:
            raise ValueError(f"expected COUNT:HASH (a record count and a 64-character hex hash), got {text!r}")
        return cls(int(match.group(1)), match.group(2))


async def head_mismatch(collection: AsyncCollection, report: ChainReport, expected: AuditHead) -> str | None:
    """Why an intact chain (`report`) does not contain the shipped head `expected`; None when it does."""
    if report.records < expected.count:
        return (
            f"the chain ends at record {report.records} but the shipped head is record {expected.count}: "
            f"records {report.records + 1}..{expected.count} are missing (the audit tail was truncated)"
        )
    if expected.count == 0:
        found = GENESIS_HASH
    else:
        record = await collection.find_one({"_id": expected.count}, projection={"hash": 1})
        found = str(record["hash"]) if record else ""
    if found != expected.hash:
        return (
            f"record {expected.count} has hash {found}, the shipped head says {expected.hash}: "
            f"the audit log was rewritten at or before record {expected.count}"
        )
    return None


class AuditHeadReporter:
    """Logs the head at start, every `interval` seconds while running, and at stop."""

    def __init__(self, audit: AuditLog, interval: float):
        self._audit = audit
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def report(self, at: str) -> AuditHead | None:
        """Reads the head from the database and logs it; None (logged as a warning) when it cannot be read."""
        try:
            count, head_hash = await asyncio.wait_for(self._audit.head(), _READ_TIMEOUT)
        except (PyMongoError, TimeoutError) as err:
            log.warning(
                "audit head unreadable at %s",
                at,
                extra=log_fields(event=f"{EVENT}_unavailable", at=at, error=type(err).__name__),
            )
            return None
        head = AuditHead(count, head_hash)
        log.info("audit head %s", head, extra=log_fields(event=EVENT, at=at, count=head.count, head=head.hash))
        return head

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.report("interval")

    async def start(self) -> None:
        await self.report("start")
        self._task = asyncio.create_task(self._run(), name="audit-head-reporter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.report("stop")
