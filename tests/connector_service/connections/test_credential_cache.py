"""The in-process credential cache never serves what this process has changed:
a read after revoke, delete or a new token sees the change, and every read is
still audited."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from pymongo.errors import PyMongoError
from ucf.connector.v1 import connections_pb2 as pb

from tests.connector_service.harness import Stack, auth


async def _store(stack: Stack, key: str, token: str, connection_id: str = "") -> str:
    request = (
        pb.StoreTokenRequest(connection_id=connection_id, token_string=token)
        if connection_id
        else pb.StoreTokenRequest(connector_id="github", workspace_id="cache-ws", token_string=token)
    )
    return (await stack.connections.StoreToken(request, metadata=auth(key))).connection.id


async def _token(stack: Stack, key: str, connection_id: str) -> str:
    answer = await stack.connections.GetToken(pb.GetTokenRequest(connection_id=connection_id), metadata=auth(key))
    return answer.credential.access_token


async def test_a_new_token_replaces_the_cached_one_at_once(stack: Stack) -> None:
    key = await stack.key()
    cid = await _store(stack, key, "first-token-value")
    assert await _token(stack, key, cid) == "first-token-value"
    assert await _token(stack, key, cid) == "first-token-value"
    await _store(stack, key, "second-token-value", cid)
    assert await _token(stack, key, cid) == "second-token-value"


@pytest.mark.parametrize("change", ["revoke", "delete"])
async def test_a_cached_credential_is_gone_after_revoke_or_delete(stack: Stack, change: str) -> None:
    key = await stack.key()
    cid = await _store(stack, key, "cached-token-value")
    await _token(stack, key, cid)
    if change == "revoke":
        await stack.connections.RevokeConnection(pb.RevokeConnectionRequest(connection_id=cid), metadata=auth(key))
    else:
        await stack.connections.DeleteConnection(pb.DeleteConnectionRequest(connection_id=cid), metadata=auth(key))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _token(stack, key, cid)
    expected = grpc.StatusCode.FAILED_PRECONDITION if change == "revoke" else grpc.StatusCode.NOT_FOUND
    assert caught.value.code() is expected


async def test_every_read_is_audited_cached_or_not(stack: Stack) -> None:
    key = await stack.key()
    cid = await _store(stack, key, "audited-token-value")
    for _ in range(3):
        await _token(stack, key, cid)
    assert await stack.audited(cid, "credential.export") == 3


async def test_concurrent_readers_that_miss_the_cache_share_one_vault_read(stack: Stack) -> None:
    key = await stack.key()
    cid = await _store(stack, key, "shared-load-token")
    stack.server.credentials._cache.drop("acme", cid)  # a cold cache, as after a restart
    reads = 0
    vault_get = stack.vault.get

    async def counting_get(*args, **kwargs):
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)  # a vault round trip long enough for the readers to overlap
        return await vault_get(*args, **kwargs)

    stack.vault.get = counting_get
    tokens = await asyncio.gather(*[_token(stack, key, cid) for _ in range(20)])
    assert tokens == ["shared-load-token"] * 20
    assert reads == 1
    assert await stack.audited(cid, "credential.export") == 20


class _RefusingAppends:
    """Audit appends that the database refuses, one segment or several."""

    async def insert_one(self, document: dict) -> None:
        raise PyMongoError("audit write refused")

    async def insert_many(self, documents: list, ordered: bool = True) -> None:
        raise PyMongoError("audit write refused")


async def test_a_cached_read_whose_audit_write_fails_hands_out_no_token(stack: Stack) -> None:
    key = await stack.key()
    cid = await _store(stack, key, "unaudited-token-value")
    assert await _token(stack, key, cid) == "unaudited-token-value"  # cached from here on
    log = stack.server.credentials._audit
    appends, log._appends = log._appends, _RefusingAppends()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _token(stack, key, cid)
    finally:
        log._appends = appends
    assert caught.value.code() is not grpc.StatusCode.OK
    assert "unaudited-token-value" not in str(caught.value.details())
    assert await _token(stack, key, cid) == "unaudited-token-value"  # written again once the database takes it
