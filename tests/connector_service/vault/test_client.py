"""The connector service's VaultClient against a real in-process vault: round
trips, the error mapping callers rely on, deadlines, request ids and mTLS."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from connector_service.vault.client import VaultClient
from ucf.vault.v1 import vault_pb2
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.request_context import request_id_var
from vault_service.certs import issue_dev_pki

from tests.vault_service.harness import RunningVault, running_vault
from tests.vault_service.process import VaultProcess

API_KEY = vault_pb2.SECRET_KIND_API_KEY
TOKENS = vault_pb2.SECRET_KIND_OAUTH2_TOKENS


@pytest.fixture
async def vault(mongo_url: str, db_suffix: str):
    async with running_vault(mongo_url, f"ucf_vault_{db_suffix}") as running:
        yield running


@pytest.fixture
async def client(vault: RunningVault):
    client = VaultClient.connect(vault.address, token=vault.token, timeout=5)
    yield client
    await client.close()


async def _code(awaitable) -> tuple[ErrorCode, str]:
    with pytest.raises(UcfError) as failed:
        await awaitable
    return failed.value.code, failed.value.message


async def test_round_trip_keeps_the_payload_and_metadata(client: VaultClient) -> None:
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    payload = {"accessToken": "at-unique-7731", "expiresIn": 3600, "ratio": 0.5, "scopes": ["a"], "meta": {"n": 2}}
    meta = await client.put("acme", "conn-1", TOKENS, payload, expires_at=expires)
    assert (meta.version, meta.key_id, meta.expires_at) == (1, "k1", expires)

    payload_back, metadata = await client.get("acme", "conn-1", TOKENS)
    assert payload_back == payload
    assert metadata.version == 1 and metadata.tenant_id == "acme" and metadata.kind == TOKENS
    secret = await client.get("acme", "conn-1", TOKENS)
    assert secret.version == 1 and secret.expires_at == expires
    assert "at-unique-7731" not in repr(secret)

    assert (await client.get_metadata("acme", "conn-1", TOKENS)).version == 1
    assert await client.put("acme", "conn-1", TOKENS, {"accessToken": "at2"}, expected_version=1)
    assert await client.delete("acme", "conn-1", TOKENS) == 2


async def test_not_found_and_conflict_map_to_their_codes(client: VaultClient) -> None:
    assert (await _code(client.get("acme", "missing", API_KEY)))[0] is ErrorCode.NOT_FOUND
    assert (await _code(client.delete("acme", "missing", API_KEY)))[0] is ErrorCode.NOT_FOUND
    await client.put("acme", "conn-1", API_KEY, {"apiKey": "a"})
    code, _ = await _code(client.put("acme", "conn-1", API_KEY, {"apiKey": "b"}, expected_version=0))
    assert code is ErrorCode.CONFLICT


async def test_a_tampered_secret_is_internal_with_no_data(vault: RunningVault, client: VaultClient) -> None:
    await client.put("acme", "conn-1", API_KEY, {"apiKey": "tampered-secret"})
    await client.put("acme", "conn-2", API_KEY, {"apiKey": "other-secret"})
    other = await vault.db["secrets"].find_one({"owner_id": "conn-2"})
    await vault.db["secrets"].update_one({"owner_id": "conn-1"}, {"$set": {"ciphertext": other["ciphertext"]}})
    code, message = await _code(client.get("acme", "conn-1", API_KEY))
    assert (code, message) == (ErrorCode.INTERNAL, "stored credential failed its integrity check")
    audited = await vault.db["vault_audit"].find_one({"outcome": "integrity_error"})
    assert audited["owner_id"] == "conn-1"


async def test_a_wrong_credential_is_an_internal_misconfiguration(
    vault: RunningVault, caplog: pytest.LogCaptureFixture
) -> None:
    client = VaultClient.connect(vault.address, token="not-the-token", timeout=5)
    try:
        code, _ = await _code(client.get("acme", "conn-1", API_KEY))
    finally:
        await client.close()
    assert code is ErrorCode.INTERNAL
    assert any("refused this service's credential" in r.getMessage() for r in caplog.records)
    assert "not-the-token" not in caplog.text


async def test_a_stopped_or_silent_vault_is_unavailable_within_the_deadline() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
    client = VaultClient.connect(f"127.0.0.1:{closed_port}", token="t", timeout=1)
    try:
        assert (await _code(client.get("acme", "conn-1", API_KEY)))[0] is ErrorCode.UNAVAILABLE
        assert await client.check_health() is False
    finally:
        await client.close()

    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    port = silent.sockets[0].getsockname()[1]
    client = VaultClient.connect(f"127.0.0.1:{port}", token="t", timeout=0.5)
    try:
        assert (await _code(client.put("acme", "conn-1", API_KEY, {"apiKey": "x"})))[0] is ErrorCode.UNAVAILABLE
    finally:
        await client.close()
        silent.close()
        await silent.wait_closed()


async def test_the_request_id_reaches_the_vault_audit(vault: RunningVault, client: VaultClient) -> None:
    token = request_id_var.set("req-from-gateway-42")
    try:
        await client.put("acme", "conn-1", API_KEY, {"apiKey": "x"})
    finally:
        request_id_var.reset(token)
    record = await vault.db["vault_audit"].find_one({"operation": "put"})
    assert record["request_id"] == "req-from-gateway-42"


async def test_health_reflects_the_vault(client: VaultClient) -> None:
    assert await client.check_health() is True


async def test_mutual_tls_with_the_generated_certificates(mongo_url: str, db_suffix: str, tmp_path: Path) -> None:
    issue_dev_pki(tmp_path)
    async with running_vault(
        mongo_url,
        f"ucf_vault_{db_suffix}",
        vault_tls_cert_file=tmp_path / "vault.crt",
        vault_tls_key_file=tmp_path / "vault.key",
        vault_tls_client_ca_file=tmp_path / "ca.crt",
        vault_allowed_clients="connector-service",
    ) as vault:
        client = VaultClient.connect(
            vault.address,
            ca_file=tmp_path / "ca.crt",
            cert_file=tmp_path / "connector-service.crt",
            key_file=tmp_path / "connector-service.key",
            server_name="vault",
        )
        admin_as_client = VaultClient.connect(
            vault.address,
            ca_file=tmp_path / "ca.crt",
            cert_file=tmp_path / "vault-admin.crt",
            key_file=tmp_path / "vault-admin.key",
            server_name="vault",
        )
        try:
            await client.put("acme", "conn-1", API_KEY, {"apiKey": "over-mtls"})
            assert (await client.get("acme", "conn-1", API_KEY)).payload == {"apiKey": "over-mtls"}
            assert await client.check_health() is True
            assert (await _code(admin_as_client.get("acme", "conn-1", API_KEY)))[0] is ErrorCode.INTERNAL
        finally:
            await client.close()
            await admin_as_client.close()


async def test_reads_recover_within_half_a_second_of_a_restarted_vault_serving(
    mongo_url: str, db_suffix: str, tmp_path: Path
) -> None:
    vault = VaultProcess(tmp_path, mongo_url, f"ucf_vault_{db_suffix}")
    vault.start()
    client: VaultClient | None = None
    try:
        await asyncio.to_thread(vault.wait_serving)
        client = VaultClient.connect(vault.address, token=vault.token, timeout=5)
        await client.put("acme", "conn-1", API_KEY, {"apiKey": "survives-restarts"})
        reads: list[tuple[float, float, bool]] = []  # started, finished, succeeded
        stop = asyncio.Event()

        async def reader() -> None:
            assert client is not None
            while not stop.is_set():
                started = time.monotonic()
                try:
                    ok = (await client.get("acme", "conn-1", API_KEY)).payload == {"apiKey": "survives-restarts"}
                except UcfError as err:
                    assert err.code is ErrorCode.UNAVAILABLE
                    ok = False
                reads.append((started, time.monotonic(), ok))
                await asyncio.sleep(0.01)

        readers = [asyncio.create_task(reader()) for _ in range(8)]
        await asyncio.sleep(0.5)
        vault.kill()
        killed = time.monotonic()
        await asyncio.sleep(3)  # down long enough for gRPC's default reconnect backoff to grow past 2 s
        restarted = time.monotonic()
        vault.start()
        serving = await asyncio.to_thread(vault.wait_serving, 0.01)
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*readers)
    finally:
        if client is not None:
            await client.close()
        vault.stop()

    assert any(ok and finished < killed for _, finished, ok in reads)
    assert not any(ok for started, finished, ok in reads if killed < started and finished < restarted)
    back = min(finished for started, finished, ok in reads if ok and started > killed)
    print(f"vault reads back {1000 * (back - serving):.0f} ms after its health was seen SERVING")
    assert back - serving < 0.5, f"reads came back {back - serving:.2f} s after the vault was SERVING"
    late_failures = [started - serving for started, _, ok in reads if not ok and started > serving + 0.5]
    assert late_failures == []
