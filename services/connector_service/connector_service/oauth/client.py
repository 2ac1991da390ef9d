"""The back-channel calls: code exchange and refresh (RFC 6749 §4.1.3, §6) and revocation (RFC 7009).

One `OAuthClient` per (provider, registered client); the `httpx.AsyncClient` is passed in so
the process owns its lifetime. Responses are read as JSON or, for providers that still answer
`application/x-www-form-urlencoded` (GitHub without `Accept: application/json`), as a form.
Nothing here logs a token, code, verifier or secret; log lines name the endpoint and outcome.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus

import httpx
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from connector_service.oauth.config import (
    ClientCredentials,
    ProviderEndpoints,
    TokenAuthMethod,
)
from connector_service.oauth.errors import OAuthProviderError, OAuthUpstreamError
from connector_service.oauth.tokens import TokenSet, parse_token_response

logger = logging.getLogger(__name__)

#: Errors after which the request certainly never reached the provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _read_body(response: httpx.Response) -> dict[str, Any] | None:
    """The response as a dict, from JSON or a form; None when it is neither."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = response.text
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class OAuthClient:
    """Token-endpoint and revocation calls for one client at one provider."""

    def __init__(self, http: httpx.AsyncClient, provider: ProviderEndpoints, client: ClientCredentials):
        if provider.token_auth_method is not TokenAuthMethod.NONE and not client.client_secret:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION,
                f"the connector's OAuth client has no secret ({provider.token_auth_method})",
            )
        self._http = http
        self._provider = provider
        self._client = client

    async def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str | None = None) -> TokenSet:
        """Trade an authorization code for tokens; `redirect_uri` must be the one sent to /authorize."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return await self._token_request(form, during="code exchange")

    async def refresh(self, refresh_token: str, *, scope: str | None = None) -> TokenSet:
        """Use a refresh token. When the provider issues no new refresh token (no rotation),
        the old one stays valid (RFC 6749 §6) and is carried into the result."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope:
            form["scope"] = scope
        tokens = await self._token_request(form, during="token refresh")
        if tokens.refresh_token is None:
            tokens = dataclasses.replace(tokens, refresh_token=refresh_token)
        return tokens

    async def revoke(self, token: str, *, token_type_hint: str | None = None) -> bool:
        """Revoke a token (RFC 7009 §2.1). False when the provider has no revocation endpoint.

        200 means revoked, including for tokens the provider does not know (§2.2). A §2.2.1
        error raises `OAuthProviderError`; 503 and other failures raise `OAuthUpstreamError`."""
        if not self._provider.revocation_url:
            return False
        form = {"token": token}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        response = await self._post(self._provider.revocation_url, form, during="revocation")
        if response.status_code == 200:
            logger.info("token revoked at provider", extra=log_fields(token_type_hint=token_type_hint))
            return True
        raise self._error_for(response, _read_body(response), during="revocation")

    def _authenticate(self, form: dict[str, str]) -> dict[str, str]:
        """Add client authentication per the provider's method; returns the extra headers."""
        method = self._provider.token_auth_method
        client_id, secret = self._client.client_id, self._client.client_secret or ""
        if method is TokenAuthMethod.CLIENT_SECRET_BASIC:
            # RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        form["client_id"] = client_id
        if method is TokenAuthMethod.CLIENT_SECRET_POST:
            form["client_secret"] = secret
        return {}

    async def _post(self, url: str, form: Mapping[str, str], *, during: str) -> httpx.Response:
        body = dict(form)
        headers = {"Accept": "application/json", **self._authenticate(body)}
        try:
            return await self._http.post(url, data=body, headers=headers)
        except _NOT_SENT as exc:
            logger.warning("provider %s failed: %s", during, type(exc).__name__)
            raise OAuthUpstreamError(
                f"could not reach the provider for the {during}", timeout=isinstance(exc, httpx.TimeoutException)
            ) from None
        except httpx.HTTPError as exc:
            logger.warning("provider %s failed: %s", during, type(exc).__name__)
            raise OAuthUpstreamError(
                f"the provider did not answer the {during}",
                outcome_unknown=True,
                timeout=isinstance(exc, httpx.TimeoutException),
            ) from None

    async def _token_request(self, form: dict[str, str], *, during: str) -> TokenSet:
        form = {**self._provider.token_params, **form}
        response = await self._post(self._provider.token_url, form, during=during)
        body = _read_body(response)
        # Some providers (GitHub) answer errors with 200 and an `error` field.
        if response.status_code != 200 or body is None or "error" in body:
            raise self._error_for(response, body, during=during)
        try:
            tokens = parse_token_response(
                body,
                keep_metadata=self._provider.token_response_metadata,
                default_lifetime_seconds=self._provider.default_token_lifetime_seconds,
            )
        except ValueError:
            raise OAuthUpstreamError(
                f"the provider's {during} answer has no access token", status_code=response.status_code
            ) from None
        logger.info(
            "provider %s succeeded",
            during,
            extra=log_fields(expiry_source=tokens.expiry_source, rotated="refresh_token" in body),
        )
        return tokens

    @staticmethod
    def _error_for(response: httpx.Response, body: dict[str, Any] | None, *, during: str) -> Exception:
        status = response.status_code
        if body and isinstance(body.get("error"), str) and status < 500:
            error = OAuthProviderError(
                body["error"],
                body.get("error_description"),
                error_uri=body.get("error_uri"),
                status_code=status,
                during=during,
            )
            logger.warning(
                "provider rejected the %s", during, extra=log_fields(provider_error=error.error, status=status)
            )
            return error
        logger.warning("provider %s failed", during, extra=log_fields(status=status))
        return OAuthUpstreamError(f"the provider answered the {during} with HTTP {status}", status_code=status)
