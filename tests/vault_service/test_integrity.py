"""A ciphertext that was moved, replayed or altered never decrypts, and the
attempt is audited."""

from __future__ import annotations

import base64

import grpc
import pytest
from ucf.vault.v1 import vault_pb2
from vault_service.keyring import IntegrityError, KeyRing, SecretIdentity

from tests.vault_service.harness import RunningVault, new_key_text, running_vault


async def _doc(vault: RunningVault, owner: str) -> dict:
    doc = await vault.db["secrets"].find_one({"owner_id": owner})
    assert doc is not None
    return doc


async def _assert_integrity_failure(vault: RunningVault, owner: str, secret_text: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await vault.get(owner=owner)
    assert failed.value.code() == grpc.StatusCode.DATA_LOSS
    assert dict(failed.value.trailing_metadata())["ucf-error-code"] == "internal"
    assert secret_text not in (failed.value.details() or "")
    last = await vault.db["vault_audit"].find_one({}, sort=[("_id", -1)])
    assert (last["operation"], last["outcome"], last["owner_id"]) == ("get", "integrity_error", owner)


async def test_swapped_ciphertexts_fail_to_read(vault: RunningVault) -> None:
    await vault.put({"accessToken": "alpha-token"}, owner="conn-a")
    await vault.put({"accessToken": "beta-token"}, owner="conn-b")
    a, b = await _doc(vault, "conn-a"), await _doc(vault, "conn-b")
    await vault.db["secrets"].update_one({"_id": a["_id"]}, {"$set": {"ciphertext": b["ciphertext"]}})
    await vault.db["secrets"].update_one({"_id": b["_id"]}, {"$set": {"ciphertext": a["ciphertext"]}})

    await _assert_integrity_failure(vault, "conn-a", "beta-token")
    await _assert_integrity_failure(vault, "conn-b", "alpha-token")


async def test_an_older_version_replayed_onto_the_record_fails(vault: RunningVault) -> None:
    await vault.put({"refreshToken": "revoked-one"})
    old = (await _doc(vault, "conn-1"))["ciphertext"]
    await vault.put({"refreshToken": "current-one"})
    await vault.db["secrets"].update_one({"owner_id": "conn-1"}, {"$set": {"ciphertext": old}})
    await _assert_integrity_failure(vault, "conn-1", "revoked-one")


async def test_a_rewritten_identity_field_fails(vault: RunningVault) -> None:
    await vault.put({"apiKey": "tenant-a-key"}, tenant="tenant-a")
    await vault.db["secrets"].update_one({"tenant_id": "tenant-a"}, {"$set": {"tenant_id": "tenant-b"}})
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await vault.get(tenant="tenant-b")
    assert failed.value.code() == grpc.StatusCode.DATA_LOSS


@pytest.mark.parametrize("position", [0, 9, 30, 60, -40, -1])
async def test_a_flipped_byte_fails_over_grpc(vault: RunningVault, position: int) -> None:
    await vault.put({"apiKey": "flip-me"})
    token = bytearray(base64.urlsafe_b64decode((await _doc(vault, "conn-1"))["ciphertext"]))
    token[position] ^= 0x01
    await vault.db["secrets"].update_one(
        {"owner_id": "conn-1"}, {"$set": {"ciphertext": base64.urlsafe_b64encode(bytes(token)).decode()}}
    )
    await _assert_integrity_failure(vault, "conn-1", "flip-me")


def test_flipping_any_byte_of_a_sealed_secret_is_detected() -> None:
    ring = KeyRing.from_text(new_key_text("k1"))
    identity = SecretIdentity("acme", "conn-1", "api_key", 1)
    key_id, ciphertext = ring.seal(identity, {"apiKey": "every-byte"})
    raw = base64.urlsafe_b64decode(ciphertext)
    for position in range(len(raw)):
        for bit in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[position] ^= bit
            with pytest.raises(IntegrityError):
                ring.open(identity, key_id, base64.urlsafe_b64encode(bytes(tampered)).decode())
    assert ring.open(identity, key_id, ciphertext) == {"apiKey": "every-byte"}


async def test_a_record_claiming_another_key_fails(mongo_url: str, db_suffix: str) -> None:
    async with running_vault(mongo_url, f"ucf_vault_{db_suffix}", new_key_text("k2", "k1")) as vault:
        await vault.put({"apiKey": "keyed"})
        await vault.db["secrets"].update_one({"owner_id": "conn-1"}, {"$set": {"key_id": "k1"}})
        await _assert_integrity_failure(vault, "conn-1", "keyed")
        meta = await vault.stub.GetSecretMetadata(
            vault_pb2.GetSecretMetadataRequest(
                ref=vault_pb2.SecretRef(tenant_id="acme", owner_id="conn-1", kind=vault_pb2.SECRET_KIND_OAUTH2_TOKENS)
            ),
            metadata=vault.md,
        )
        assert meta.metadata.key_id == "k1"
