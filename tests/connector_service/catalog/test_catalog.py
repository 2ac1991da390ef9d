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
    assert [f.name for f in postgres.form_fields("credentials") if f.secret] == ["password"]


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
