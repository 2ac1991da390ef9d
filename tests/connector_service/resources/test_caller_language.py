"""Error messages in the caller's language: form fields by their REST names, REST routes beside
gRPC methods, one wording for an unknown connector, and a conflict naming the connector a
connection belongs to when it is used with another one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from connector_service.connectors.registry import ConnectorRegistry
from google.protobuf import struct_pb2
from ucf.connector.v1 import connectors_pb2 as pb
from ucf.connector.v1 import resources_pb2 as rpb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, auth, start_stack


@pytest.fixture
async def stack(mongo_url: str, db_suffix: str) -> AsyncIterator[Stack]:
    """The service with its built-in connectors (resource routes included)."""
    registry = ConnectorRegistry.default()
    try:
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(mongo_url, f"ucf_{db_suffix}", FakeVault(), http, registry=registry) as running,
        ):
            yield running
    finally:
        await registry.aclose()


def _form(values: dict) -> struct_pb2.Struct:
    form = struct_pb2.Struct()
    form.update(values)
    return form


async def _refused(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_form_fields_are_named_as_the_rest_client_sends_them(stack: Stack) -> None:
    key = await stack.key()
    missing = await _refused(
        stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(
                connector_id="jira",
                workspace_id="ws",
                method="basic",
                credentials=_form({"site": "https://acme.atlassian.net", "email": "a@example.com"}),
            ),
            metadata=auth(key),
        )
    )
    assert missing.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert missing.details() == "missing credential fields: apiToken"
    unknown = await _refused(
        stack.connectors.ConnectCallback(
            pb.ConnectCallbackRequest(
                connector_id="postgres",
                workspace_id="ws",
                credentials=_form({"host": "127.0.0.1", "database": "test", "user": "postgres", "row_limit": 5}),
            ),
            metadata=auth(key),
        )
    )
    assert unknown.details() == "unknown credential fields: rowLimit"


async def test_a_missing_oauth_client_names_the_rest_route_and_the_grpc_method(stack: Stack) -> None:
    refused = await _refused(
        stack.connectors.Connect(
            pb.ConnectRequest(connector_id="github", workspace_id="ws", method="oauth2"),
            metadata=auth(await stack.key()),
        )
    )
    assert refused.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "PATCH /api/connectors/{id}" in refused.details() and "UpdateConnector over gRPC" in refused.details()


async def test_an_unknown_connector_has_one_wording_everywhere(stack: Stack) -> None:
    key = await stack.key()
    catalog = await _refused(
        stack.connectors.GetConnector(pb.GetConnectorRequest(connector_id="nope"), metadata=auth(key))
    )
    resources = await _refused(
        stack.resources.ListContainers(
            rpb.ListContainersRequest(connector_id="nope", connection_id="c1"), metadata=auth(key)
        )
    )
    assert catalog.code() is resources.code() is grpc.StatusCode.NOT_FOUND
    assert catalog.details() == resources.details() == "connector 'nope' not found"


async def test_a_connection_used_with_another_connector_is_a_conflict_naming_its_own(stack: Stack) -> None:
    key = await stack.key()
    done = await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(
            connector_id="postgres",
            workspace_id="ws",
            credentials=_form({"host": "127.0.0.1", "database": "test", "user": "postgres"}),
        ),
        metadata=auth(key),
    )
    wrong = await _refused(
        stack.resources.ListContainers(
            rpb.ListContainersRequest(connector_id="github", connection_id=done.connection_id), metadata=auth(key)
        )
    )
    assert wrong.code() is grpc.StatusCode.ABORTED  # conflict, 409 at REST
    assert wrong.details() == f"connection {done.connection_id!r} belongs to connector 'postgres'"
    foreign = await _refused(
        stack.resources.ListContainers(
            rpb.ListContainersRequest(connector_id="postgres", connection_id=done.connection_id),
            metadata=auth(await stack.key("globex")),
        )
    )
    assert foreign.code() is grpc.StatusCode.NOT_FOUND  # another tenant's stays invisible
