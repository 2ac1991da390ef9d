"""An in-memory `CredentialStore` with the vault's optimistic-concurrency contract.

Both "processes" of a test share one instance, as two connector services share the vault.
Each call yields to the event loop first, so concurrent readers interleave as they would
over the network. `FrozenSaves` wraps it for a process that froze (or died) after the
provider answered and before the credential was stored: its saves hang until `thaw()`.
"""

from __future__ import annotations

import asyncio

from connector_service.oauth import (
    CredentialVersionConflict,
    StoredCredential,
    TokenSet,
)


class ProcessGone(Exception):
    """What a frozen save raises once thawed: the process never got to store anything."""


class MemoryCredentialStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], StoredCredential] = {}
        self.saves = 0

    def put(self, tenant: str, connection_id: str, tokens: TokenSet) -> int:
        """Store unconditionally (an onboarding or reconnect); returns the new version."""
        current = self._data.get((tenant, connection_id))
        version = (current.version if current else 0) + 1
        self._data[(tenant, connection_id)] = StoredCredential(tokens, version)
        return version

    async def load(self, tenant: str, connection_id: str) -> StoredCredential | None:
        await asyncio.sleep(0)
        return self._data.get((tenant, connection_id))

    async def save(self, tenant: str, connection_id: str, tokens: TokenSet, *, expected_version: int) -> int:
        await asyncio.sleep(0)
        current = self._data.get((tenant, connection_id))
        if current is None or current.version != expected_version:
            raise CredentialVersionConflict(f"expected version {expected_version}")
        self.saves += 1
        return self.put(tenant, connection_id, tokens)


class FrozenSaves:
    """A view of a shared store whose saves hang: the crashing process's side of the store."""

    def __init__(self, shared: MemoryCredentialStore):
        self._shared = shared
        self._gate = asyncio.Event()

    async def load(self, tenant: str, connection_id: str) -> StoredCredential | None:
        return await self._shared.load(tenant, connection_id)

    async def save(self, tenant: str, connection_id: str, tokens: TokenSet, *, expected_version: int) -> int:
        await self._gate.wait()
        raise ProcessGone("the process froze before storing the credential")

    def thaw(self) -> None:
        self._gate.set()
