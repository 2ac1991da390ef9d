"""Caller matrix: without the right credential — token or client certificate —
no operation does anything, and refusals carry the right status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from vault_service.certs import issue_dev_pki

from tests.vault_service.harness import RunningVault, ref, running_vault, struct

Call = Callable[[vault_pb2_grpc.VaultServiceStub, tuple[tuple[str, str], ...]], Any]

SECRET_CALLS: dict[str, Call] = {
    "put": lambda s, md: s.PutSecret(vault_pb2.PutSecretRequest(ref=ref(), payload=struct({"a": "b"})), metadata=md),
    "get": lambda s, md: s.GetSecret(vault_pb2.GetSecretRequest(ref=ref()), metadata=md),
    "metadata": lambda s, md: s.GetSecretMetadata(vault_pb2.GetSecretMetadataRequest(ref=ref()), metadata=md),
    "delete": lambda s, md: s.DeleteSecret(vault_pb2.DeleteSecretRequest(ref=ref()), metadata=md),
}


async def _rewrap(stub: vault_pb2_grpc.VaultServiceStub, md: tuple[tuple[str, str], ...]) -> list[Any]:
    return [m async for m in stub.Rewrap(vault_pb2.RewrapRequest(), metadata=md)]


ADMIN_CALLS: dict[str, Call] = {
    "status": lambda s, md: s.GetKeyRingStatus(vault_pb2.GetKeyRingStatusRequest(), metadata=md),
    "rewrap": _rewrap,
    "retire": lambda s, md: s.RetireKey(vault_pb2.RetireKeyRequest(key_id="k0"), metadata=md),
}
ALL_CALLS = {**SECRET_CALLS, **ADMIN_CALLS}


async def _refused(
    call: Call, stub: vault_pb2_grpc.VaultServiceStub, md: tuple[tuple[str, str], ...]
) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call(stub, md)
    return refused.value.code()


@pytest.mark.parametrize("operation", list(ALL_CALLS))
@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param((), grpc.StatusCode.UNAUTHENTICATED, id="no-credential"),
        pytest.param((("authorization", "Basic dXNlcjpwYXNz"),), grpc.StatusCode.UNAUTHENTICATED, id="other-scheme"),
        pytest.param((("authorization", "Bearer not-the-token"),), grpc.StatusCode.PERMISSION_DENIED, id="wrong-token"),
    ],
)
async def test_token_mode_refuses_missing_and_wrong_credentials(
    vault: RunningVault, operation: str, metadata: tuple[tuple[str, str], ...], expected: grpc.StatusCode
) -> None:
    await vault.put({"apiKey": "kept"})
    assert await _refused(ALL_CALLS[operation], vault.stub, metadata) == expected
    last = await vault.db["vault_audit"].find_one({}, sort=[("_id", -1)])
    wire = "unauthenticated" if expected == grpc.StatusCode.UNAUTHENTICATED else "forbidden"
    assert (last["outcome"], last["caller"]) == (wire, "anonymous" if wire == "unauthenticated" else "token:invalid")
    assert (await vault.get()).payload["apiKey"] == "kept"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    good, other = tmp_path_factory.mktemp("pki"), tmp_path_factory.mktemp("other-pki")
    issue_dev_pki(good)
    issue_dev_pki(other)
    return {"good": good, "other": other}


def _channel(port: int, ca: Path, identity: Path | None, name: str | None) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        (ca / "ca.crt").read_bytes(),
        (identity / f"{name}.key").read_bytes() if identity and name else None,
        (identity / f"{name}.crt").read_bytes() if identity and name else None,
    )
    return grpc.aio.secure_channel(
        f"127.0.0.1:{port}", credentials, options=[("grpc.ssl_target_name_override", "vault")]
    )


@pytest.fixture
async def mtls_vault(mongo_url: str, db_suffix: str, pki: dict[str, Path]):
    good = pki["good"]
    async with running_vault(
        mongo_url,
        f"ucf_vault_{db_suffix}",
        vault_tls_cert_file=good / "vault.crt",
        vault_tls_key_file=good / "vault.key",
        vault_tls_client_ca_file=good / "ca.crt",
        vault_allowed_clients="connector-service",
        vault_admin_clients="vault-admin",
    ) as running:
        yield running


async def _with_channel(channel: grpc.aio.Channel, call: Call, md: tuple = ()) -> Any:
    async with channel:
        return await call(vault_pb2_grpc.VaultServiceStub(channel), md)


async def test_mtls_allowed_clients_work_for_their_own_operations(
    mtls_vault: RunningVault, pki: dict[str, Path]
) -> None:
    good = pki["good"]
    for name in ("put", "get", "metadata", "delete"):
        await _with_channel(_channel(mtls_vault.port, good, good, "connector-service"), SECRET_CALLS[name])
    status = await _with_channel(_channel(mtls_vault.port, good, good, "vault-admin"), ADMIN_CALLS["status"])
    assert status.primary_key_id == "k1"
    callers = {r["caller"] async for r in mtls_vault.db["vault_audit"].find()}
    assert callers == {"cert:connector-service", "cert:vault-admin"}


@pytest.mark.parametrize("operation", list(ALL_CALLS))
async def test_mtls_refuses_wrong_identities_and_certificates(
    mtls_vault: RunningVault, pki: dict[str, Path], operation: str
) -> None:
    good, other = pki["good"], pki["other"]
    call = ALL_CALLS[operation]
    wrong_role = "vault-admin" if operation in SECRET_CALLS else "connector-service"
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await _with_channel(
            _channel(mtls_vault.port, good, good, wrong_role), call, (("authorization", f"Bearer {mtls_vault.token}"),)
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # a certificate from another CA, or none at all, does not get past the handshake
    for identity, name in ((other, "connector-service"), (other, "vault-admin"), (None, None)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _with_channel(_channel(mtls_vault.port, good, identity, name), call)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # a client that trusts another CA refuses the vault's certificate
    with pytest.raises(grpc.aio.AioRpcError) as untrusted:
        await _with_channel(_channel(mtls_vault.port, other, good, "connector-service"), call)
    assert untrusted.value.code() == grpc.StatusCode.UNAVAILABLE

    assert await mtls_vault.db["secrets"].count_documents({}) == 0
    last = await mtls_vault.db["vault_audit"].find_one({}, sort=[("_id", -1)])
    assert (last["outcome"], last["caller"]) == ("forbidden", f"cert:{wrong_role}")
