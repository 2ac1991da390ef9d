"""An in-process vault on a free loopback port, against the session's SecantusDB.

`running_vault` yields a `RunningVault` with a ready stub and the metadata a
legitimate token caller sends; each vault gets its own database.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography.fernet import Fernet
from google.protobuf import struct_pb2
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from vault_service.keyring import KeyRing
from vault_service.server import VaultServer, create_server
from vault_service.settings import Settings


def new_key_text(*ids: str) -> str:
    return ",".join(f"{key_id}:{Fernet.generate_key().decode()}" for key_id in ids)


def ref(
    owner: str = "conn-1", tenant: str = "acme", kind: int = vault_pb2.SECRET_KIND_OAUTH2_TOKENS
) -> vault_pb2.SecretRef:
    return vault_pb2.SecretRef(tenant_id=tenant, owner_id=owner, kind=kind)


def struct(payload: dict[str, Any]) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(payload)
    return value


@dataclass
class RunningVault:
    vault: VaultServer
    port: int
    db: AsyncDatabase
    keyring: KeyRing
    token: str
    channel: grpc.aio.Channel
    stub: vault_pb2_grpc.VaultServiceStub

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    async def put(self, payload: dict[str, Any], **ref_fields: Any) -> vault_pb2.PutSecretResponse:
        return await self.stub.PutSecret(
            vault_pb2.PutSecretRequest(ref=ref(**ref_fields), payload=struct(payload)), metadata=self.md, timeout=10
        )

    async def get(self, **ref_fields: Any) -> vault_pb2.GetSecretResponse:
        return await self.stub.GetSecret(
            vault_pb2.GetSecretRequest(ref=ref(**ref_fields)), metadata=self.md, timeout=10
        )


def settings_for(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"vault_host": "127.0.0.1", "vault_port": 0, "vault_health_interval_seconds": 0.2}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def running_vault(
    mongo_url: str,
    db_name: str,
    key_text: str | None = None,
    *,
    channel: grpc.aio.Channel | None = None,
    **overrides: Any,
) -> AsyncIterator[RunningVault]:
    token = overrides.pop("token", None) or secrets.token_urlsafe(32)
    settings = settings_for(vault_client_token=token, **overrides)
    keyring = KeyRing.from_text(key_text or new_key_text("k1"))
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True, serverSelectionTimeoutMS=3000)
    db = client[db_name]
    vault, port = await create_server(settings, db, keyring)
    await vault.start()
    channel = channel or grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield RunningVault(vault, port, db, keyring, token, channel, vault_pb2_grpc.VaultServiceStub(channel))
    finally:
        await channel.close()
        await vault.stop(None)
        await client.close()
