"""The provider catalog: built-ins, operator additions, and refusal of bad entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from connector_service.catalog.providers import CatalogError, load_catalog


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.yaml"
    path.write_text(text)
    return path


def test_builtins_carry_the_providers_real_endpoints() -> None:
    catalog = load_catalog()
    jira = catalog.get("jira")
    assert jira.authorization_url == "https://auth.atlassian.com/authorize"
    assert jira.authorization_params == {"audience": "api.atlassian.com", "prompt": "consent"}
    assert jira.connection_metadata.url.endswith("/oauth/token/accessible-resources")
    assert catalog.get("salesforce").token_response_metadata == ["instance_url", "id"]
    assert catalog.get("github").auth_modes == ["oauth2", "api_key"]
    postgres = catalog.get("postgres")
    assert postgres.auth_mode == "credentials"
    assert [f.name for f in postgres.form_fields("credentials") if f.secret] == ["password", "sslkey"]


def test_an_operator_file_adds_a_provider_and_may_replace_a_builtin(tmp_path: Path) -> None:
    catalog = load_catalog(
        _write(
            tmp_path,
            """
providers:
  acme:
    display_name: Acme CRM
    auth_mode: oauth2
    authorization_url: https://login.acme.example/oauth/authorize
    token_url: https://login.acme.example/oauth/token
    token_auth_method: client_secret_basic
  github:
    display_name: GitHub Enterprise
    auth_mode: api_key
    credential_fields: [{name: api_key, label: Token, type: password, secret: true}]
""",
        )
    )
    assert catalog.get("acme").token_auth_method == "client_secret_basic"
    assert catalog.get("github").display_name == "GitHub Enterprise"
    assert catalog.get("jira") is not None


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        pytest.param(
            "{display_name: X, auth_mode: oauth2, authorization_url: https://a.example/auth}",
            "token_url",
            id="oauth2-without-token-url",
        ),
        pytest.param("{display_name: X, auth_mode: magic}", "auth_mode", id="unknown-auth-mode"),
        pytest.param(
            "{display_name: X, auth_mode: oauth2, authorization_url: https://a/x, token_url: https://a/t, "
            "token_auth_method: private_key_jwt}",
            "token_auth_method",
            id="unknown-token-auth",
        ),
        pytest.param(
            "{display_name: X, auth_mode: oauth2, authorization_url: not-a-url, token_url: https://a/t}",
            "authorization_url",
            id="bad-url",
        ),
        pytest.param(
            "{display_name: X, auth_mode: api_key, credential_fields: [{name: k, label: K}], colour: red}",
            "colour",
            id="unknown-field",
        ),
        pytest.param(
            "{display_name: X, auth_mode: api_key, credential_fields: [{name: k, label: K}], "
            "modes: {basic: {credential_fields: [{name: u, label: U}]}}}",
            "modes.basic",
            id="undeclared-mode",
        ),
        pytest.param(
            "{display_name: X, auth_mode: basic, modes: {basic: {verification: {url: '{site}/me', "
            "basic_auth: {username: '{email}'}}}}}",
            "password",
            id="basic-auth-without-password",
        ),
    ],
)
def test_an_invalid_entry_names_the_provider_and_the_field(tmp_path: Path, entry: str, field: str) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(_write(tmp_path, f"providers:\n  broken-one: {entry}\n"))
    assert "'broken-one'" in str(caught.value) and field in str(caught.value)


def test_a_file_without_providers_or_unreadable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="providers"):
        load_catalog(_write(tmp_path, "other: 1\n"))
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yaml")


_OAUTH = "auth_mode: oauth2, authorization_url: https://a.example/auth, token_url: https://a.example/token"
_KEY = "auth_mode: api_key, credential_fields: [{name: api_key, label: Key, secret: true}]"


@pytest.mark.parametrize(
    ("entry", "field", "name"),
    [
        pytest.param(
            f"{{display_name: X, {_OAUTH}, base_url: 'https://{{shop}}.example'}}",
            "base_url",
            "shop",
            id="undeclared-in-base-url",
        ),
        pytest.param(
            f"{{display_name: X, {_KEY}, verification: {{url: 'https://a.example/me', "
            "headers: {X-Key: '{apikey}'}}}",
            "verification.headers.X-Key",
            "apikey",
            id="typo-in-verification-header",
        ),
        pytest.param(
            f"{{display_name: X, {_KEY}, authorization_url: 'https://{{api_key}}.example/a', "
            "token_url: https://a.example/t, extra_auth_modes: [oauth2]}",
            "authorization_url",
            "api_key",
            id="credential-in-authorization-url",
        ),
        pytest.param(
            f"{{display_name: X, {_OAUTH}, extra_auth_modes: [api_key], "
            "credential_fields: [{name: api_key, label: K}], verification: {url: 'https://a.example/me', "
            "headers: {Authorization: 'Bearer {api_key}'}}}",
            "verification.headers.Authorization",
            "api_key",
            id="api-key-in-the-oauth2-verification",
        ),
        pytest.param(
            f"{{display_name: X, {_KEY}, base_url: https://a.example, headers: {{V: '{{version}}'}}}}",
            "headers.V",
            "version",
            id="undeclared-in-extra-header",
        ),
        pytest.param(
            f"{{display_name: X, {_KEY}, base_url: https://a.example, "
            "request_auth: {type: header, name: X-Key, value: 'Token {token}'}}",
            "request_auth.value",
            "token",
            id="undeclared-in-request-auth",
        ),
    ],
)
def test_a_placeholder_that_names_nothing_declared_is_refused(
    tmp_path: Path, entry: str, field: str, name: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(_write(tmp_path, f"providers:\n  broken-one: {entry}\n"))
    message = str(caught.value)
    assert "'broken-one'" in message and f"'{field}" in message and f"{{{name}}}" in message


def test_declared_names_may_be_used_as_placeholders(tmp_path: Path) -> None:
    catalog = load_catalog(
        _write(
            tmp_path,
            """
