"""PostgreSQL authentication as PostgreSQL offers it: against the machine's PostgreSQL
(trust authentication, database `test`), a connection needs no password; client-certificate
fields go to the vault with the rest of the form and reach libpq only as private files while
connecting; `sslMode` is checked."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import grpc
import psycopg
import pytest
from connector_service.connectors import pg_conninfo
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import struct_pb2
from ucf.connector.v1 import connectors_pb2 as pb

from tests.connector_service.harness import Stack, auth

FORM = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}


def _client_pem() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "postgres")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def _struct(values: dict) -> struct_pb2.Struct:
    form = struct_pb2.Struct()
    form.update(values)
    return form


async def _callback(stack: Stack, key: str, values: dict, workspace: str = "ws-pg") -> pb.ConnectCallbackReply:
    return await stack.connectors.ConnectCallback(
        pb.ConnectCallbackRequest(connector_id="postgres", workspace_id=workspace, credentials=_struct(values)),
        metadata=auth(key),
    )


def _payloads(stack: Stack) -> list[dict]:
    return [secret.payload for secret in stack.vault.secrets.values()]


async def test_a_trust_server_is_onboarded_without_a_password(stack: Stack) -> None:
    key = await stack.key()
    done = await _callback(stack, key, FORM)
    assert done.status == "connected"
    assert _payloads(stack) == [{**FORM, "port": 5432.0}]
    fields = (
        await stack.connectors.Connect(
            pb.ConnectRequest(connector_id="postgres", workspace_id="ws-pg"), metadata=auth(key)
        )
    ).fields
    assert {f.name: f.required for f in fields}["password"] is False


async def test_client_certificate_fields_are_stored_in_the_vault_and_never_echoed(stack: Stack) -> None:
    key = await stack.key()
    cert, private_key = _client_pem()
    # The machine's server has no TLS: with sslmode=prefer libpq falls back, so the form is usable.
    done = await _callback(stack, key, {**FORM, "sslmode": "prefer", "sslcert": cert, "sslkey": private_key})
    assert done.status == "connected"
    [payload] = _payloads(stack)
    assert payload["sslcert"] == cert and payload["sslkey"] == private_key
    assert private_key not in str(done)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        pytest.param({"sslmode": "sometimes"}, "sslMode", id="unknown-sslmode"),
        pytest.param({"sslcert": "not a certificate", "sslkey": "x"}, "sslCert", id="cert-not-pem"),
        pytest.param(
            {"sslrootcert": "-----BEGIN CERTIFICATE-----", "sslmode": "require"}, "sslMode", id="root-no-verify"
        ),
    ],
)
async def test_bad_tls_fields_are_refused_by_their_rest_name(stack: Stack, extra: dict, field: str) -> None:
    key = await stack.key()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _callback(stack, key, {**FORM, **extra})
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in refused.value.details() and "not a certificate" not in refused.value.details()
    assert _payloads(stack) == []


def test_pem_fields_exist_as_private_files_only_while_connecting() -> None:
    cert, private_key = _client_pem()
    params = pg_conninfo.DatabaseSettings.from_form(
        {**FORM, "sslmode": "require", "sslcert": cert, "sslkey": private_key}
    ).conninfo()
    with pg_conninfo.materialized(params) as files:
        key_path, cert_path = Path(files["sslkey"]), Path(files["sslcert"])
        assert key_path.read_text() == private_key and cert_path.read_text() == cert
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(key_path.parent).st_mode) == 0o700
        assert params["sslkey"] == private_key  # the stored form is left as it was
    assert not key_path.exists() and not key_path.parent.exists()


def test_no_password_reaches_libpq_when_none_was_given() -> None:
    params = pg_conninfo.DatabaseSettings.from_form(FORM).conninfo()
    assert "password" not in params
    with psycopg.connect(**params) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
