"""One credential type per auth mode: what each puts on a request, what its repr shows, and
the typed PostgreSQL settings of a form."""

from __future__ import annotations

import base64

import httpx
import pytest
from connector_service.catalog.providers import RequestAuthSpec, load_catalog
from connector_service.catalog.request_auth import apply_request_auth
from connector_service.connectors.atlassian import atlassian_upstream
from connector_service.connectors.auth import (
    ApiKeyCredential,
    BasicCredential,
    Credential,
    FormCredential,
    OAuth2Credential,
    credential_from_payload,
)
from connector_service.connectors.context import ConnectorContext
from connector_service.oauth.tokens import TokenSet
from ucf_common.errors import ErrorCode, UcfError

SECRET = "s3cret-value-1"
OTHER = "s3cret-value-2"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("credential", "placement", "headers", "params"),
    [
        pytest.param(
            OAuth2Credential(TokenSet(SECRET)), None, {"Authorization": f"Bearer {SECRET}"}, {}, id="oauth2-bearer"
        ),
        pytest.param(
            OAuth2Credential(TokenSet(SECRET)),
            RequestAuthSpec(type="header", name="X-Shopify-Access-Token"),
            {"X-Shopify-Access-Token": SECRET},
            {},
            id="oauth2-header",
        ),
        pytest.param(
            OAuth2Credential(TokenSet(SECRET)),
            RequestAuthSpec(type="query", name="access_token"),
            {},
            {"access_token": SECRET},
            id="oauth2-query",
        ),
        pytest.param(ApiKeyCredential(SECRET), None, {"Authorization": f"Bearer {SECRET}"}, {}, id="api-key-bearer"),
        pytest.param(
            ApiKeyCredential(SECRET),
            RequestAuthSpec(type="header", name="Authorization", value="SSWS {api_key}"),
            {"Authorization": f"SSWS {SECRET}"},
            {},
            id="api-key-own-scheme",
        ),
        pytest.param(
            ApiKeyCredential("key-1", OTHER),
            RequestAuthSpec(type="header", name="Authorization", value='OAuth k="{api_key}", t="{api_secret}"'),
            {"Authorization": f'OAuth k="key-1", t="{OTHER}"'},
            {},
            id="api-key-with-secret",
        ),
        pytest.param(
            ApiKeyCredential(SECRET),
            RequestAuthSpec(type="query", name="key"),
            {},
            {"key": SECRET},
            id="api-key-query",
        ),
        pytest.param(
            BasicCredential({"username": "ann", "password": SECRET}),
            None,
            {"Authorization": _basic("ann", SECRET)},
            {},
            id="basic-username-password",
        ),
        pytest.param(
            BasicCredential({"site": "https://acme.atlassian.net", "email": "a@acme.test", "api_token": SECRET}),
            RequestAuthSpec(type="basic", username="{email}", password="{api_token}"),
            {"Authorization": _basic("a@acme.test", SECRET)},
            {},
            id="basic-atlassian-form",
        ),
        pytest.param(
            FormCredential({"token": SECRET}),
            RequestAuthSpec(type="header", name="X-Token", value="{token}"),
            {"X-Token": SECRET},
            {},
            id="form-with-declared-placement",
        ),
    ],
)
def test_each_mode_puts_its_secret_where_the_placement_says(
    credential: Credential, placement: RequestAuthSpec | None, headers: dict[str, str], params: dict[str, str]
) -> None:
    auth = credential.request_auth(placement)
    assert dict(auth.headers) == headers and dict(auth.params) == params


def test_a_template_value_from_the_connection_metadata_fills_the_placement() -> None:
    placement = RequestAuthSpec(type="header", name="X-Account", value="{account_id}:{api_key}")
    auth = ApiKeyCredential(SECRET).request_auth(placement, {"account_id": "acct-9"})
    assert auth.headers == {"X-Account": f"acct-9:{SECRET}"}


