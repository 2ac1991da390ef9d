"""Key rotation: a new primary, rewrap while reads continue, retire the old key,
and a rewrap interrupted midway that a rerun finishes."""

from __future__ import annotations

import asyncio
import os
import random

import grpc
import pytest
from pymongo import AsyncMongoClient
from ucf.vault.v1 import vault_pb2
from vault_service.keyring import KeyRing, SecretIdentity
from vault_service.store import SecretStore

from tests.vault_service.harness import new_key_text, running_vault
from tests.vault_service.seeding import seed_secrets

#: The issue asks for 10k; it runs in well under a minute here. Lower it with the variable on a slow machine.
ROTATION_SECRETS = int(os.environ.get("VAULT_TEST_ROTATION_SECRETS", "10000"))


async def _seed(mongo_url: str, db_name: str, key_text: str, count: int) -> list[str]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        ring = KeyRing.from_text(key_text)
        await SecretStore(client[db_name], ring).ensure_indexes()
        return await seed_secrets(client[db_name], ring, count)
    finally:
        await client.close()


async def _all_decrypt_with(mongo_url: str, db_name: str, key_text: str) -> int:
    """Opens every stored secret with a ring holding only `key_text`; returns how many."""
    ring = KeyRing.from_text(key_text)
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    opened = 0
    try:
        async for doc in client[db_name]["secrets"].find():
            identity = SecretIdentity(doc["tenant_id"], doc["owner_id"], doc["kind"], doc["version"])
            assert ring.open(identity, doc["key_id"], doc["ciphertext"]) == {"apiKey": f"k-{doc['owner_id']}"}
            opened += 1
    finally:
        await client.close()
    return opened


def _counts(status: vault_pb2.GetKeyRingStatusResponse) -> dict[str, int]:
    return {key.key_id: key.secret_count for key in status.keys}


async def test_rotation_rewraps_everything_while_reads_continue(mongo_url: str, db_suffix: str) -> None:
    db_name, old, new = f"ucf_vault_{db_suffix}", new_key_text("k1"), new_key_text("k2")
    owners = await _seed(mongo_url, db_name, old, ROTATION_SECRETS)

    async with running_vault(mongo_url, db_name, f"{new},{old}") as vault:
        status = await vault.stub.GetKeyRingStatus(vault_pb2.GetKeyRingStatusRequest(), metadata=vault.md)
        assert status.primary_key_id == "k2"
        assert _counts(status) == {"k2": 0, "k1": ROTATION_SECRETS}

        stop, errors, reads = asyncio.Event(), [], [0]

        async def reader() -> None:
            while not stop.is_set():
                owner = random.choice(owners)
                try:
                    got = await vault.get(owner=owner, kind=vault_pb2.SECRET_KIND_API_KEY)
                    assert got.payload["apiKey"] == f"k-{owner}"
                    reads[0] += 1
                except Exception as err:  # noqa: BLE001 - every failure counts
                    errors.append(err)

        readers = [asyncio.create_task(reader()) for _ in range(4)]
        progress = [m async for m in vault.stub.Rewrap(vault_pb2.RewrapRequest(batch_size=500), metadata=vault.md)]
        stop.set()
        await asyncio.gather(*readers)

        assert errors == []
        assert reads[0] > 0
        assert [m.rewrapped for m in progress] == sorted(m.rewrapped for m in progress)
        assert progress[-1].done and progress[-1].remaining == 0 and progress[-1].failed == 0
        assert progress[-1].rewrapped == ROTATION_SECRETS

        with pytest.raises(grpc.aio.AioRpcError) as primary:
            await vault.stub.RetireKey(vault_pb2.RetireKeyRequest(key_id="k2"), metadata=vault.md)
        assert primary.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        await vault.stub.RetireKey(vault_pb2.RetireKeyRequest(key_id="k1"), metadata=vault.md)
        status = await vault.stub.GetKeyRingStatus(vault_pb2.GetKeyRingStatusRequest(), metadata=vault.md)
        assert _counts(status) == {"k2": ROTATION_SECRETS, "k1": 0}
        assert [k.key_id for k in status.keys if k.retired] == ["k1"]

    assert await _all_decrypt_with(mongo_url, db_name, new) == ROTATION_SECRETS


async def test_a_key_still_in_use_cannot_be_retired(mongo_url: str, db_suffix: str) -> None:
    db_name, old, new = f"ucf_vault_{db_suffix}", new_key_text("k1"), new_key_text("k2")
    await _seed(mongo_url, db_name, old, 3)
    async with running_vault(mongo_url, db_name, f"{new},{old}") as vault:
        with pytest.raises(grpc.aio.AioRpcError) as in_use:
            await vault.stub.RetireKey(vault_pb2.RetireKeyRequest(key_id="k1"), metadata=vault.md)
        assert in_use.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "3 secrets" in in_use.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await vault.stub.RetireKey(vault_pb2.RetireKeyRequest(key_id="nope"), metadata=vault.md)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        assert (await vault.get(owner="owner-0", kind=vault_pb2.SECRET_KIND_API_KEY)).payload["apiKey"] == "k-owner-0"


async def test_an_interrupted_rewrap_resumes_where_it_stopped(mongo_url: str, db_suffix: str) -> None:
    db_name, old, new = f"ucf_vault_{db_suffix}", new_key_text("k1"), new_key_text("k2")
    count, batch = 600, 100
    await _seed(mongo_url, db_name, old, count)

    async with running_vault(mongo_url, db_name, f"{new},{old}") as vault:
        stream = vault.stub.Rewrap(vault_pb2.RewrapRequest(batch_size=batch), metadata=vault.md)
        first = await stream.read()
        assert first.rewrapped == batch
        await vault.vault.server.stop(0)  # the process dies mid-run
        with pytest.raises(grpc.aio.AioRpcError):
            while await stream.read() != grpc.aio.EOF:
                pass
    counts = await _key_counts(mongo_url, db_name)
    assert batch <= counts.get("k2", 0) < count

    async with running_vault(mongo_url, db_name, f"{new},{old}") as vault:
        progress = [m async for m in vault.stub.Rewrap(vault_pb2.RewrapRequest(batch_size=batch), metadata=vault.md)]
        assert progress[-1].done and progress[-1].remaining == 0
        assert progress[-1].rewrapped == count - counts["k2"]
        await vault.stub.RetireKey(vault_pb2.RetireKeyRequest(key_id="k1"), metadata=vault.md)
    assert await _all_decrypt_with(mongo_url, db_name, new) == count


async def _key_counts(mongo_url: str, db_name: str) -> dict[str, int]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        return await SecretStore(client[db_name], KeyRing.from_text(new_key_text("x"))).key_counts()
    finally:
        await client.close()
