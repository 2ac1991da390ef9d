"""Credentials read recently, kept in this process so the hot token read
(`GetToken`, and connectors asking for a credential) skips the connection
lookup and the vault round trip.

An entry is the connection record and the plaintext credential of one
(tenant, connection). It lives at most `ttl` seconds (`CACHE_SECONDS`), never
past the credential's own expiry minus the refresh margin (so a token that is
due for refresh is always read from the vault and refreshed), and it is
dropped when this process changes the connection (`ConnectionStore` calls
`drop` before and after every write: status, credential stored or refreshed,
revocation, deletion). A read that started before a drop does not store what
it read (`epoch`). Changes made by another connector-service process reach
this one within `ttl`, like API-key revocation.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector_service.connections.credentials import CredentialRead

CACHE_SECONDS = 30.0
MAX_ENTRIES = 10_000


class CredentialCache:
    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = MAX_ENTRIES):
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[tuple[str, str], tuple[CredentialRead, float]] = {}
        #: Bumped by every drop; a read stores its result only if no drop happened meanwhile.
        self.epoch = 0

    def get(self, tenant_id: str, connection_id: str) -> CredentialRead | None:
        entry = self._entries.get((tenant_id, connection_id))
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            self._entries.pop((tenant_id, connection_id), None)
            return None
        return entry[0]

    def put(
        self,
        tenant_id: str,
        connection_id: str,
        value: CredentialRead,
        *,
        epoch: int,
        valid_until: datetime | None,
        margin_seconds: float,
        now: datetime,
    ) -> None:
        """Keeps `value` unless a drop happened since `epoch` was read or it is (nearly) expired."""
        if self._ttl <= 0 or epoch != self.epoch:
            return
        lifetime = self._ttl
        if valid_until is not None:
            lifetime = min(lifetime, (valid_until - now).total_seconds() - margin_seconds)
        if lifetime <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest
        self._entries[(tenant_id, connection_id)] = (value, time.monotonic() + lifetime)

    def drop(self, tenant_id: str, connection_id: str) -> None:
        self.epoch += 1
        self._entries.pop((tenant_id, connection_id), None)
