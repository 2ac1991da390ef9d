"""Issue 3's canary check over real processes: secrets stored through the REST API
(an OAuth client secret, an access token, a PostgreSQL password) and read back
appear — raw, base64 or hex — in no MongoDB document of the connector database or
the vault database (the vault keeps ciphertext only) and in no log line of the
gateway, the connector service or the vault.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import bson
import httpx
import pytest
from bson import json_util
from pymongo import MongoClient

from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration


def encoded_forms(secret: str) -> set[str]:
    """The secret as it could leak: raw, hex, and base64 (standard and URL-safe) at each of
    the three alignments it can have inside a longer encoded value (e.g. `user:password`)."""
    raw = secret.encode()
    forms = {secret, raw.hex(), raw.hex().upper()}
    for shift in range(3):
        first = -(-shift // 3) * 3  # first group boundary at or after the secret starts
        last = (shift + len(raw)) // 3 * 3  # last group boundary before it ends
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(bytes(shift) + raw).decode()
            forms.add(encoded[first // 3 * 4 : last // 3 * 4])
    return forms


def test_encoded_forms_find_the_secret_inside_a_longer_base64_value() -> None:
    secret = "canary-" + uuid.uuid4().hex
    for prefix in ("", "u:", "us:", "use:"):
        encoded = base64.b64encode(f"{prefix}{secret}@tail".encode()).decode()
        assert any(form in encoded for form in encoded_forms(secret)), prefix


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("canaries"), mongo_url) as running:
        yield running


def _dump(mongo_url: str, database: str) -> list[tuple[str, bytes, str]]:
    """(collection, BSON bytes, extended JSON) of every document in `database`."""
    with MongoClient(mongo_url) as client:
        db = client[database]
        return [
            (name, bson.encode(doc), json_util.dumps(doc))
            for name in db.list_collection_names()
            for doc in db[name].find()
        ]


def test_canaries_are_in_no_mongo_document_and_no_log_line(stack: LocalStack, mongo_url: str) -> None:
    client_secret = f"cs-canary-{uuid.uuid4().hex}"
    token = f"ghp_canary{uuid.uuid4().hex}"
    password = f"pg-canary-{uuid.uuid4().hex}"
    with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60) as api:
        patched = api.patch(
            "/api/connectors/github", json={"oauth": {"clientId": "canary-app", "clientSecret": client_secret}}
        )
        assert patched.status_code == 200, patched.text
        stored = api.post(
            "/api/connections/token", json={"connectorId": "github", "workspaceId": "ws-canary", "token": token}
        )
        assert stored.status_code == 200, stored.text
        database = api.post(
            "/api/connectors/postgres/connect/callback",
            json={
                "workspaceId": "ws-canary",
                "method": "credentials",
                "credentials": {
                    "host": "127.0.0.1",
                    "port": 5432,
                    "database": "test",
                    "user": "postgres",
                    "password": password,
                },
            },
        )
        assert database.status_code == 200, database.text

        # read each back once
        connector = api.get("/api/connectors/github")
        assert connector.json()["data"]["oauth"]["clientSecretSet"] is True
        assert client_secret not in connector.text
        read_token = api.get(f"/api/connections/{stored.json()['data']['id']}/token")
        assert read_token.json()["data"]["accessToken"] == token
        pg_connection = database.json()["data"]["connectionId"]
        read_pg = api.get(f"/api/connections/{pg_connection}/token")
        assert read_pg.json()["data"]["fields"]["password"] == password
        validated = api.post(f"/api/connections/{pg_connection}/validate")
        assert validated.status_code == 200 and validated.json()["data"]["valid"] is True, validated.text

    canaries = {"client secret": client_secret, "token": token, "password": password}
    documents = {db: _dump(mongo_url, stack.env[db]) for db in ("MONGODB_DB", "VAULT_MONGODB_DB")}
    # the dump really holds the data: the connection records and three vault secrets
    assert any(pg_connection.encode() in raw for _, raw, _ in documents["MONGODB_DB"])
    assert sum(name == "secrets" for name, _, _ in documents["VAULT_MONGODB_DB"]) >= 3
    for db, docs in documents.items():
        for what, secret in canaries.items():
            forms = encoded_forms(secret)
            leaks = [name for name, raw, text in docs if any(form.encode() in raw or form in text for form in forms)]
            assert not leaks, f"the {what} is readable in {db} collections {sorted(set(leaks))}"

    for name in ("gateway", "connector", "vault"):
        log = stack.log_text(name)
        assert log, f"{name} wrote no log"
        for what, secret in canaries.items():
            assert not any(form in log for form in encoded_forms(secret)), f"{name} logged the {what}"
