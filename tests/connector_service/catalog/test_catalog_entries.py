"""Every built-in catalog entry is usable: it loads, its authorization URL and its proxy
requests build, and the credential lands where the entry says."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest
from connector_service.catalog.providers import ProviderSpec, load_catalog
from connector_service.catalog.references import mode_names
from connector_service.catalog.request_auth import apply_request_auth, upstream_url
from connector_service.connectors.auth import (
    ApiKeyCredential,
    BasicCredential,
    Credential,
    FormCredential,
    OAuth2Credential,
)
from connector_service.oauth.authorization import build_authorization_request
from connector_service.oauth.clients import endpoints
from connector_service.oauth.config import ClientCredentials
from connector_service.oauth.tokens import TokenSet

CATALOG = load_catalog()
REDIRECT = "https://app.example.test/oauth/callback"
ISSUE_16 = (
    "google_drive google_calendar gmail microsoft slack hubspot notion linear asana gitlab bitbucket "
    "zendesk intercom shopify stripe dropbox box zoom airtable monday clickup trello figma discord xero "
    "quickbooks okta auth0 docusign pipedrive freshdesk twilio sendgrid"
).split()
OAUTH = [pid for pid, spec in CATALOG.items() if "oauth2" in spec.auth_modes]
PROXIED = [(pid, mode) for pid, spec in CATALOG.items() for mode in spec.auth_modes if spec.base_url_for(mode)]


def _sample_values(spec: ProviderSpec, mode: str) -> dict[str, str]:
    """A value for every name the mode may use; names that start a URL template get a URL."""
    base = spec.base_url_for(mode) or ""
    url_heads = {base[1:].split("}")[0]} if base.startswith("{") else set()
    values = {name: f"sample-{name.replace('_', '-')}" for name in mode_names(spec, mode)}
    values.update({name: f"https://{name.replace('_', '-')}.sample.test" for name in url_heads})
    values.update(spec.connect_values({p.name: values[p.name] for p in spec.connect_params if not p.default}))
    return values


def _sample_credential(mode: str, values: dict[str, str]) -> Credential:
    """The credential a connection of `mode` would hold, its secrets taken from `values`."""
    if mode == "oauth2":
        return OAuth2Credential(TokenSet(values["access_token"]))
    if mode == "api_key":
        return ApiKeyCredential(values["api_key"], values.get("api_secret"))
    return BasicCredential(values) if mode == "basic" else FormCredential(values)


def test_the_catalog_covers_at_least_100_providers_each_with_its_docs() -> None:
    assert len(CATALOG.ids()) >= 100
    assert set(ISSUE_16) <= set(CATALOG.ids())
    undocumented = [pid for pid, spec in CATALOG.items() if not (spec.docs_url or "").startswith("https://")]
    assert undocumented == []


@pytest.mark.parametrize("provider_id", OAUTH)
def test_every_oauth2_entry_builds_an_authorization_url(provider_id: str) -> None:
    spec = CATALOG.get(provider_id)
    connect = spec.connect_values({p.name: f"acme-{p.name}" for p in spec.connect_params if not p.default})
    request = build_authorization_request(
        endpoints(spec.with_connect_values(connect)),
        ClientCredentials(client_id="client-123"),
        redirect_uri=REDIRECT,
        scopes=spec.default_scopes,
    )
    url = urlsplit(request.url)
    query = parse_qs(url.query)
    assert url.scheme == "https" and url.hostname and "{" not in request.url
    assert query["client_id"] == ["client-123"] and query["redirect_uri"] == [REDIRECT]
    assert query["state"] == [request.state] and query["response_type"] == ["code"]
    if spec.default_scopes:
        assert query["scope"] == [spec.scope_separator.join(spec.default_scopes)]
    assert ("code_challenge" in query) is spec.pkce


def test_the_microsoft_tenant_defaults_to_common_and_a_given_one_is_used() -> None:
    spec = CATALOG.get("microsoft")
    assert spec.with_connect_values(spec.connect_values({})).authorization_url == (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    )
    assert (
        "/contoso.onmicrosoft.com/"
        in spec.with_connect_values(spec.connect_values({"tenant": "contoso.onmicrosoft.com"})).token_url
    )


@pytest.mark.parametrize("value", ["evil.example/x", "a b", "x?y=1", "", "../up"])
def test_a_connect_value_that_could_move_the_host_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="shop"):
        CATALOG.get("shopify").connect_values({"shop": value})


def _secret_of(spec: ProviderSpec, mode: str, values: dict[str, str]) -> str:
    if mode == "oauth2":
        return values["access_token"]
    if mode == "api_key":
        return values["api_key"]
    return values[next(f.name for f in spec.form_fields(mode) if f.secret)]


@pytest.mark.parametrize(("provider_id", "mode"), PROXIED, ids=[f"{p}-{m}" for p, m in PROXIED])
def test_every_proxy_entry_builds_a_request_with_the_credential_where_declared(provider_id: str, mode: str) -> None:
    spec = CATALOG.get(provider_id)
    values = _sample_values(spec, mode)
    url = urlsplit(upstream_url(spec, mode, values, "/v1/things/42"))
    assert url.scheme == "https" and url.hostname and "{" not in url.geturl()
    assert url.path.endswith("/v1/things/42")
    placed = apply_request_auth(spec, _sample_credential(mode, values), values)
    headers, query = placed.headers, placed.params
    secret, auth = _secret_of(spec, mode, values), spec.request_auth_for(mode)
    if auth.type == "bearer":
        assert headers["Authorization"] == f"Bearer {secret}"
    elif auth.type == "header":
        assert secret in headers[auth.name]
    elif auth.type == "query":
        assert query[auth.name] == secret
    else:
        scheme, encoded = headers["Authorization"].split(" ")
        assert scheme == "Basic" and secret in base64.b64decode(encoded).decode()
    assert all("{" not in v for v in (*headers.values(), *query.values()))


@pytest.mark.parametrize(
    ("provider_id", "mode", "header", "expected"),
    [
        pytest.param("okta", "api_key", "Authorization", "SSWS sample-api-key", id="okta-ssws"),
        pytest.param("okta", "oauth2", "Authorization", "Bearer sample-access-token", id="okta-bearer"),
        pytest.param("linear", "api_key", "Authorization", "sample-api-key", id="linear-bare-key"),
        pytest.param("notion", "oauth2", "Notion-Version", "2022-06-28", id="notion-version"),
        pytest.param("datadog", "api_key", "DD-APPLICATION-KEY", "sample-api-secret", id="datadog-second-key"),
        pytest.param("shopify", "oauth2", "X-Shopify-Access-Token", "sample-access-token", id="shopify-header"),
    ],
)
def test_request_auth_differs_per_provider_and_mode(provider_id: str, mode: str, header: str, expected: str) -> None:
    spec = CATALOG.get(provider_id)
    values = _sample_values(spec, mode)
    headers = apply_request_auth(spec, _sample_credential(mode, values), values).headers
    assert headers[header] == expected


def test_an_api_token_for_jira_goes_to_the_site_with_basic_auth() -> None:
    spec = CATALOG.get("jira")
    values = {"site": "https://acme.atlassian.net", "email": "a@acme.test", "api_token": "tok"}
    assert upstream_url(spec, "basic", values, "/rest/api/3/myself") == "https://acme.atlassian.net/rest/api/3/myself"
    headers = apply_request_auth(spec, BasicCredential(values), {}).headers
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"a@acme.test:tok").decode()


@pytest.mark.parametrize(
    "path",
    [
        "../../admin",
        "/v1/%2e%2e/%2e%2e/x",
        "https://evil.example/x",
        "//evil.example/x",
        "..\\x",
        "%2F%2Fevil.example",
        "%5C..%5Cx",
    ],
)
def test_a_proxied_path_cannot_leave_the_api_base(path: str) -> None:
    spec = CATALOG.get("stripe")
    with pytest.raises(ValueError, match="path"):
        upstream_url(spec, "api_key", {"api_key": "k"}, path)


def test_docusign_reads_its_account_host_from_a_nested_answer() -> None:
    spec = CATALOG.get("docusign")
    answer = {"sub": "u1", "accounts": [{"account_id": "a1", "base_uri": "https://na3.docusign.net"}]}
    facts = spec.connection_metadata.extract(answer)
    assert facts == {"account_id": "a1", "base_uri": "https://na3.docusign.net"}
    assert (
        upstream_url(spec, "oauth2", facts, "/v2.1/accounts/a1") == "https://na3.docusign.net/restapi/v2.1/accounts/a1"
    )
