"""Connecting an account: OAuth2 authorization code + PKCE, or a credentials form.

OAuth2: `connect` stores a single-use session and answers the authorization
URL; `callback` (API caller) or `complete_redirect` (browser, no API key) takes
the session by its state *before* anything else, so a replayed, expired,
foreign or bogus state never reaches the provider's token endpoint.

api_key / basic / credentials: `connect` only lists the fields; `callback`
alone verifies the credential upstream when the provider can, then stores it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlunsplit

import httpx
from ucf_common.errors import ErrorCode, UcfError, invalid
from ucf_common.logging import log_fields
from ucf_common.naming import camel, camel_all

from connector_service.catalog.providers import CredentialFieldSpec, ProviderSpec
from connector_service.catalog.settings import ConnectorSettingsStore, check_redirect_uri, check_scopes
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.credentials import Credentials
from connector_service.connections.model import Connection
from connector_service.connections.store import ConnectionStore
from connector_service.connectors.auth import credential_from_payload
from connector_service.oauth.authorization import (
    build_authorization_request,
    parse_authorization_response,
)
from connector_service.oauth.clients import OAuthClients, endpoints
from connector_service.onboarding.sessions import OAuthSession, OAuthSessionStore
from connector_service.onboarding.verification import verify
from connector_service.platform import destinations, wire

log = logging.getLogger("connector_service.onboarding")

_BAD_STATE = "unknown, expired or already used state; start the connection again"


@dataclass(frozen=True)
class CallbackInput:
    connector_id: str
    workspace_id: str = ""
    method: str = ""
    code: str = ""
    state: str = ""
    iss: str = ""
    error: str = ""
    error_description: str = ""
    api_key: str = ""
    api_secret: str = ""
    credentials: dict[str, Any] | None = None
    name: str = ""
    #: A connect session's end_user/tags/id for the connection (None without a session).
    labels: dict[str, Any] | None = None
    #: The connector's connect params (api_key/basic/credentials; OAuth2 takes them at connect).
    connect_params: dict[str, str] | None = None


class Onboarding:
    def __init__(
        self,
        *,
        credentials: Credentials,
        connections: ConnectionStore,
        sessions: OAuthSessionStore,
        settings: ConnectorSettingsStore,
        oauth_clients: OAuthClients,
        audit_log: AuditLog,
        http: httpx.AsyncClient,
        public_url: str,
    ):
        self._credentials = credentials
        self._connections = connections
        self._sessions = sessions
        self._settings = settings
        self._oauth = oauth_clients
        self._audit = audit_log
        self._http = http
        self._default_redirect = public_url.rstrip("/") + "/api/oauth/callback"

    async def _usable(self, tenant_id: str, connector_id: str, method: str) -> tuple[ProviderSpec, str]:
        spec = self._credentials.provider(connector_id)
        if not (await self._settings.get(tenant_id, connector_id)).enabled:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, f"connector {connector_id!r} is disabled for this tenant")
        method = method or spec.auth_mode
        if method not in spec.auth_modes:
            raise invalid(
                f"connector {connector_id!r} supports {', '.join(spec.auth_modes)}, not {method!r}", field="method"
            )
        return spec, method

    async def connect(
        self,
        tenant_id: str,
        connector_id: str,
        *,
        workspace_id: str,
        method: str,
        redirect_uri: str,
        scopes: list[str],
        return_url: str,
        labels: dict[str, Any] | None = None,
        connect_params: dict[str, str] | None = None,
    ) -> tuple[str, str, str, Any, list[CredentialFieldSpec]]:
        """Returns (method, auth_url, state, expires_at, fields)."""
        spec, method = await self._usable(tenant_id, connector_id, method)
        if method != "oauth2":
            if connect_params:
                checked_connect_params(spec, connect_params)
            return method, "", "", None, spec.form_fields(method)
        connect = checked_connect_params(spec, connect_params)
        if not workspace_id:
            raise invalid("workspaceId is required", field="workspaceId")
        settings = await self._settings.get(tenant_id, connector_id)
        client = await self._oauth.credentials(tenant_id, connector_id, spec, with_secret=False)
        redirect = check_redirect_uri(redirect_uri or settings.redirect_uri or self._default_redirect)
        check_redirect_uri(return_url, "returnUrl")
        chosen = check_scopes(scopes or settings.scopes or spec.default_scopes)
        request = build_authorization_request(
            endpoints(spec.with_connect_values(connect)), client, redirect_uri=redirect, scopes=chosen
        )
        expires_at = self._sessions.expiry()
        await self._sessions.start(
            request.state,
            OAuthSession(
                tenant_id=tenant_id,
                connector_id=connector_id,
                workspace_id=workspace_id,
                redirect_uri=redirect,
                scopes=chosen,
                return_url=return_url,
                name="",
                expires_at=expires_at,
                code_verifier=request.code_verifier,
                labels=labels,
                connect_params=connect,
            ),
        )
        log.info("oauth authorization started", extra=log_fields(connector_id=connector_id, pkce=spec.pkce))
        return "oauth2", request.url, request.state, expires_at, []

    async def callback(self, tenant_id: str, data: CallbackInput) -> tuple[Connection, str]:
        """Finishes onboarding; returns the connection and the return URL given at connect."""
        is_oauth = bool(data.state or data.code or data.error) and data.method in ("", "oauth2")
        if is_oauth:
            await self._usable(tenant_id, data.connector_id, "oauth2")
            if not data.state:
                raise invalid(_BAD_STATE, field="state")
            session = await self._sessions.take(
                data.state, tenant_id=tenant_id, connector_id=data.connector_id, workspace_id=data.workspace_id
            )
            if session is None:
                raise invalid(_BAD_STATE, field="state")
            return await self._finish_oauth(session, data)
        return await self._store_form(tenant_id, data), ""

    async def complete_redirect(self, data: CallbackInput) -> tuple[Connection, str]:
        """The browser-redirect variant: the state alone names tenant, connector and workspace."""
        session = await self._sessions.take(data.state) if data.state else None
        if session is None:
            raise invalid(_BAD_STATE, field="state")
        try:
            return await self._finish_oauth(session, data)
        except UcfError as err:  # the API-key callers' failures are audited by the auth interceptor
            await self._audit.record_denial(
                session.tenant_id,
                audit.ONBOARDING_FAILED,
                outcome=audit.outcome_of(err.code),
                actor="oauth-redirect",
                connector_id=session.connector_id,
                method="CompleteOAuthRedirect",
                code=err.code.wire,
            )
            if session.return_url:
                # The browser goes back where it came from (the app, or the Connect page's result
                # screen) with the reason, instead of stopping on a JSON error.
                raise UcfError(err.code, err.message, {**err.details, "returnUrl": session.return_url}) from None
            raise

    async def _finish_oauth(self, session: OAuthSession, data: CallbackInput) -> tuple[Connection, str]:
        tenant_id, connector_id = session.tenant_id, session.connector_id
        spec = self._credentials.provider(connector_id)
        query = {
            k: v
            for k, v in (
                ("code", data.code),
                ("iss", data.iss),
                ("error", data.error),
                ("error_description", data.error_description),
            )
            if v
        }
        code = parse_authorization_response(query, expected_issuer=spec.issuer)
        connect = session.connect_params
        client = await self._oauth.client(tenant_id, connector_id, spec.with_connect_values(connect))
        tokens = await client.exchange_code(
            code, redirect_uri=session.redirect_uri, code_verifier=session.code_verifier
        )
        facts = {**await self._credentials.discover(spec, tokens, connect), **connect}
        conn = await self._ensure(tenant_id, connector_id, session.workspace_id, "oauth2", data.name, session.labels)
        conn = await self._credentials.store_tokens(tenant_id, conn, tokens, facts, default_scopes=session.scopes)
        return conn, session.return_url

    async def _store_form(self, tenant_id: str, data: CallbackInput) -> Connection:
        method = data.method or ("credentials" if data.credentials else "api_key" if data.api_key else "")
        spec, method = await self._usable(tenant_id, data.connector_id, method)
        if method == "oauth2":
            raise invalid("an OAuth2 callback needs code and state", field="state")
        if not data.workspace_id:
            raise invalid("workspaceId is required", field="workspaceId")
        connect = checked_connect_params(spec, data.connect_params)
        payload = _form_payload(spec, method, data)
        verdict = await verify(spec, credential_from_payload(method, payload), connect, self._http)
        if not verdict.valid:
            raise UcfError(ErrorCode.INVALID_REQUEST, verdict.message, {"reason": "credential_rejected"})
        conn = await self._ensure(tenant_id, data.connector_id, data.workspace_id, method, data.name, data.labels)
        conn = await self._credentials.store(tenant_id, conn, method, payload, system_metadata=connect)
        if verdict.checked:
            conn = await self._connections.update(tenant_id, conn.id, last_validated_at=wire.now())
        return conn

    async def _ensure(
        self, tenant_id: str, connector_id: str, workspace_id: str, mode: str, name: str, labels: dict[str, Any] | None
    ) -> Connection:
        conn, created = await self._connections.ensure(
            tenant_id, connector_id, workspace_id, auth_mode=mode, name=name, labels=labels
        )
        if created:
            await self._audit.record(
                tenant_id,
                audit.CONNECTION_CREATED,
                "success",
                connection_id=conn.id,
                connector_id=connector_id,
                workspace_id=workspace_id,
            )
        elif conn.auth_mode != mode:
            conn = await self._connections.update(tenant_id, conn.id, auth_mode=mode)
        return conn


def checked_connect_params(spec: ProviderSpec, given: dict[str, str] | None) -> dict[str, str]:
    """The connector's connect params with defaults applied; 400 naming the field
    (`connectParams.<name>`) for an unknown name, a missing required one or a malformed value."""
    given = dict(given or {})
    known = {p.name for p in spec.connect_params}
    unknown = sorted(set(given) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise invalid(
            f"unknown connect parameter {unknown[0]!r} (this connector takes: {allowed})",
            field=f"connectParams.{unknown[0]}",
        )
    try:
        values = spec.connect_values(given)
    except ValueError as err:
        name = str(err).split(" ", 1)[0]
        raise invalid(f"connect parameter {err}", field=f"connectParams.{name}") from None
    # An optional param without a default that a URL still needs would leave it unfilled.
    try:
        spec.with_connect_values(values)
    except KeyError as err:
        raise invalid(f"connect parameter {err.args[0]} is required", field=f"connectParams.{err.args[0]}") from None
    return values


def _form_payload(spec: ProviderSpec, method: str, data: CallbackInput) -> dict[str, Any]:
    """The vault payload for a non-OAuth credential, checked against the provider's form."""
    if method == "api_key":
        if not data.api_key:
            raise invalid("apiKey is required", field="apiKey")
        return {"apiKey": data.api_key, **({"apiSecret": data.api_secret} if data.api_secret else {})}
    given = dict(data.credentials or {})
    if method == "basic" and data.api_key and not given:
        given = {"username": data.api_key, "password": data.api_secret}
    fields = spec.form_fields(method)
    known = {f.name for f in fields}
    # Messages name fields as the REST client sent them (`cursorColumn`, `sslMode`).
    unknown = camel_all(sorted(set(given) - known))
    if unknown:
        raise invalid(f"unknown credential fields: {', '.join(unknown)}", fields=unknown)
    missing = camel_all([f.name for f in fields if f.required and given.get(f.name) in (None, "")])
    if missing:
        raise invalid(f"missing credential fields: {', '.join(missing)}", fields=missing)
    for f in fields:
        if f.type == "url" and given.get(f.name) not in (None, ""):
            given[f.name] = base_url(camel(f.name), given[f.name])
    return {k: v for k, v in given.items() if v not in (None, "")}


def base_url(name: str, value: Any) -> str:
    """An http(s) URL naming a host (`destinations.http_url`), without query, fragment or trailing slash."""
    parts = destinations.http_url(value, name)
    if parts.query or parts.fragment:
        raise invalid(
            f"{name} must be an http(s) URL such as https://example.atlassian.net, without ? or #", field=name
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
