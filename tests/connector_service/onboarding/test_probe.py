"""ProbeConnector does real work: it reaches the instance behind a connection
(or, for form-credential connectors, behind submitted config) and reports it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.postgres import PostgresConnector
from connector_service.connectors.registry import ConnectorRegistry
from google.protobuf import struct_pb2
from ucf.connector.v1 import connectors_pb2 as pb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, api_key_provider, auth, providers_file, start_stack
from tests.fakes.github_server import TOKEN, FakeGitHub

PG_CONFIG = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres", "password": ""}


@pytest.fixture
async def stack(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[tuple[Stack, FakeGitHub]]:
    fake = FakeGitHub(repos=1)
    with fake.serve():
        providers = providers_file(tmp_path, api_key_provider("github", "GitHub (test)", fake.base_url))
        registry = ConnectorRegistry([GitHubConnector, PostgresConnector])
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url, f"ucf_{db_suffix}", FakeVault(), http, providers_file=providers, registry=registry
            ) as running,
        ):
            yield running, fake
        await registry.aclose()


async def test_probe_through_a_connection_reports_the_instance(stack) -> None:
    running, _ = stack
    key = await running.key()
    done = await running.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(connector_id="github", workspace_id="ws1", api_key=TOKEN), metadata=auth(key)
    )
    probed = await running.connectors.ProbeConnector(
        pb.ProbeConnectorRequest(connector_id="github", connection_id=done.connection_id), metadata=auth(key)
    )
    assert "containers" in probed.capabilities
    assert probed.instance.fields, "the probe should describe the instance it reached"


async def test_postgres_config_is_probed_before_any_connection_exists(stack) -> None:
    running, _ = stack
    config = struct_pb2.Struct()
    config.update(PG_CONFIG)
    probed = await running.connectors.ProbeConnector(
        pb.ProbeConnectorRequest(connector_id="postgres", config=config), metadata=auth(await running.key())
    )
    assert probed.instance["database"] == "test"
    assert probed.instance["readOnly"] is True
    assert "items" in probed.capabilities


async def test_probe_without_connection_or_config_is_a_clear_400(stack) -> None:
    running, _ = stack
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await running.connectors.ProbeConnector(
            pb.ProbeConnectorRequest(connector_id="github"), metadata=auth(await running.key())
        )
    assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "connectionId" in err.value.details()


async def test_another_tenants_connection_cannot_be_probed(stack) -> None:
    running, _ = stack
    done = await running.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(connector_id="github", workspace_id="ws1", api_key=TOKEN),
        metadata=auth(await running.key()),
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await running.connectors.ProbeConnector(
            pb.ProbeConnectorRequest(connector_id="github", connection_id=done.connection_id),
            metadata=auth(await running.key("globex")),
        )
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
