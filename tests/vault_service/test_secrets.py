"""Put / get / metadata / delete through the gRPC API, with compare-and-swap."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from ucf.vault.v1 import vault_pb2

from tests.vault_service.harness import RunningVault, ref, struct


async def test_put_then_get_returns_the_payload_and_version(vault: RunningVault) -> None:
    put = await vault.put({"accessToken": "at-1", "nested": {"scopes": ["a", "b"]}})
    assert put.metadata.version == 1
    assert put.metadata.key_id == "k1"

    got = await vault.get()
    assert dict(got.payload) == {"accessToken": "at-1", "nested": {"scopes": ["a", "b"]}}
    assert got.metadata.version == 1
    assert got.metadata.ref.tenant_id == "acme"
    assert got.metadata.ref.kind == vault_pb2.SECRET_KIND_OAUTH2_TOKENS


async def test_replacing_increments_the_version_and_keeps_created_at(vault: RunningVault) -> None:
    first = await vault.put({"apiKey": "one"})
    second = await vault.put({"apiKey": "two"})
    assert second.metadata.version == 2
    assert second.metadata.created_at == first.metadata.created_at
    assert (await vault.get()).payload["apiKey"] == "two"


async def test_metadata_never_contains_the_payload(vault: RunningVault) -> None:
    request = vault_pb2.PutSecretRequest(ref=ref(), payload=struct({"apiKey": "never-in-metadata"}))
    request.expires_at.FromSeconds(2_000_000_000)
    await vault.stub.PutSecret(request, metadata=vault.md)
    meta = await vault.stub.GetSecretMetadata(vault_pb2.GetSecretMetadataRequest(ref=ref()), metadata=vault.md)
    assert meta.metadata.version == 1
    assert meta.metadata.expires_at.seconds == 2_000_000_000
    assert "never-in-metadata" not in str(meta)


async def test_secrets_are_isolated_by_tenant_owner_and_kind(vault: RunningVault) -> None:
    await vault.put({"v": "acme"}, tenant="acme")
    await vault.put({"v": "globex"}, tenant="globex")
    await vault.put({"v": "basic"}, kind=vault_pb2.SECRET_KIND_BASIC)
    assert (await vault.get(tenant="globex")).payload["v"] == "globex"
    assert (await vault.get()).payload["v"] == "acme"
    assert (await vault.get(kind=vault_pb2.SECRET_KIND_BASIC)).payload["v"] == "basic"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await vault.get(owner="conn-2")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_delete_removes_the_secret(vault: RunningVault) -> None:
    await vault.put({"apiKey": "x"})
    deleted = await vault.stub.DeleteSecret(vault_pb2.DeleteSecretRequest(ref=ref()), metadata=vault.md)
    assert deleted.version == 1
    for call in (vault.get(), vault.stub.DeleteSecret(vault_pb2.DeleteSecretRequest(ref=ref()), metadata=vault.md)):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_delete_with_a_stale_version_is_a_conflict(vault: RunningVault) -> None:
    await vault.put({"apiKey": "x"})
    await vault.put({"apiKey": "y"})
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await vault.stub.DeleteSecret(vault_pb2.DeleteSecretRequest(ref=ref(), expected_version=1), metadata=vault.md)
    assert stale.value.code() == grpc.StatusCode.ABORTED
    assert (await vault.get()).payload["apiKey"] == "y"


async def test_two_writers_with_the_same_expected_version_exactly_one_wins(vault: RunningVault) -> None:
    await vault.put({"refreshToken": "r0"})

    async def write(value: str) -> vault_pb2.PutSecretResponse | grpc.aio.AioRpcError:
        request = vault_pb2.PutSecretRequest(ref=ref(), payload=struct({"refreshToken": value}), expected_version=1)
        try:
            return await vault.stub.PutSecret(request, metadata=vault.md)
        except grpc.aio.AioRpcError as err:
            return err

    results = await asyncio.gather(*(write(f"r{i}") for i in range(1, 9)))
    winners = [r for r in results if isinstance(r, vault_pb2.PutSecretResponse)]
    losers = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(winners) == 1 and winners[0].metadata.version == 2
    assert {err.code() for err in losers} == {grpc.StatusCode.ABORTED}
    assert all(dict(err.trailing_metadata()).get("ucf-error-code") == "conflict" for err in losers)
    stored = await vault.get()
    assert stored.metadata.version == 2
    assert stored.payload["refreshToken"] == f"r{results.index(winners[0]) + 1}"


async def test_expected_version_zero_means_create_only(vault: RunningVault) -> None:
    create = vault_pb2.PutSecretRequest(ref=ref(), payload=struct({"apiKey": "a"}), expected_version=0)
    assert (await vault.stub.PutSecret(create, metadata=vault.md)).metadata.version == 1
    with pytest.raises(grpc.aio.AioRpcError) as exists:
        await vault.stub.PutSecret(create, metadata=vault.md)
    assert exists.value.code() == grpc.StatusCode.ABORTED


@pytest.mark.parametrize(
    "bad_ref",
    [
        pytest.param(vault_pb2.SecretRef(owner_id="c", kind=1), id="no-tenant"),
        pytest.param(vault_pb2.SecretRef(tenant_id="t", kind=1), id="no-owner"),
        pytest.param(vault_pb2.SecretRef(tenant_id="t", owner_id="c"), id="unspecified-kind"),
        pytest.param(vault_pb2.SecretRef(tenant_id="t", owner_id="c", kind=99), id="unknown-kind"),
        pytest.param(vault_pb2.SecretRef(tenant_id="t" * 201, owner_id="c", kind=1), id="tenant-too-long"),
        pytest.param(vault_pb2.SecretRef(tenant_id="t\n", owner_id="c", kind=1), id="control-character"),
    ],
)
async def test_invalid_references_are_refused_clearly(vault: RunningVault, bad_ref: vault_pb2.SecretRef) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vault.stub.PutSecret(
            vault_pb2.PutSecretRequest(ref=bad_ref, payload=struct({"a": "b"})), metadata=vault.md
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(refused.value.trailing_metadata())["ucf-error-code"] == "invalid_request"


async def test_an_empty_payload_is_refused(vault: RunningVault) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vault.stub.PutSecret(vault_pb2.PutSecretRequest(ref=ref()), metadata=vault.md)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
