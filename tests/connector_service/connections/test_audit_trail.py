"""The audit trail a security team reads: refusals are listed with `outcome: denied`
under the tenant they concern, exports of a plaintext credential are a different
action from the service's own use of it, and `details` keys are lowerCamelCase."""

from __future__ import annotations

import grpc
import pytest
from connector_service.connections import audit
from ucf.connector.v1 import connections_pb2 as pb
from ucf.connector.v1 import connectors_pb2

from tests.connector_service.harness import Stack, auth

SECRET = "audit-trail-token-value"


async def _stored(stack: Stack, key: str, workspace: str = "audit-ws") -> str:
    request = pb.StoreTokenRequest(connector_id="github", workspace_id=workspace, token_string=SECRET)
    return (await stack.connections.StoreToken(request, metadata=auth(key))).connection.id


async def _entries(stack: Stack, key: str, **filters: str) -> list[pb.AuditLog]:
    answer = await stack.connections.ListAuditLogs(pb.ListAuditLogsRequest(**filters), metadata=auth(key))
    return list(answer.items)


async def _refused(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_a_scope_denial_is_listed_as_denied(stack: Stack) -> None:
    reader = await stack.key(scopes="connections:read")
    call = stack.connections.GetToken(pb.GetTokenRequest(connection_id="c1"), metadata=auth(reader))
    assert await _refused(call) is grpc.StatusCode.PERMISSION_DENIED
    [entry] = await _entries(stack, reader, action=audit.ACCESS_DENIED)
    assert entry.outcome == "denied"
    assert entry.actor == reader.split("_")[1]
    assert dict(entry.details) == {"method": "GetToken", "reason": "missing_scope", "requiredScope": "tokens:read"}


async def test_cross_tenant_attempts_are_listed_as_denied_for_the_caller_only(stack: Stack) -> None:
    victim = await stack.key(tenant="globex")
    cid = await _stored(stack, victim)
    attacker = await stack.key(tenant="acme")
    other_tenant = stack.connectors.ListConnectors(
        connectors_pb2.ListConnectorsRequest(), metadata=auth(attacker, "globex")
    )
    assert await _refused(other_tenant) is grpc.StatusCode.PERMISSION_DENIED
    foreign_token = stack.connections.GetToken(pb.GetTokenRequest(connection_id=cid), metadata=auth(attacker))
    assert await _refused(foreign_token) is grpc.StatusCode.NOT_FOUND

    denied = {(e.action, e.details["reason"]) for e in await _entries(stack, attacker) if e.outcome == "denied"}
    assert denied == {(audit.ACCESS_DENIED, "tenant_mismatch"), (audit.CREDENTIAL_EXPORTED, "not_found")}
    assert all(e.outcome == "success" for e in await _entries(stack, victim))


async def test_a_refused_read_of_a_revoked_connection_is_listed_as_denied(stack: Stack) -> None:
    key = await stack.key()
    cid = await _stored(stack, key)
    await stack.connections.RevokeConnection(pb.RevokeConnectionRequest(connection_id=cid), metadata=auth(key))
    call = stack.connections.GetToken(pb.GetTokenRequest(connection_id=cid), metadata=auth(key))
    assert await _refused(call) is grpc.StatusCode.FAILED_PRECONDITION
    newest = (await _entries(stack, key, connection_id=cid))[0]
    assert (newest.action, newest.outcome, newest.details["reason"]) == (audit.CREDENTIAL_EXPORTED, "denied", "revoked")


async def test_an_export_and_an_internal_use_are_different_actions(stack: Stack) -> None:
    key = await stack.key()
    cid = await _stored(stack, key)
    await stack.connections.GetToken(pb.GetTokenRequest(connection_id=cid), metadata=auth(key))
    await stack.server.credentials.provide("acme", cid, "github")  # what a resource read or sync does
    actions = [e.action for e in await _entries(stack, key, connection_id=cid)]
    assert actions[:2] == ["credential.use", "credential.export"]
    assert [e.action for e in await _entries(stack, key, action="credential.export")] == ["credential.export"]


async def test_details_keys_are_lower_camel_case(stack: Stack) -> None:
    key = await stack.key()
    cid = await _stored(stack, key)
    await stack.connections.SetSyncState(pb.SetSyncStateRequest(connection_id=cid, stream="issues"), metadata=auth(key))
    await stack.connections.RevokeConnection(pb.RevokeConnectionRequest(connection_id=cid), metadata=auth(key))
    entries = await _entries(stack, key, connection_id=cid)
    by_action = {e.action: dict(e.details) for e in entries}
    assert by_action["sync_state.written"] == {"stream": "issues", "version": 1}
    assert "revokedUpstream" in by_action["credential.revoked"]
    assert all("_" not in name for e in entries for name in e.details)


async def test_a_wrong_secret_is_listed_under_the_key_tenant_without_the_secret(stack: Stack) -> None:
    key = await stack.key(tenant="initech")
    key_id = key.split("_")[1]
    guess = f"ucf_{key_id}_{'g' * 43}"
    call = stack.connectors.ListConnectors(connectors_pb2.ListConnectorsRequest(), metadata=auth(guess))
    assert await _refused(call) is grpc.StatusCode.UNAUTHENTICATED
    [entry] = await _entries(stack, key, action=audit.AUTH_FAILED)
    assert entry.outcome == "denied" and entry.actor == key_id
    assert entry.details["keyId"] == key_id and entry.details["reason"] == "wrong_secret"
    assert entry.details["source"] == "127.0.0.1"
    assert "g" * 43 not in str(entry)


async def test_a_failing_audit_write_still_answers_the_denial(stack: Stack, monkeypatch) -> None:
    reader = await stack.key(scopes="connections:read")

    async def broken(entry):
        raise RuntimeError("audit database down")

    monkeypatch.setattr(stack.server.credentials._audit, "_append", broken)
    call = stack.connections.GetToken(pb.GetTokenRequest(connection_id="c1"), metadata=auth(reader))
    assert await _refused(call) is grpc.StatusCode.PERMISSION_DENIED


async def test_outcomes_are_a_closed_set(stack: Stack) -> None:
    with pytest.raises(ValueError, match="outcome"):
        await stack.server.credentials._audit.record("acme", audit.CONNECTION_UPDATED, "failure")


async def test_denials_cannot_flood_the_trail(stack: Stack) -> None:
    log = stack.server.credentials._audit
    for _ in range(audit.DENIAL_BUDGET + 50):
        await log.record_denial("acme", audit.ACCESS_DENIED, reason="test")
    count = 0
    async for segment in stack.db[audit.SEGMENTS].find({"tenant_id": "acme"}):
        count += sum(e["action"] == audit.ACCESS_DENIED for e in segment["entries"])
    assert count == audit.DENIAL_BUDGET


def test_camel_case() -> None:
    assert audit.camel_case("revoked_upstream") == "revokedUpstream"
    assert audit.camel_case("requiredScope") == "requiredScope"