def test_a_missing_template_value_is_named_and_a_form_without_placement_cannot_be_sent() -> None:
    placement = RequestAuthSpec(type="basic", username="{email}", password="{api_token}")
    with pytest.raises(KeyError) as missing:
        BasicCredential({"email": "a@acme.test"}).request_auth(placement)
    assert missing.value.args == ("api_token",)
    with pytest.raises(ValueError, match="cannot be sent on a request"):
        FormCredential({"host": "db.example"}).request_auth()


@pytest.mark.parametrize(
    "credential",
    [
        pytest.param(OAuth2Credential(TokenSet(SECRET, refresh_token=OTHER, scope="read")), id="oauth2"),
        pytest.param(ApiKeyCredential(SECRET, OTHER), id="api_key"),
        pytest.param(BasicCredential({"username": "ann", "password": SECRET}), id="basic"),
        pytest.param(FormCredential({"host": "db.example", "user": "u", "password": SECRET}), id="credentials"),
    ],
)
def test_no_secret_in_repr_and_the_tag_names_the_mode(credential: Credential) -> None:
    shown = repr(credential) + str(credential)
    assert SECRET not in shown and OTHER not in shown
    assert credential.kind in shown
    context = ConnectorContext(connector_id="x", credential=credential, http=None)  # type: ignore[arg-type]
    assert SECRET not in repr(context)


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        pytest.param(
            "oauth2",
            {"accessToken": SECRET, "tokenType": "Bearer", "refreshToken": OTHER, "metadata": {"instance_url": "u"}},
            OAuth2Credential,
            id="oauth2",
        ),
        pytest.param("api_key", {"apiKey": SECRET, "apiSecret": OTHER}, ApiKeyCredential, id="api_key"),
        pytest.param("basic", {"username": "ann", "password": SECRET}, BasicCredential, id="basic"),
        pytest.param("credentials", {"host": "db", "port": 5432}, FormCredential, id="credentials"),
    ],
)
def test_the_vault_payload_is_read_into_its_mode_and_written_back_unchanged(
    kind: str, payload: dict[str, object], expected: type
) -> None:
    credential = credential_from_payload(kind, payload)
    assert isinstance(credential, expected) and credential.kind == kind
    assert credential.to_payload() == payload


def test_the_postgres_form_gives_typed_settings_with_an_int_port() -> None:
    for port in (5433, 5433.0, "5433"):
        settings = FormCredential({"host": " db.example ", "port": port, "database": "d", "user": "u"}).database()
        assert settings.port == 5433 and isinstance(settings.port, int)
        assert settings.conninfo()["port"] == 5433 and isinstance(settings.conninfo()["port"], int)
    settings = FormCredential(
        {"host": "db", "database": "d", "user": "u", "password": SECRET, "schemas": "a, b"}
    ).database()
    assert (settings.host, settings.port, settings.sslmode, settings.schemas) == ("db", 5432, "prefer", ("a", "b"))
    assert settings.conninfo()["password"] == SECRET and SECRET not in repr(settings)


def test_a_stored_postgres_form_that_cannot_work_is_a_failed_precondition_naming_the_field() -> None:
    with pytest.raises(UcfError) as caught:
        FormCredential({"host": "db", "database": "d", "user": "u", "port": "x"}).database()
    assert caught.value.code is ErrorCode.FAILED_PRECONDITION and caught.value.details == {"field": "port"}
    with pytest.raises(UcfError) as caught:
        FormCredential({"host": "db"}).database(ErrorCode.INVALID_REQUEST)
    assert caught.value.code is ErrorCode.INVALID_REQUEST and caught.value.details == {"fields": ["database", "user"]}


async def test_the_jira_connector_and_the_proxy_put_the_same_api_token_auth_on_a_request() -> None:
    credential = BasicCredential({"site": "https://acme.atlassian.net", "email": "a@acme.test", "api_token": SECRET})
    proxied = apply_request_auth(load_catalog().get("jira"), credential, {})
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as http:
        ctx = ConnectorContext(connector_id="jira", credential=credential, http=http)
        await atlassian_upstream(ctx, "jira").get("/rest/api/3/myself")
    assert str(seen[0].url) == "https://acme.atlassian.net/rest/api/3/myself"
    assert seen[0].headers["Authorization"] == proxied.headers["Authorization"] == _basic("a@acme.test", SECRET)
