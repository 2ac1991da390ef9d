"""The authorization URL and the redirect back, without a server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from connector_service.oauth import (
    ClientCredentials,
    OAuthProviderError,
    ProviderEndpoints,
    build_authorization_request,
    parse_authorization_response,
    s256_challenge,
)
from ucf_common.errors import ErrorCode, UcfError

PROVIDER = ProviderEndpoints(
    authorization_url="https://auth.example.com/authorize?audience=api.example.com",
    token_url="https://auth.example.com/token",
    scope_separator=",",
    authorization_params={"prompt": "consent", "state": "must-not-win"},
)
CLIENT = ClientCredentials("client-1", "s3cret")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_url_carries_pkce_state_scopes_and_provider_params():
    request = build_authorization_request(
        PROVIDER,
        CLIENT,
        redirect_uri="https://app.example/cb",
        scopes=["read:jira", "write:jira", "read:jira"],
        extra_params={"login_hint": "a@b.c"},
    )
    q = query_of(request.url)
    assert request.url.startswith("https://auth.example.com/authorize?")
    assert q["response_type"] == "code"
    assert q["client_id"] == "client-1"
    assert q["redirect_uri"] == "https://app.example/cb"
    assert q["scope"] == "read:jira,write:jira"
    assert q["state"] == request.state
    assert q["code_challenge_method"] == "S256"
    assert q["code_challenge"] == s256_challenge(request.code_verifier)
    assert q["audience"] == "api.example.com" and q["prompt"] == "consent" and q["login_hint"] == "a@b.c"
    assert request.code_verifier not in request.url
    assert "s3cret" not in request.url


def test_each_request_gets_fresh_state_and_verifier():
    a = build_authorization_request(PROVIDER, CLIENT, redirect_uri="https://app.example/cb")
    b = build_authorization_request(PROVIDER, CLIENT, redirect_uri="https://app.example/cb")
    assert a.state != b.state and a.code_verifier != b.code_verifier
    assert len(a.code_verifier) >= 43 and len(a.state) >= 32
    assert a.code_verifier not in repr(a)


def test_provider_without_pkce_gets_no_challenge():
    provider = ProviderEndpoints(
        authorization_url="https://x.example/auth", token_url="https://x.example/t", pkce=False
    )
    request = build_authorization_request(provider, CLIENT, redirect_uri="https://app.example/cb", scopes=["a", "b"])
    q = query_of(request.url)
    assert "code_challenge" not in q and request.code_verifier is None
    assert q["scope"] == "a b"


def test_rfc7636_appendix_b_challenge():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        pytest.param(
            {"code": "abc", "state": "s", "iss": "https://auth.example.com"},
            ErrorCode.INVALID_REQUEST,
            id="foreign-issuer",
        ),
        pytest.param({"code": "abc", "state": "s"}, ErrorCode.INVALID_REQUEST, id="missing-issuer"),
        pytest.param({"state": "s", "iss": "https://idp.example"}, ErrorCode.INVALID_REQUEST, id="no-code"),
    ],
)
def test_bad_redirects_are_invalid_requests(query, code):
    with pytest.raises(UcfError) as info:
        parse_authorization_response(query, expected_issuer="https://idp.example")
    assert info.value.code is code


def test_denied_authorization_is_a_provider_error():
    with pytest.raises(OAuthProviderError) as info:
        parse_authorization_response(
            {"error": "access_denied", "error_description": "user said no", "iss": "https://idp.example"},
            expected_issuer="https://idp.example",
        )
    assert info.value.error == "access_denied"
    assert info.value.code is ErrorCode.FORBIDDEN
    assert "user said no" in info.value.message
