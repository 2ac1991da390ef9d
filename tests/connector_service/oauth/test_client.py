"""Code exchange, refresh, revocation and their failures against the strict fake server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from connector_service.oauth import (
    ClientCredentials,
    OAuthClient,
    OAuthProviderError,
    OAuthUpstreamError,
    ProviderEndpoints,
    build_authorization_request,
    parse_authorization_response,
)
from ucf_common.errors import ErrorCode

from tests.connector_service.oauth.conftest import (
    CLIENTS,
    REDIRECT_URI,
    connect,
    endpoints,
    follow_authorization,
    register_clients,
)
from tests.fakes.oauth_server import FakeOAuthServer
from tests.support.ports import free_port


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
async def test_full_code_flow_with_pkce(http, oauth_server, method):
    tokens = await connect(http, oauth_server, method)
    assert oauth_server.is_active(tokens.access_token)
    assert tokens.refresh_token and tokens.scope == "read write"
    assert tokens.expiry_source == "expires_in"
    assert abs((tokens.expires_at - datetime.now(UTC)) - timedelta(hours=1)) < timedelta(minutes=1)

    refreshed = await OAuthClient(http, endpoints(oauth_server, method), CLIENTS[method]).refresh(tokens.refresh_token)
    assert refreshed.refresh_token != tokens.refresh_token
    assert oauth_server.is_active(refreshed.access_token)
    assert oauth_server.calls["token:refresh_token"] == 1


async def _authorized_code(http, server, method="client_secret_basic"):
    request = build_authorization_request(endpoints(server, method), CLIENTS[method], redirect_uri=REDIRECT_URI)
    query = await follow_authorization(http, request.url)
    return parse_authorization_response(query, expected_issuer=server.issuer), request.code_verifier


async def test_wrong_verifier_is_invalid_grant(http, oauth_server):
    code, _ = await _authorized_code(http, oauth_server)
    other_verifier = build_authorization_request(
        endpoints(oauth_server), CLIENTS["client_secret_basic"], redirect_uri=REDIRECT_URI
    ).code_verifier
    client = OAuthClient(http, endpoints(oauth_server), CLIENTS["client_secret_basic"])
    with pytest.raises(OAuthProviderError) as info:
        await client.exchange_code(code, redirect_uri=REDIRECT_URI, code_verifier=other_verifier)
    assert info.value.error == "invalid_grant"
    assert info.value.code is ErrorCode.FAILED_PRECONDITION
    assert oauth_server.rejections["invalid_grant"] == 1


async def test_reused_code_is_rejected_and_revokes_its_tokens(http, oauth_server):
    code, verifier = await _authorized_code(http, oauth_server)
    client = OAuthClient(http, endpoints(oauth_server), CLIENTS["client_secret_basic"])
    tokens = await client.exchange_code(code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    with pytest.raises(OAuthProviderError) as info:
        await client.exchange_code(code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert info.value.error == "invalid_grant"
    assert not oauth_server.is_active(tokens.access_token)


async def test_redirect_uri_must_match_the_authorization_request(http, oauth_server):
    code, verifier = await _authorized_code(http, oauth_server)
    client = OAuthClient(http, endpoints(oauth_server), CLIENTS["client_secret_basic"])
    with pytest.raises(OAuthProviderError) as info:
        await client.exchange_code(code, redirect_uri=REDIRECT_URI + "/other", code_verifier=verifier)
    assert info.value.error == "invalid_grant"


async def test_unregistered_redirect_uri_is_not_redirected_to(http, oauth_server):
    request = build_authorization_request(
        endpoints(oauth_server), CLIENTS["client_secret_basic"], redirect_uri="https://attacker.example/cb"
    )
    response = await http.get(request.url, follow_redirects=False)
    assert response.status_code == 400 and "location" not in response.headers


async def test_denied_consent_surfaces_access_denied(http, oauth_server):
    oauth_server.approve = False
    request = build_authorization_request(
        endpoints(oauth_server), CLIENTS["client_secret_basic"], redirect_uri=REDIRECT_URI
    )
    query = await follow_authorization(http, request.url)
    assert query["state"] == request.state
    with pytest.raises(OAuthProviderError) as info:
        parse_authorization_response(query, expected_issuer=oauth_server.issuer)
    assert info.value.error == "access_denied"
    assert oauth_server.calls["token"] == 0


@pytest.mark.parametrize(
    ("registered", "used"),
    [
        pytest.param("client_secret_basic", "client_secret_post", id="basic-client-sends-post"),
        pytest.param("client_secret_post", "client_secret_basic", id="post-client-sends-basic"),
    ],
)
async def test_client_must_authenticate_as_registered(http, oauth_server, registered, used):
    code, verifier = await _authorized_code(http, oauth_server, registered)
    client = OAuthClient(http, endpoints(oauth_server, used), CLIENTS[registered])
    with pytest.raises(OAuthProviderError) as info:
        await client.exchange_code(code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert info.value.error == "invalid_client"
    assert info.value.status_code == 401


async def test_wrong_client_secret_is_invalid_client(http, oauth_server):
    code, verifier = await _authorized_code(http, oauth_server)
    wrong = ClientCredentials("basic-client", "not-the-secret")
    with pytest.raises(OAuthProviderError) as info:
        await OAuthClient(http, endpoints(oauth_server), wrong).exchange_code(
            code, redirect_uri=REDIRECT_URI, code_verifier=verifier
        )
    assert info.value.error == "invalid_client"
    assert "not-the-secret" not in str(info.value.details) + info.value.message


async def test_jwt_access_token_without_expires_in_uses_exp(http):
    server = FakeOAuthServer(access_token_lifetime=None, jwt_access_tokens=True)
    register_clients(server)
    with server.serve():
        tokens = await connect(http, server)
    assert tokens.expiry_source == "jwt_exp"
    assert abs((tokens.expires_at - datetime.now(UTC)) - timedelta(hours=1)) < timedelta(minutes=1)


async def test_opaque_token_without_expires_in_gets_the_conservative_default(http):
    server = FakeOAuthServer(access_token_lifetime=None)
    register_clients(server)
    with server.serve():
        tokens = await connect(http, server)
    assert tokens.expiry_source == "default"
    assert abs((tokens.expires_at - datetime.now(UTC)) - timedelta(seconds=1800)) < timedelta(minutes=1)


async def test_form_encoded_answers_and_metadata_fields_are_read(http):
    server = FakeOAuthServer(
        form_encoded_answers=True, extra_token_fields={"instance_url": "https://acme.my.example.com", "junk": "x"}
    )
    register_clients(server)
    with server.serve():
        provider = endpoints(server, token_response_metadata=("instance_url",))
        code, verifier = await _authorized_code(http, server)
        tokens = await OAuthClient(http, provider, CLIENTS["client_secret_basic"]).exchange_code(
            code, redirect_uri=REDIRECT_URI, code_verifier=verifier
        )
    assert server.is_active(tokens.access_token) and tokens.refresh_token
    assert tokens.metadata == {"instance_url": "https://acme.my.example.com"}
    assert tokens.expiry_source == "expires_in"


async def test_revoking_the_refresh_token_ends_the_grant(http, oauth_server):
    tokens = await connect(http, oauth_server)
    client = OAuthClient(http, endpoints(oauth_server), CLIENTS["client_secret_basic"])
    assert await client.revoke(tokens.refresh_token, token_type_hint="refresh_token") is True
    assert not oauth_server.is_active(tokens.access_token)
    with pytest.raises(OAuthProviderError) as info:
        await client.refresh(tokens.refresh_token)
    assert info.value.error == "invalid_grant"
    assert await client.revoke("never-issued") is True  # RFC 7009 §2.2: unknown tokens are fine


async def test_revoke_without_endpoint_reports_false(http, oauth_server):
    provider = endpoints(oauth_server, revocation_url=None)
    assert await OAuthClient(http, provider, CLIENTS["client_secret_basic"]).revoke("anything") is False
    assert oauth_server.calls["revoke"] == 0


async def test_server_error_is_an_upstream_error(http, oauth_server):
    tokens = await connect(http, oauth_server)
    oauth_server.fail_next("token", 500)
    with pytest.raises(OAuthUpstreamError) as info:
        await OAuthClient(http, endpoints(oauth_server), CLIENTS["client_secret_basic"]).refresh(tokens.refresh_token)
    assert info.value.code is ErrorCode.UPSTREAM_ERROR
    assert info.value.status_code == 500 and not info.value.outcome_unknown


async def test_unanswered_refresh_is_flagged_as_unknown_outcome(oauth_server):
    async with httpx.AsyncClient(timeout=10) as patient:
        tokens = await connect(patient, oauth_server)
    oauth_server.slow("token", 1.0)
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        with pytest.raises(OAuthUpstreamError) as info:
            await OAuthClient(impatient, endpoints(oauth_server), CLIENTS["client_secret_basic"]).refresh(
                tokens.refresh_token
            )
    assert info.value.outcome_unknown
    assert info.value.code is ErrorCode.TIMEOUT


async def test_unreachable_provider_is_known_not_to_have_received_the_request(http):
    provider = ProviderEndpoints(token_url=f"http://127.0.0.1:{free_port()}/token")  # nothing listens
    with pytest.raises(OAuthUpstreamError) as info:
        await OAuthClient(http, provider, CLIENTS["client_secret_basic"]).refresh("rt")
    assert not info.value.outcome_unknown
