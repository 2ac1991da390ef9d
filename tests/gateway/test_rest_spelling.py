"""REST speaks REST: auth modes are short lowercase words in and out (the proto name is
accepted on input, deprecated), an unspecified enum is absent, credential-form field names
are lowerCamelCase out and become the catalog's names on the way in (snake_case accepted),
and OpenAPI lists the words, never `*_UNSPECIFIED`.
"""

from __future__ import annotations

import json

import httpx
import pytest
from google.protobuf import json_format
from ucf.connector.v1 import connections_pb2 as conn
from ucf.connector.v1 import connectors_pb2 as ctr

from tests.gateway.fakes import FakeConnectorService

POSTGRES = ctr.Connector(
    id="postgres",
    auth_modes=[ctr.AUTH_MODE_CREDENTIALS],
    credential_fields=[
        ctr.CredentialField(name="host"),
        ctr.CredentialField(name="sslmode"),
        ctr.CredentialField(name="cursor_column"),
    ],
)


async def test_enums_are_words_and_form_fields_camel_case(client: httpx.AsyncClient, fake: FakeConnectorService):
    fake.replies["GetConnector"] = ctr.GetConnectorResponse(connector=POSTGRES)
    data = (await client.get("/api/connectors/postgres")).json()["data"]
    assert data["authModes"] == ["credentials"]
    assert [field["name"] for field in data["credentialFields"]] == ["host", "sslMode", "cursorColumn"]


async def test_connect_form_fields_are_camel_case(client: httpx.AsyncClient, fake: FakeConnectorService):
    fake.replies["Connect"] = ctr.ConnectResponse(method="credentials", fields=POSTGRES.credential_fields)
    answer = await client.post("/api/connectors/postgres/connect", json={"workspaceId": "w", "method": "credentials"})
    assert [field["name"] for field in answer.json()["data"]["fields"]] == ["host", "sslMode", "cursorColumn"]


@pytest.mark.parametrize(
    ("mode", "word"),
    [
        pytest.param(ctr.AUTH_MODE_OAUTH2, "oauth2", id="oauth2"),
        pytest.param(ctr.AUTH_MODE_API_KEY, "api_key", id="api_key"),
        pytest.param(ctr.AUTH_MODE_BASIC, "basic", id="basic"),
        pytest.param(ctr.AUTH_MODE_CREDENTIALS, "credentials", id="credentials"),
    ],
)
async def test_connection_auth_mode_is_a_word(client, fake, mode, word):
    fake.replies["GetConnection"] = conn.GetConnectionResponse(connection=conn.Connection(id="c1", auth_mode=mode))
    assert (await client.get("/api/connections/c1")).json()["data"]["authMode"] == word


async def test_unspecified_enum_is_absent(client: httpx.AsyncClient, fake: FakeConnectorService):
    fake.replies["GetConnection"] = conn.GetConnectionResponse(connection=conn.Connection(id="c1"))
    data = (await client.get("/api/connections/c1")).json()["data"]
    assert "authMode" not in data
    assert data["id"] == "c1"


@pytest.mark.parametrize("sent", ["api_key", "AUTH_MODE_API_KEY"], ids=["word", "deprecated-proto-name"])
async def test_method_accepts_word_and_deprecated_proto_name(client, fake, sent):
    answer = await client.post("/api/connectors/github/connect", json={"workspaceId": "w", "method": sent})
    assert answer.status_code == 200, answer.text
    assert fake.only_call().request.method == "api_key"


@pytest.mark.parametrize("sent", ["AUTH_MODE_UNSPECIFIED", "OAUTH2", "password"])
async def test_method_refuses_other_spellings(client, fake, sent):
    answer = await client.post("/api/connectors/github/connect", json={"workspaceId": "w", "method": sent})
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["fields"][0]["field"] == "method"
    assert fake.calls == []


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/connectors/postgres/connect/callback", "credentials"), ("/api/connectors/postgres/probe", "config")],
    ids=["callback", "probe"],
)
async def test_credential_dicts_reach_grpc_with_catalog_names(client, fake, path, key):
    sent = {"host": "db", "sslMode": "require", "cursorColumn": "updated_at", "api_token": "legacy-spelling"}
    body = {key: sent, **({"method": "credentials", "workspaceId": "w"} if key == "credentials" else {})}
    answer = await client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    got = json_format.MessageToDict(getattr(fake.only_call().request, key))
    assert got == {"host": "db", "sslmode": "require", "cursor_column": "updated_at", "api_token": "legacy-spelling"}


async def test_openapi_lists_enum_words_without_unspecified(client: httpx.AsyncClient):
    document = (await client.get("/openapi.json")).json()
    assert "UNSPECIFIED" not in json.dumps(document)
    connector = document["components"]["schemas"]["ucf.connector.v1.Connector"]["properties"]
    assert connector["authModes"]["items"]["enum"] == ["oauth2", "api_key", "basic", "credentials"]
    connection = document["components"]["schemas"]["ucf.connector.v1.Connection"]["properties"]
    assert connection["authMode"]["enum"] == ["oauth2", "api_key", "basic", "credentials"]
    method = document["components"]["schemas"]["ConnectBody"]["properties"]["method"]
    assert "oauth2" in json.dumps(method) and "Deprecated" in json.dumps(method)
