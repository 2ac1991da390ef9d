"""The catalog API tells catalog-only providers from those with normalized resources,
and gives the Connect page the connect-time parameters."""

from __future__ import annotations

import httpx
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.registry import ConnectorRegistry
from ucf.connector.v1 import connectors_pb2 as pb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import auth, start_stack


async def test_list_connectors_marks_normalized_providers_and_lists_connect_params(
    mongo_url: str, db_suffix: str
) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        start_stack(
            mongo_url, f"ucf_{db_suffix}", FakeVault(), http, registry=ConnectorRegistry([GitHubConnector])
        ) as stack,
    ):
        key = await stack.key()
        listed = await stack.connectors.ListConnectors(pb.ListConnectorsRequest(), metadata=auth(key))
    by_id = {c.id: c for c in listed.items}
    assert len(by_id) >= 100
    assert by_id["github"].normalized and not by_id["slack"].normalized
    assert by_id["slack"].docs_url.startswith("https://")
    shop = {p.name: p for p in by_id["shopify"].connect_params}["shop"]
    assert shop.required and not shop.secret
    tenant = {p.name: p for p in by_id["microsoft"].connect_params}["tenant"]
    assert not tenant.required
