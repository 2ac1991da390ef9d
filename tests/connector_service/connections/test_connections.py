"""Connections: CRUD, paging, tenant isolation, credentials through the vault,
sync-state compare-and-swap and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import struct_pb2, timestamp_pb2
from ucf.connector.v1 import connections_pb2 as pb

from tests.connector_service.harness import Stack, auth

CANARY = "canary-secret-7f3a9c1e"


async def _upsert(stack: Stack, key: str, workspace: str, connector: str = "github") -> pb.Connection:
    answer = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(connector_id=connector, workspace_id=workspace), metadata=auth(key)
    )
    return answer.connection


async def _mongo_text(stack: Stack) -> str:
    dump = []
    for name in await stack.db.list_collection_names():
        dump += [doc async for doc in stack.db[name].find()]
    return repr(dump)


async def test_upsert_creates_once_per_connector_and_workspace(stack: Stack) -> None:
    key = await stack.key()
    first = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(connector_id="github", workspace_id="ws1", name="Eng"), metadata=auth(key)
    )
    again = await stack.connections.UpsertConnection(
        pb.UpsertConnectionRequest(connector_id="github", workspace_id="ws1", name="Engineering"), metadata=auth(key)
    )
    assert first.created and not again.created
    assert again.connection.id == first.connection.id
    assert again.connection.name == "Engineering"
    assert first.connection.status == "pending" and not first.connection.credential_set


async def test_upsert_refuses_an_unknown_connector_and_a_missing_workspace(stack: Stack) -> None:
    key = await stack.key()
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await _upsert(stack, key, "ws1", connector="nope")
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await _upsert(stack, key, "")
    assert missing.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_list_pages_with_a_cursor_and_filters(stack: Stack) -> None:
    key = await stack.key()
    created = [(await _upsert(stack, key, f"ws{i}")).id for i in range(5)]
    await _upsert(stack, key, "ws0", connector="jira")
    seen, cursor = [], ""
    while True:
        page = await stack.connections.ListConnections(
            pb.ListConnectionsRequest(connector_id="github", limit=2, cursor=cursor), metadata=auth(key)
        )
        assert len(page.items) <= 2
        seen += [c.id for c in page.items]
        cursor = page.next
        if not cursor:
            break
    assert seen == created
    by_workspace = await stack.connections.ListConnections(
        pb.ListConnectionsRequest(workspace_id="ws0"), metadata=auth(key)
    )
    assert sorted(c.connector_id for c in by_workspace.items) == ["github", "jira"]
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stack.connections.ListConnections(pb.ListConnectionsRequest(cursor="%%%"), metadata=auth(key))
    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_another_tenant_sees_not_found_exactly_like_a_missing_connection(stack: Stack) -> None:
    a, b = await stack.key("tenant-a"), await stack.key("tenant-b")
    conn = await _upsert(stack, a, "ws1")
    await stack.connections.StoreToken(
        pb.StoreTokenRequest(connection_id=conn.id, token_string=CANARY), metadata=auth(a)
    )
    calls = {
        "get": lambda cid: stack.connections.GetConnection(
            pb.GetConnectionRequest(connection_id=cid), metadata=auth(b)
        ),
        "token": lambda cid: stack.connections.GetToken(pb.GetTokenRequest(connection_id=cid), metadata=auth(b)),
        "delete": lambda cid: stack.connections.DeleteConnection(
            pb.DeleteConnectionRequest(connection_id=cid), metadata=auth(b)
        ),
        "sync": lambda cid: stack.connections.GetSyncState(pb.GetSyncStateRequest(connection_id=cid), metadata=auth(b)),
        "revoke": lambda cid: stack.connections.RevokeConnection(
            pb.RevokeConnectionRequest(connection_id=cid), metadata=auth(b)
        ),
    }
    for name, call in calls.items():
        answers = []
        for cid in (conn.id, "con_doesnotexist"):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(cid)
            answers.append((caught.value.code(), caught.value.details().replace(cid, "<id>")))
        assert answers[0] == answers[1] == (grpc.StatusCode.NOT_FOUND, "connection '<id>' not found"), name
    listed = await stack.connections.ListConnections(pb.ListConnectionsRequest(), metadata=auth(b))
    assert list(listed.items) == []
    still = await stack.connections.GetToken(pb.GetTokenRequest(connection_id=conn.id), metadata=auth(a))
    assert still.credential.access_token == CANARY


async def test_store_and_get_a_token_set_keeps_the_secret_only_in_the_vault(stack: Stack) -> None:
    key = await stack.key()
    expires = timestamp_pb2.Timestamp()
    expires.FromDatetime(datetime.now(UTC) + timedelta(hours=2))
    stored = await stack.connections.StoreToken(
        pb.StoreTokenRequest(
            connector_id="salesforce",
            workspace_id="ws1",
            token_set=pb.TokenSet(
                access_token=CANARY, refresh_token=CANARY + "-refresh", expires_at=expires, scope="api refresh_token"
            ),
        ),
        metadata=auth(key),
    )
    conn = stored.connection
    assert conn.status == "connected" and conn.credential_set
    assert list(conn.scopes) == ["api", "refresh_token"]
    assert conn.credential_expires_at.seconds == expires.seconds
    got = await stack.connections.GetToken(pb.GetTokenRequest(connection_id=conn.id), metadata=auth(key))
    assert got.credential.access_token == CANARY and got.credential.kind == "oauth2"
    assert not got.credential.refreshed
    assert CANARY not in await _mongo_text(stack)
    assert CANARY in stack.vault.plaintexts()


async def test_a_string_token_is_an_api_key(stack: Stack) -> None:
    key = await stack.key()
    conn = await _upsert(stack, key, "ws1", connector="postgres")
    await stack.connections.StoreToken(
        pb.StoreTokenRequest(connection_id=conn.id, token_string=CANARY), metadata=auth(key)
    )
    got = await stack.connections.GetToken(pb.GetTokenRequest(connection_id=conn.id), metadata=auth(key))
    assert (got.credential.kind, got.credential.access_token) == ("api_key", CANARY)


async def test_get_token_without_a_credential_is_a_failed_precondition(stack: Stack) -> None:
    key = await stack.key()
    conn = await _upsert(stack, key, "ws1")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connections.GetToken(pb.GetTokenRequest(connection_id=conn.id), metadata=auth(key))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_a_revoked_connection_never_yields_a_token(stack: Stack) -> None:
    key = await stack.key()
    stored = await stack.connections.StoreToken(
        pb.StoreTokenRequest(connector_id="github", workspace_id="ws1", token_string=CANARY), metadata=auth(key)
    )
    revoked = await stack.connections.RevokeConnection(
        pb.RevokeConnectionRequest(connection_id=stored.connection.id), metadata=auth(key)
    )
    assert revoked.status == "revoked"
    assert CANARY not in stack.vault.plaintexts()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connections.GetToken(pb.GetTokenRequest(connection_id=stored.connection.id), metadata=auth(key))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "revoked" in caught.value.details()


async def test_delete_removes_the_connection_and_its_vault_secret(stack: Stack) -> None:
    key = await stack.key()
    stored = await stack.connections.StoreToken(
        pb.StoreTokenRequest(connector_id="github", workspace_id="ws1", token_string=CANARY), metadata=auth(key)
    )
    await stack.connections.DeleteConnection(
        pb.DeleteConnectionRequest(connection_id=stored.connection.id), metadata=auth(key)
    )
    assert stack.vault.secrets == {}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.connections.GetConnection(
            pb.GetConnectionRequest(connection_id=stored.connection.id), metadata=auth(key)
        )
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


async def test_sync_state_is_a_compare_and_swap(stack: Stack) -> None:
    key = await stack.key()
    conn = await _upsert(stack, key, "ws1")

    def cursor(value: str) -> struct_pb2.Struct:
        s = struct_pb2.Struct()
        s.update({"since": value})
        return s

    empty = await stack.connections.GetSyncState(
        pb.GetSyncStateRequest(connection_id=conn.id, stream="issues"), metadata=auth(key)
    )
    assert empty.state.version == 0
    first = await stack.connections.SetSyncState(
        pb.SetSyncStateRequest(connection_id=conn.id, stream="issues", cursor=cursor("a"), expected_version=0),
        metadata=auth(key),
    )
    assert first.state.version == 1
    second = await stack.connections.SetSyncState(
        pb.SetSyncStateRequest(connection_id=conn.id, stream="issues", cursor=cursor("b"), expected_version=1),
        metadata=auth(key),
    )
    assert second.state.version == 2
    for stale in (0, 1):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.connections.SetSyncState(
                pb.SetSyncStateRequest(
                    connection_id=conn.id, stream="issues", cursor=cursor("c"), expected_version=stale
                ),
                metadata=auth(key),
            )
        assert caught.value.code() is grpc.StatusCode.ABORTED
    now = await stack.connections.GetSyncState(
        pb.GetSyncStateRequest(connection_id=conn.id, stream="issues"), metadata=auth(key)
    )
    assert (now.state.version, now.state.cursor["since"]) == (2, "b")
    other = await stack.connections.GetSyncState(pb.GetSyncStateRequest(connection_id=conn.id), metadata=auth(key))
    assert other.state.version == 0 and other.state.stream == "default"


async def test_audit_log_records_who_did_what_without_secrets(stack: Stack) -> None:
    key = await stack.key()
    key_id = key.split("_")[1]
    stored = await stack.connections.StoreToken(
        pb.StoreTokenRequest(connector_id="github", workspace_id="ws1", token_string=CANARY),
        metadata=auth(key, request_id="req-audit-1"),
    )
    cid = stored.connection.id
    await stack.connections.GetToken(pb.GetTokenRequest(connection_id=cid), metadata=auth(key))
    await stack.connections.RevokeConnection(pb.RevokeConnectionRequest(connection_id=cid), metadata=auth(key))
    await _upsert(stack, key, "other-ws")
    logs = await stack.connections.ListAuditLogs(pb.ListAuditLogsRequest(connection_id=cid), metadata=auth(key))
    actions = [entry.action for entry in logs.items]
    assert actions == ["credential.revoked", "credential.export", "credential.stored", "connection.created"]
    assert {entry.actor for entry in logs.items} == {key_id}
    assert {entry.outcome for entry in logs.items} == {"success"}
    assert logs.items[-1].request_id == "req-audit-1"
    assert CANARY not in repr(logs) and CANARY not in await _mongo_text(stack)
    page = await stack.connections.ListAuditLogs(
        pb.ListAuditLogsRequest(connection_id=cid, limit=3), metadata=auth(key)
    )
    rest = await stack.connections.ListAuditLogs(
        pb.ListAuditLogsRequest(connection_id=cid, cursor=page.next), metadata=auth(key)
    )
    assert [e.action for e in [*page.items, *rest.items]] == actions and not rest.next
    foreign = await stack.connections.ListAuditLogs(pb.ListAuditLogsRequest(), metadata=auth(await stack.key("b")))
    assert list(foreign.items) == []