providers:
  fine:
    display_name: Fine
    auth_mode: oauth2
    authorization_url: "https://{region}.a.example/auth"
    token_url: https://a.example/token
    connect_params: [{name: region, label: Region, default: eu}]
    token_response_metadata: [instance_url]
    base_url: "{instance_url}/api"
    headers: {X-Region: "{region}"}
""",
        )
    )
    spec = catalog.get("fine")
    assert spec.with_connect_values(spec.connect_values({})).authorization_url == "https://eu.a.example/auth"


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        pytest.param("http://api.example.com", False, id="http-public"),
        pytest.param("http://10.0.0.5:8080/api", False, id="http-private"),
        pytest.param("ftp://api.example.com", False, id="ftp"),
        pytest.param("https://", False, id="no-host"),
        pytest.param("https://api.example.com:99999", False, id="bad-port"),
        pytest.param("https://api.example.com/a b", False, id="whitespace"),
        pytest.param("http://127.0.0.1:8123/api", True, id="http-loopback-v4"),
        pytest.param("http://[::1]:8123", True, id="http-loopback-v6"),
        pytest.param("http://localhost:8123", True, id="http-localhost"),
        pytest.param("https://api.example.com/v1", True, id="https"),
    ],
)
def test_urls_must_be_https_except_for_loopback(tmp_path: Path, url: str, accepted: bool) -> None:
    path = _write(tmp_path, f"providers:\n  web-one: {{display_name: X, {_KEY}, base_url: '{url}'}}\n")
    if accepted:
        assert load_catalog(path).get("web-one").base_url == url
        return
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert "'web-one'" in str(caught.value) and "'base_url'" in str(caught.value)


def test_a_provider_id_given_twice_in_one_file_is_refused(tmp_path: Path) -> None:
    entry = f"{{display_name: X, {_KEY}}}"
    with pytest.raises(CatalogError, match="duplicate key 'twice'"):
        load_catalog(_write(tmp_path, f"providers:\n  twice: {entry}\n  other: {entry}\n  twice: {entry}\n"))


def test_a_field_given_twice_in_an_entry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="duplicate key 'pkce'"):
        load_catalog(_write(tmp_path, f"providers:\n  x: {{display_name: X, {_OAUTH}, pkce: true, pkce: false}}\n"))
