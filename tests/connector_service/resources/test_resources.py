"""ResourceService through the core: the connector gets the tenant's
credential from the vault, and a provider 401 marks the connection invalid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.registry import ConnectorRegistry
from ucf.connector.v1 import connections_pb2 as cpb
from ucf.connector.v1 import connectors_pb2 as pb
from ucf.connector.v1 import resources_pb2 as rpb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, api_key_provider, auth, providers_file, start_stack
from tests.fakes.github_server import TOKEN, FakeGitHub


@pytest.fixture
async def github_stack(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[tuple[Stack, FakeGitHub]]:
    fake = FakeGitHub(repos=3)
    with fake.serve():
        providers = providers_file(
            tmp_path, api_key_provider("github", "GitHub (test)", fake.base_url, verify_path="/user")
        )
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                providers_file=providers,
                registry=ConnectorRegistry([GitHubConnector]),
            ) as stack,
        ):
            yield stack, fake


async def test_connectors_read_resources_with_the_stored_credential(github_stack) -> None:
    stack, _ = github_stack
    key = await stack.key()
    listed = await stack.connectors.GetConnector(pb.GetConnectorRequest(connector_id="github"), metadata=auth(key))
    assert "containers" in listed.connector.capabilities
    done = await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(connector_id="github", workspace_id="ws1", api_key=TOKEN), metadata=auth(key)
    )
    repos = await stack.resources.ListContainers(
        rpb.ListContainersRequest(connector_id="github", connection_id=done.connection_id), metadata=auth(key)
    )
    assert len(repos.items) == 3
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await stack.resources.ListContainers(
            rpb.ListContainersRequest(connector_id="github", connection_id=done.connection_id),
            metadata=auth(await stack.key("globex")),
        )
    assert foreign.value.code() is grpc.StatusCode.NOT_FOUND


async def test_a_rejected_credential_marks_the_connection_invalid(github_stack) -> None:
    stack, _ = github_stack
    key = await stack.key()
    stored = await stack.connections.StoreToken(
        cpb.StoreTokenRequest(connector_id="github", workspace_id="ws1", token_string="ghp_revoked_elsewhere"),
        metadata=auth(key),
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await stack.resources.ListContainers(
            rpb.ListContainersRequest(connector_id="github", connection_id=stored.connection.id), metadata=auth(key)
        )
    conn = await stack.connections.GetConnection(
        cpb.GetConnectionRequest(connection_id=stored.connection.id), metadata=auth(key)
    )
    assert conn.connection.status == "invalid"
