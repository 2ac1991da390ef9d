"""Bulk-creating sealed secrets straight into a vault database (much faster than
one PutSecret per secret), using the vault's own sealing so they are exactly
what PutSecret would have stored."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from vault_service.keyring import KeyRing, SecretIdentity


async def seed_secrets(
    db: AsyncDatabase, keyring: KeyRing, count: int, *, tenant: str = "acme", chunk: int = 1000
) -> list[str]:
    """Inserts `count` api-key secrets owned by `owner-<n>`; returns the owner ids."""
    owners = [f"owner-{n}" for n in range(count)]
    now = datetime.now(UTC)
    for start in range(0, count, chunk):
        docs = []
        for owner in owners[start : start + chunk]:
            key_id, ciphertext = keyring.seal(SecretIdentity(tenant, owner, "api_key", 1), {"apiKey": f"k-{owner}"})
            docs.append(
                {
                    "tenant_id": tenant,
                    "owner_id": owner,
                    "kind": "api_key",
                    "version": 1,
                    "key_id": key_id,
                    "ciphertext": ciphertext,
                    "created_at": now,
                    "updated_at": now,
                    "expires_at": None,
                }
            )
        await db["secrets"].insert_many(docs)
    return owners
