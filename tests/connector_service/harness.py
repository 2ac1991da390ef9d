"""A running connector service for tests, with its stubs and API-key helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
from connector_service.app.server import ConnectorServer, create_server
from connector_service.app.settings import Settings
from connector_service.catalog.providers import load_catalog
from connector_service.connections.audit import SEGMENTS
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ucf.connector.v1 import (
    connections_pb2_grpc,
    connectors_pb2_grpc,
    jobs_pb2_grpc,
    resources_pb2_grpc,
    webhooks_pb2_grpc,
)


@dataclass
class Stack:
    server: ConnectorServer
    db: AsyncDatabase
    vault: Any
    channel: grpc.aio.Channel
    connectors: connectors_pb2_grpc.ConnectorServiceStub
    connections: connections_pb2_grpc.ConnectionServiceStub
    jobs: jobs_pb2_grpc.JobServiceStub
    webhooks: webhooks_pb2_grpc.WebhookServiceStub
    resources: resources_pb2_grpc.ResourceServiceStub

    async def key(self, tenant: str = "acme", scopes: str = "all") -> str:
        key, _ = await self.server.api_keys.create(tenant, scopes, "test")
        return key

    async def audited(self, connection_id: str, action: str) -> int:
        """How many audit records of `action` on the connection are stored (any tenant)."""
        count = 0
        async for segment in self.db[SEGMENTS].find({"connection_ids": connection_id}):
            count += sum(e["connection_id"] == connection_id and e["action"] == action for e in segment["entries"])
        return count


def auth(key: str, tenant: str | None = None, request_id: str | None = None) -> list[tuple[str, str]]:
    metadata = [("authorization", f"Bearer {key}")]
    if tenant:
        metadata.append(("x-tenant-id", tenant))
    if request_id:
        metadata.append(("x-request-id", request_id))
    return metadata


@asynccontextmanager
async def start_stack(
    mongo_url: str,
    db_name: str,
    vault: Any,
    http: httpx.AsyncClient,
    *,
    providers_file: Path | None = None,
    registry: Any = None,
    **settings: Any,
) -> AsyncIterator[Stack]:
    config = Settings(
        connector_port=0,
        mongodb_url=mongo_url,
        mongodb_db=db_name,
        ucf_providers_file=providers_file,
        connector_health_interval_seconds=0.2,
        _env_file=None,
        **settings,
    )
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[db_name]
    server, port = await create_server(config, db, vault, http, catalog=load_catalog(providers_file), registry=registry)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Stack(
            server,
            db,
            vault,
            channel,
            connectors_pb2_grpc.ConnectorServiceStub(channel),
            connections_pb2_grpc.ConnectionServiceStub(channel),
            jobs_pb2_grpc.JobServiceStub(channel),
            webhooks_pb2_grpc.WebhookServiceStub(channel),
            resources_pb2_grpc.ResourceServiceStub(channel),
        )
    finally:
        await channel.close()
        await server.stop(0)
        await client.drop_database(db_name)
        await client.close()


def api_key_provider(provider_id: str, display_name: str, base_url: str, *, verify_path: str | None = None) -> str:
    """A catalog entry (YAML) for an API-key connector whose API lives at `base_url` (a local fake);
    with `verify_path`, onboarding checks the key with a bearer GET there."""
    entry = f"""
  {provider_id}:
    display_name: {display_name}
    auth_mode: api_key
    base_url: {base_url}
    credential_fields: [{{name: api_key, label: Token, type: password, secret: true}}]
"""
    if verify_path is not None:
        entry += f"""    verification:
      url: {base_url}{verify_path}
      headers: {{Authorization: "Bearer {{api_key}}"}}
"""
    return entry


def providers_file(folder: Path, *entries: str) -> Path:
    """Writes an operator catalog (`UCF_PROVIDERS_FILE`) holding `entries` and returns its path."""
    path = folder / "providers.yaml"
    path.write_text("providers:" + "".join(entries))
    return path
