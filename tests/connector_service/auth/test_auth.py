"""Every RPC but the public ones needs a valid, unrevoked key with the right
scope, for the key's own tenant."""

from __future__ import annotations

import grpc
import pytest
from ucf.connector.v1 import connections_pb2, connectors_pb2, webhooks_pb2

from tests.connector_service.harness import Stack, auth


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_a_valid_key_lists_connectors(stack: Stack) -> None:
    key = await stack.key(scopes="connectors:read")
    answer = await stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=auth(key))
    assert {"jira", "confluence", "github", "salesforce", "postgres"} <= {c.id for c in answer.items}


async def test_missing_key_is_unauthenticated_with_the_error_code_trailer(stack: Stack) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest())
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert ("ucf-error-code", "unauthenticated") in tuple(caught.value.trailing_metadata())


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer ucf_0123456789abcdef_" + "x" * 43, id="unknown-key"),
        pytest.param("Bearer not-a-key", id="malformed-key"),
        pytest.param("Basic dXNlcjpwYXNz", id="wrong-scheme"),
    ],
)
async def test_unknown_or_malformed_keys_are_unauthenticated(stack: Stack, header: str) -> None:
    call = stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=[("authorization", header)])
    assert await _code(call) is grpc.StatusCode.UNAUTHENTICATED


async def test_a_revoked_key_stops_working_at_once(stack: Stack) -> None:
    key = await stack.key()
    await stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=auth(key))
    await stack.server.api_keys.revoke(key.split("_")[1])
    call = stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=auth(key))
    assert await _code(call) is grpc.StatusCode.UNAUTHENTICATED


async def test_a_key_without_the_scope_is_forbidden(stack: Stack) -> None:
    key = await stack.key(scopes="connections:read")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connections.GetToken(connections_pb2.GetTokenRequest(connection_id="x"), metadata=auth(key))
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "tokens:read" in caught.value.details()


async def test_admin_implies_every_scope(stack: Stack) -> None:
    key = await stack.key(scopes="admin")
    call = stack.connections.GetToken(connections_pb2.GetTokenRequest(connection_id="missing"), metadata=auth(key))
    assert await _code(call) is grpc.StatusCode.NOT_FOUND


async def test_x_tenant_id_must_match_the_key(stack: Stack) -> None:
    key = await stack.key(tenant="acme")
    ok = await stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=auth(key, "acme"))
    assert ok.items
    call = stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=auth(key, "globex"))
    assert await _code(call) is grpc.StatusCode.PERMISSION_DENIED


async def test_public_methods_need_no_key(stack: Stack) -> None:
    # They answer on their own terms (bad state, not yet implemented), never UNAUTHENTICATED.
    redirect = stack.connectors.CompleteOAuthRedirect(connectors_pb2.CompleteOAuthRedirectRequest(state="bogus"))
    assert await _code(redirect) is grpc.StatusCode.INVALID_ARGUMENT
    webhook = stack.webhooks.ReceiveWebhook(webhooks_pb2.ReceiveWebhookRequest(webhook_id="w"))
    assert await _code(webhook) is grpc.StatusCode.UNIMPLEMENTED
