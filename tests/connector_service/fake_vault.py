"""An in-memory `connector_service.vault.port.VaultPort` (as `VaultClient` is) for
unit tests: same methods, versions and error codes, no encryption. It also
lets a test look at everything stored, to prove secrets went to the vault."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ucf_common.errors import ErrorCode, UcfError


@dataclass(frozen=True)
class FakeMetadata:
    version: int
    expires_at: datetime | None = None


@dataclass(frozen=True)
class FakeSecret:
    payload: dict[str, Any] = field(repr=False)
    version: int
    expires_at: datetime | None = None

    @property
    def metadata(self) -> FakeMetadata:
        return FakeMetadata(self.version, self.expires_at)


class FakeVault:
    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str, int], FakeSecret] = {}
        self.healthy = True

    async def put(
        self,
        tenant_id: str,
        owner_id: str,
        kind: int,
        payload: dict[str, Any],
        *,
        expires_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> FakeMetadata:
        key = (tenant_id, owner_id, kind)
        current = self.secrets.get(key)
        if expected_version is not None and (current.version if current else 0) != expected_version:
            raise UcfError(ErrorCode.CONFLICT, "secret version changed")
        secret = FakeSecret(copy.deepcopy(payload), (current.version if current else 0) + 1, expires_at)
        self.secrets[key] = secret
        return secret.metadata

    async def get(self, tenant_id: str, owner_id: str, kind: int) -> FakeSecret:
        secret = self.secrets.get((tenant_id, owner_id, kind))
        if secret is None:
            raise UcfError(ErrorCode.NOT_FOUND, "secret not found")
        return FakeSecret(copy.deepcopy(secret.payload), secret.version, secret.expires_at)

    async def get_metadata(self, tenant_id: str, owner_id: str, kind: int) -> FakeMetadata:
        return (await self.get(tenant_id, owner_id, kind)).metadata

    async def delete(self, tenant_id: str, owner_id: str, kind: int, *, expected_version: int | None = None) -> int:
        secret = self.secrets.pop((tenant_id, owner_id, kind), None)
        if secret is None:
            raise UcfError(ErrorCode.NOT_FOUND, "secret not found")
        return secret.version

    async def check_health(self) -> bool:
        return self.healthy

    def plaintexts(self) -> str:
        """Every stored payload as text, for 'the secret is here and only here' checks."""
        return repr([s.payload for s in self.secrets.values()]) + str(datetime.now(UTC))
