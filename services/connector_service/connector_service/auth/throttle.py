"""Shared limits on failed authentications, per source address and per API key id.

Every failure is one atomic `$inc` upsert on the `auth_failures` document of its
(kind, subject, window bucket), so all replicas count into the same documents; a TTL
index drops buckets once their window is over. The window is fixed (bucket =
now // window), so a subject gets at most `limit` failures per window, and at most
twice that across a window boundary.

Only failures touch the database. A subject this process has seen go over the limit
is remembered in memory until its window ends (`blocked_for`), so the check that runs
before a key is verified is a dict lookup: successful callers are never slowed.

Counts carry no tenant: they are kept before anyone is authenticated, and name only
an address or a key id, never a secret.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from ucf_common.logging import log_fields

log = logging.getLogger("connector_service.auth_throttle")

COLLECTION = "auth_failures"
SOURCE = "source"
KEY = "key"
_MAX_SUBJECT = 200
_MAX_REMEMBERED = 10_000


class AuthThrottle:
    """Counts failed authentications and says how long a subject must wait, if at all."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        *,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
    ):
        self._col = db[COLLECTION]
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        #: (kind, subject) → end of the window in which it went over the limit (clock seconds).
        self._blocked: dict[tuple[str, str], float] = {}

    async def create_indexes(self) -> None:
        await self._col.create_index("expires_at", expireAfterSeconds=0)

    def blocked_for(self, kind: str, subject: str) -> int | None:
        """Seconds `subject` must still wait, when this process knows it is over the limit; no I/O."""
        until = self._blocked.get((kind, subject))
        if until is None:
            return None
        now = self._clock()
        if until <= now:
            self._blocked.pop((kind, subject), None)
            return None
        return max(1, math.ceil(until - now))

    async def failed(self, kind: str, subject: str) -> int | None:
        """Counts one failure of `subject`; returns the seconds to wait when it is now over the limit.

        A database that cannot count does not turn a refusal into an error: the failure is
        logged and answered as not throttled."""
        now = self._clock()
        bucket = int(now // self._window)
        until = (bucket + 1) * self._window
        subject = subject[:_MAX_SUBJECT]
        try:
            doc = await self._col.find_one_and_update(
                {"_id": f"{kind}:{subject}:{bucket}"},
                {
                    "$inc": {"count": 1},
                    "$setOnInsert": {
                        "kind": kind,
                        "subject": subject,
                        "bucket": bucket,
                        "expires_at": datetime.fromtimestamp(until, UTC),
                    },
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
                projection={"count": 1},
            )
        except PyMongoError as err:
            log.warning("could not count a failed authentication: %s", type(err).__name__)
            return None
        count = int(doc["count"]) if doc else 1
        if count <= self._limit:
            return None
        if count == self._limit + 1:
            log.warning(
                "failed authentications throttled", extra=log_fields(kind=kind, subject=subject, limit=self._limit)
            )
        self._remember(kind, subject, until, now)
        return max(1, math.ceil(until - now))

    def _remember(self, kind: str, subject: str, until: float, now: float) -> None:
        if len(self._blocked) >= _MAX_REMEMBERED:
            self._blocked = {k: end for k, end in self._blocked.items() if end > now}
            if len(self._blocked) >= _MAX_REMEMBERED:  # still full: the database keeps counting anyway
                return
        self._blocked[(kind, subject)] = until
