"""The front-channel half of the authorization-code flow (RFC 6749 §4.1.1–4.1.2).

`build_authorization_request` makes the URL to send the user to, with a fresh `state`
and, when the provider supports it, a PKCE S256 challenge; the caller keeps the returned
`state` and `code_verifier` server-side. `parse_authorization_response` reads the query
the provider redirected back with, after the caller has matched `state` to its session.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ucf_common.errors import invalid

from connector_service.oauth.config import ClientCredentials, ProviderEndpoints
from connector_service.oauth.errors import OAuthProviderError
from connector_service.oauth.pkce import new_pkce_pair, new_state


@dataclass(frozen=True)
class AuthorizationRequest:
    """`url` goes to the user; `state` and `code_verifier` (None without PKCE) stay on the server."""

    url: str
    state: str
    code_verifier: str | None = field(default=None, repr=False)


def build_authorization_request(
    provider: ProviderEndpoints,
    client: ClientCredentials,
    *,
    redirect_uri: str,
    scopes: Iterable[str] = (),
    extra_params: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """The authorization URL. Query parameters already in `provider.authorization_url` are kept;
    `provider.authorization_params` then `extra_params` are added, but never override the
    protocol parameters (response_type, client_id, redirect_uri, scope, state, PKCE)."""
    if not provider.authorization_url:
        raise invalid("the provider has no authorizationUrl", field="authorizationUrl")
    state = new_state()
    params: dict[str, str] = {**provider.authorization_params, **(extra_params or {})}
    params.update(response_type="code", client_id=client.client_id, redirect_uri=redirect_uri, state=state)
    scope_list = [s for s in dict.fromkeys(scopes) if s]
    if scope_list:
        params["scope"] = provider.scope_separator.join(scope_list)
    verifier = None
    if provider.pkce:
        pair = new_pkce_pair()
        verifier = pair.verifier
        params.update(code_challenge=pair.challenge, code_challenge_method=pair.method)
    parts = urlsplit(provider.authorization_url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return AuthorizationRequest(url=url, state=state, code_verifier=verifier)


def states_match(expected: str, received: str | None) -> bool:
    """Constant-time comparison of a stored state with the one that came back."""
    return received is not None and hmac.compare_digest(expected.encode(), received.encode())


def parse_authorization_response(query: Mapping[str, str], *, expected_issuer: str | None = None) -> str:
    """The authorization code from a redirect's query.

    Raises `OAuthProviderError` when the provider sent `error` (e.g. `access_denied`), and
    `invalid_request` when the code is missing or, per RFC 9207 §2.4, when `iss` differs from
    `expected_issuer` or is absent although an issuer is expected. Without an expected issuer an
    `iss` is not checked (the provider did not declare one). `state` is the caller's to check,
    before calling this, so a forged redirect never gets this far.
    """
    iss = query.get("iss")
    if expected_issuer is not None and iss != expected_issuer:
        raise invalid("the authorization response's issuer does not match the provider", field="iss")
    if query.get("error"):
        raise OAuthProviderError(
            query["error"],
            query.get("error_description"),
            error_uri=query.get("error_uri"),
            during="authorization request",
        )
    code = query.get("code")
    if not code:
        raise invalid("the authorization response has no code", field="code")
    return code
