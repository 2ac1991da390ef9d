"""A strict local OAuth2 authorization server for tests.

It behaves like a careful real provider and refuses what RFC 6749 and its companions forbid:

* Authorization endpoint (RFC 6749 §4.1.1–4.1.2): unknown client or a redirect URI that is not
  exactly a registered one → 400 and no redirect (§3.1.2.3, §4.1.2.1; RFC 9700 §4.1.3 exact
  matching). `response_type` other than `code` → `unsupported_response_type`. PKCE (RFC 7636
  §4.4.1): a challenge is required for clients registered with `require_pkce`, and only `S256`
  is accepted (RFC 9700 §2.1.1). Auto-approves (redirect with `code`, `state`, `iss` per RFC 9207
  §2) unless `approve` is False (`error=access_denied`, §4.1.2.1).
* Token endpoint: client authentication exactly as registered (§2.3.1: Basic with
  form-urlencoded id and secret, or body parameters, or `none` with `client_id` only); more than
  one method → `invalid_request` (§2.3); bad credentials → 401 `invalid_client` (§5.2).
  Codes (§4.1.2, §4.1.3) are single-use, expire after `code_lifetime` seconds and are bound to
  the client, the redirect URI and the PKCE challenge; a replayed code also revokes the tokens
  issued from it (§4.1.2). A verifier without a challenge is refused (RFC 9700 §4.8.2).
  Refresh (§6) rotates the refresh token; presenting a rotated-out one is reuse: the whole
  token family is revoked (RFC 9700 §4.14.2) and `reuse_detected` counts it. A narrower
  `scope` is allowed, a wider one is `invalid_scope`. Answers carry `Cache-Control: no-store`
  (§5.1), `expires_in` unless `access_token_lifetime` is None, JWT access tokens (RFC 9068
  shape, HS256) when `jwt_access_tokens` is set, and a form-encoded body instead of JSON when
  `form_encoded_answers` is set (GitHub's default without `Accept: application/json`).
  With `rotate_refresh_tokens=False` a refresh issues no new refresh token and the old one
  stays valid, like providers without rotation.
* Revocation (RFC 7009 §2): client authentication required; a refresh token revokes its
  family, an access token only itself; unknown tokens → 200 (§2.2); another client's token →
  `unauthorized_client`.
* Introspection (RFC 7662 §2) and userinfo (Bearer, RFC 6750 §3.1) tell whether a token works.
* Metadata (RFC 8414) at `/.well-known/oauth-authorization-server`.

`calls` counts handled requests per endpoint (token requests also per grant type);
`fail_next` answers the next requests of an endpoint with an error before they are handled;
`slow` makes an endpoint do its work and then wait before answering, so a client that gives
up early loses a result the server has already committed.

With `tenant` set, every endpoint lives under `/<tenant>/` only (like an Okta org or an Auth0
tenant that picks the authorization server), so a request built for another tenant gets 404.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route

from tests.fakes._provider import FakeProvider

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass
class RegisteredClient:
    client_id: str
    secret: str | None
    redirect_uris: tuple[str, ...]
    auth_method: str = "client_secret_basic"
    require_pkce: bool = True


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    scope: str
    expires_at: float
    used: bool = False
    family: str | None = None


@dataclass
class _Family:
    client_id: str
    scope: str
    revoked: bool = False
    access_tokens: set[str] = field(default_factory=set)


@dataclass
class _Access:
    family: str
    expires_at: float | None
    revoked: bool = False


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None):
        self.error, self.description, self.status, self.headers = error, description, status, headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            self.status,
            headers={**_NO_STORE, **self.headers},
        )


async def _form(request: Request) -> dict[str, str]:
    """The form body; a repeated parameter is refused (RFC 6749 §3.2)."""
    pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
    form = dict(pairs)
    if len(form) != len(pairs):
        raise _OAuthError("invalid_request", "a parameter was sent more than once")
    return form


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class FakeOAuthServer:
    """See the module docstring. Register clients, then `with server.serve(): ...`."""

    def __init__(
        self,
        *,
        access_token_lifetime: int | None = 3600,
        jwt_access_tokens: bool = False,
        code_lifetime: float = 60,
        form_encoded_answers: bool = False,
        extra_token_fields: dict[str, str] | None = None,
        rotate_refresh_tokens: bool = True,
        tenant: str | None = None,
    ):
        self.tenant = tenant
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.access_token_lifetime = access_token_lifetime
        self.jwt_access_tokens = jwt_access_tokens
        self.code_lifetime = code_lifetime
        self.form_encoded_answers = form_encoded_answers
        self.extra_token_fields = dict(extra_token_fields or {})
        self.approve = True
        self.calls: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.reuse_detected = 0
        self.authorization_requests: list[dict[str, str]] = []
        self._clients: dict[str, RegisteredClient] = {}
        self._codes: dict[str, _Code] = {}
        self._families: dict[str, _Family] = {}
        self._refresh: dict[str, tuple[str, bool]] = {}  # token -> (family, rotated out)
        self._access: dict[str, _Access] = {}
        self._delays: dict[str, float] = {}
        self._signing_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        routes: list[BaseRoute] = [
            Route("/authorize", self._authorize, methods=["GET"]),
            Route("/token", self._token, methods=["POST"]),
            Route("/revoke", self._revoke, methods=["POST"]),
            Route("/introspect", self._introspect, methods=["POST"]),
            Route("/userinfo", self._userinfo, methods=["GET"]),
            Route("/.well-known/oauth-authorization-server", self._metadata, methods=["GET"]),
        ]
        self._provider = FakeProvider(Starlette(routes=[Mount(f"/{tenant}", routes=routes)] if tenant else routes))

    # -- test controls -------------------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        *,
        secret: str | None,
        redirect_uris: list[str],
        auth_method: str = "client_secret_basic",
        require_pkce: bool = True,
    ) -> RegisteredClient:
        client = RegisteredClient(client_id, secret, tuple(redirect_uris), auth_method, require_pkce)
        self._clients[client_id] = client
        return client

    @contextmanager
    def serve(self) -> Iterator[FakeOAuthServer]:
        with self._provider.serve():
            yield self

    @property
    def issuer(self) -> str:
        return self._provider.base_url + (f"/{self.tenant}" if self.tenant else "")

    @property
    def base_url(self) -> str:
        """Scheme, host and port, without the tenant."""
        return self._provider.base_url

    def url(self, endpoint: str) -> str:
        """`authorize`, `token`, `revoke`, `introspect` or `userinfo`."""
        return f"{self.issuer}/{endpoint}"

    def catalog_entry(self, provider_id: str = "acme", display_name: str = "Acme") -> str:
        """This server as an operator catalog entry (the YAML under `providers:`), confidential
        client with basic auth, RFC 7009 revocation and RFC 9207 issuer; userinfo proves a token."""
        return f"""
  {provider_id}:
    display_name: {display_name}
    auth_mode: oauth2
    authorization_url: {self.url("authorize")}
    token_url: {self.url("token")}
    revocation_url: {self.url("revoke")}
    issuer: {self.issuer}
    default_scopes: [read, write]
    token_auth_method: client_secret_basic
    verification:
      url: {self.url("userinfo")}
      headers: {{Authorization: "Bearer {{access_token}}"}}
