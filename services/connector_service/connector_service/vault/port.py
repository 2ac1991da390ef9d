"""The vault as this service uses it: a `typing.Protocol` that `VaultClient` and the
tests' in-memory `FakeVault` both satisfy, so every holder of a vault is typed
against this port and never against the gRPC client."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class SecretInfo(Protocol):
    """What is known of a stored secret without its payload."""

    @property
    def version(self) -> int: ...

    @property
    def expires_at(self) -> datetime | None: ...


class StoredSecret(SecretInfo, Protocol):
    """A secret read back: its payload (never printed) and its version and expiry."""

    @property
    def payload(self) -> dict[str, Any]: ...


class VaultPort(Protocol):
    """Secrets keyed by (tenant, owner, kind); failures are `UcfError`s (`not_found`, `conflict`, `unavailable`)."""

    async def put(
        self,
        tenant_id: str,
        owner_id: str,
        kind: int,
        payload: dict[str, Any],
        *,
        expires_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> SecretInfo:
        """Creates or replaces; with `expected_version` (0 = must not exist) a lost race is `conflict`."""
        ...

    async def get(self, tenant_id: str, owner_id: str, kind: int) -> StoredSecret:
        """The secret; `not_found` when there is none."""
        ...

    async def get_metadata(self, tenant_id: str, owner_id: str, kind: int) -> SecretInfo:
        """The secret's version and expiry, without its payload; `not_found` when there is none."""
        ...

    async def delete(self, tenant_id: str, owner_id: str, kind: int, *, expected_version: int | None = None) -> int:
        """Deletes and returns the deleted version; `not_found` when there was none."""
        ...

    async def check_health(self) -> bool:
        """True when the vault answers SERVING now."""
        ...