"""

    def fail_next(self, endpoint: str, status: int = 500, body: Any = None, times: int = 1) -> None:
        self._provider.fail(status, body, path_contains=f"/{endpoint}", times=times)

    def slow(self, endpoint: str, seconds: float) -> None:
        """Commit the work, then wait `seconds` before answering (0 turns it off)."""
        self._delays[endpoint] = seconds

    def is_active(self, access_token: str) -> bool:
        with self._lock:
            return self._active(access_token)

    def end_access_tokens(self) -> None:
        """The provider ends every access token it issued before their expiry (as after a
        signing-key rotation); refresh tokens stay valid, so a refresh gets a working one."""
        with self._lock:
            for record in self._access.values():
                record.revoked = True

    def revoke_grants(self) -> None:
        """The user removes the app at the provider: every token family, refresh tokens included."""
        with self._lock:
            for family_id in list(self._families):
                self._revoke_family(family_id)

    # -- endpoints -----------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        self.calls["authorize"] += 1
        q = request.query_params
        self.authorization_requests.append(dict(q))
        client = self._clients.get(q.get("client_id", ""))
        if client is None:
            return PlainTextResponse("unknown client_id", 400)
        redirect_uri = q.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return PlainTextResponse("redirect_uri is not registered for this client", 400)

        def back(**params: str) -> RedirectResponse:
            params = {**params, "iss": self.issuer}
            if q.get("state") is not None:
                params["state"] = q["state"]
            return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", 302)

        if q.get("response_type") != "code":
            return back(error="unsupported_response_type")
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
        if challenge is None and client.require_pkce:
            return back(error="invalid_request", error_description="code_challenge required")
        if challenge is not None and method != "S256":
            return back(error="invalid_request", error_description="only S256 is supported")
        if not self.approve:
            return back(error="access_denied", error_description="the user denied the request")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client.client_id, redirect_uri, challenge, q.get("scope", ""), time.monotonic() + self.code_lifetime
            )
        return back(code=code)

    async def _token(self, request: Request) -> Response:
        self.calls["token"] += 1
        try:
            form = await _form(request)
            client = self._authenticate(request, form)
            grant = form.get("grant_type")
            self.calls[f"token:{grant}"] += 1
            with self._lock:
                if grant == "authorization_code":
                    body = self._exchange_code(client, form)
                elif grant == "refresh_token":
                    body = self._rotate(client, form)
                else:
                    raise _OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
        except _OAuthError as exc:
            self.rejections[exc.error] += 1
            return exc.response()
        await self._delay("token")
        if self.form_encoded_answers:
            return Response(urlencode(body), headers=_NO_STORE, media_type="application/x-www-form-urlencoded")
        return JSONResponse(body, headers=_NO_STORE)

    async def _revoke(self, request: Request) -> Response:
        self.calls["revoke"] += 1
        try:
            form = await _form(request)
            client = self._authenticate(request, form)
            token = form.get("token")
            if not token:
                raise _OAuthError("invalid_request", "token is required")
            with self._lock:
                family_id = self._family_of(token)
                if family_id is not None and self._families[family_id].client_id != client.client_id:
                    raise _OAuthError("unauthorized_client", "the token was issued to another client")
                if token in self._refresh:
                    self._revoke_family(family_id)
                elif token in self._access:
                    self._access[token].revoked = True
        except _OAuthError as exc:
            self.rejections[exc.error] += 1
            return exc.response()
        await self._delay("revoke")
        return Response(status_code=200)

    async def _introspect(self, request: Request) -> Response:
        self.calls["introspect"] += 1
        try:
            form = await _form(request)
            self._authenticate(request, form)
        except _OAuthError as exc:
            return exc.response()
        token = form.get("token", "")
        with self._lock:
            if not self._active(token):
                return JSONResponse({"active": False})
            record = self._access[token]
            family = self._families[record.family]
            return JSONResponse(
                {
                    "active": True,
                    "client_id": family.client_id,
                    "scope": family.scope,
                    "token_type": "Bearer",
                    "exp": int(record.expires_at) if record.expires_at else None,
                }
            )

    async def _userinfo(self, request: Request) -> Response:
        self.calls["userinfo"] += 1
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if not self.is_active(token):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return JSONResponse({"sub": "user-1", "name": "Test User"})

    async def _metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.url("authorize"),
                "token_endpoint": self.url("token"),
                "revocation_endpoint": self.url("revoke"),
                "introspection_endpoint": self.url("introspect"),
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                "authorization_response_iss_parameter_supported": True,
            }
        )

    # -- rules ---------------------------------------------------------------------------

    def _authenticate(self, request: Request, form: dict[str, str]) -> RegisteredClient:
        header = request.headers.get("authorization", "")
        used = []
        if header.lower().startswith("basic "):
            try:
                raw_id, _, raw_secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise _OAuthError("invalid_client", "malformed Basic credentials", 401) from None
            used.append(("client_secret_basic", unquote_plus(raw_id), unquote_plus(raw_secret)))
        if "client_secret" in form:
            used.append(("client_secret_post", form.get("client_id", ""), form["client_secret"]))
        if len(used) > 1:
            raise _OAuthError("invalid_request", "more than one client authentication method")
        method, client_id, secret = used[0] if used else ("none", form.get("client_id", ""), None)
        client = self._clients.get(client_id)
        challenge = {"WWW-Authenticate": 'Basic realm="fake"'} if method == "client_secret_basic" else {}
        if client is None or client.auth_method != method:
            raise _OAuthError("invalid_client", "client authentication failed", 401, challenge)
        if method != "none" and not hmac.compare_digest((client.secret or "").encode(), (secret or "").encode()):
            raise _OAuthError("invalid_client", "client authentication failed", 401, challenge)
        if method == "client_secret_basic" and form.get("client_id") not in (None, client_id):
            raise _OAuthError("invalid_request", "client_id does not match the authenticated client")
        return client

    def _exchange_code(self, client: RegisteredClient, form: dict[str, str]) -> dict[str, Any]:
        grant = self._codes.get(form.get("code", ""))
        if grant is None or grant.client_id != client.client_id:
            raise _OAuthError("invalid_grant", "unknown authorization code")
        if grant.used:
            if grant.family:
                self._revoke_family(grant.family)
            raise _OAuthError("invalid_grant", "authorization code already used")
        grant.used = True
        if time.monotonic() > grant.expires_at:
            raise _OAuthError("invalid_grant", "authorization code expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise _OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = form.get("code_verifier")
        if grant.challenge is None and verifier is not None:
            raise _OAuthError("invalid_grant", "code_verifier sent but no challenge was")
        if grant.challenge is not None and not (
            verifier and _VERIFIER.match(verifier) and hmac.compare_digest(s256(verifier), grant.challenge)
        ):
            raise _OAuthError("invalid_grant", "PKCE verification failed")
        family_id = secrets.token_hex(8)
        self._families[family_id] = _Family(client.client_id, grant.scope)
        grant.family = family_id
        return self._issue(family_id)

    def _rotate(self, client: RegisteredClient, form: dict[str, str]) -> dict[str, Any]:
        entry = self._refresh.get(form.get("refresh_token", ""))
        if entry is None or self._families[entry[0]].client_id != client.client_id:
            raise _OAuthError("invalid_grant", "unknown refresh token")
        family_id, rotated_out = entry
        family = self._families[family_id]
        if rotated_out:
            if not family.revoked:
                self.reuse_detected += 1
                self._revoke_family(family_id)
            raise _OAuthError("invalid_grant", "refresh token reuse detected; the grant is revoked")
        if family.revoked:
            raise _OAuthError("invalid_grant", "the grant was revoked")
        scope = form.get("scope")
        if scope and not set(scope.split()) <= set(family.scope.split()):
            raise _OAuthError("invalid_scope", "the requested scope exceeds the original grant")
        if not self.rotate_refresh_tokens:
            return self._issue(family_id, scope, with_refresh_token=False)
        self._refresh[form["refresh_token"]] = (family_id, True)
        return self._issue(family_id, scope)

    def _issue(self, family_id: str, scope: str | None = None, with_refresh_token: bool = True) -> dict[str, Any]:
        family = self._families[family_id]
        now = time.time()
        expires_at = now + self.access_token_lifetime if self.access_token_lifetime is not None else None
        access = self._jwt(family, now) if self.jwt_access_tokens else "at_" + secrets.token_urlsafe(24)
        self._access[access] = _Access(family_id, expires_at)
        family.access_tokens.add(access)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": scope or family.scope,
            **self.extra_token_fields,
        }
        if with_refresh_token:
            body["refresh_token"] = refresh = "rt_" + secrets.token_urlsafe(24)
            self._refresh[refresh] = (family_id, False)
        if self.access_token_lifetime is not None:
            body["expires_in"] = self.access_token_lifetime
        return body

    def _jwt(self, family: _Family, now: float) -> str:
        def part(obj: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

        claims = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": family.client_id,
            "client_id": family.client_id,
            "iat": int(now),
            "exp": int(now + (self.access_token_lifetime or 3600)),
            "jti": secrets.token_hex(8),
            "scope": family.scope,
        }
        signing_input = f"{part({'alg': 'HS256', 'typ': 'at+jwt'})}.{part(claims)}"
        signature = hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def _family_of(self, token: str) -> str | None:
        if token in self._refresh:
            return self._refresh[token][0]
        if token in self._access:
            return self._access[token].family
        return None

    def _revoke_family(self, family_id: str | None) -> None:
        if family_id is None:
            return
        family = self._families[family_id]
        family.revoked = True
        for token in family.access_tokens:
            self._access[token].revoked = True

    def _active(self, token: str) -> bool:
        record = self._access.get(token)
        if record is None or record.revoked or self._families[record.family].revoked:
            return False
        return record.expires_at is None or record.expires_at > time.time()

    async def _delay(self, endpoint: str) -> None:
        if self._delays.get(endpoint):
            await asyncio.sleep(self._delays[endpoint])
