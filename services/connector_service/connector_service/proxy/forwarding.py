"""Forwarding one request to a connection's provider API with its credential applied.

The caller names a connection and a path; everything else that decides where the
request goes comes from the catalog (`base_url` for the connection's auth mode) and
the connection's system metadata and credential, through `catalog.request_auth`.
The credential is read like any other internal use (`Credentials.read`: refreshed first
when due, audited `credential.use`) and put on the request the way the catalog
declares (`apply_request_auth`).

What is forwarded: method, query string, body and the caller's headers except
hop-by-hop ones and anything that authenticates (the caller's `Authorization`,
cookies, API-key headers, and every header or query name the catalog uses for the
credential). What comes back: status, headers without hop-by-hop ones, `Set-Cookie`
and anything carrying the credential, and the body as the provider sent it (raw bytes,
content encoding untouched), streamed, up to `max_response_bytes`.

A provider 401 is handled as the resource connectors handle it: an OAuth2 credential with a
refresh token is refreshed under the refresh lease and the request sent once more; a 401 that
stays (or nothing to refresh) marks the connection `invalid` and goes back as the provider sent it.

Idempotent methods are retried on 429 and 5xx, honouring `Retry-After` within a
bounded total wait; a longer wait is not slept, the provider's answer goes back as is.
Every call is audited `proxy.request` with method, path (never the query), status,
attempts and duration.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

import httpx
from ucf_common.errors import ErrorCode, UcfError, invalid
from ucf_common.logging import log_fields

from connector_service.catalog.providers import ProviderSpec
from connector_service.catalog.request_auth import apply_request_auth, upstream_url
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.credentials import Credentials
from connector_service.connectors.auth import SECRET_NAMES, Credential, RequestAuth
from connector_service.connectors.retry import IDEMPOTENT_METHODS, RETRYABLE_STATUSES, retry_after_seconds
from connector_service.platform import egress

log = logging.getLogger("connector_service.proxy")

PROXY_REQUEST = "proxy.request"
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
#: RFC 9110 §7.6.1 connection-specific headers, plus Host (the upstream's is set by the client).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
#: What a caller may authenticate with; never forwarded (the connection's credential is what counts).
CALLER_AUTH = frozenset(
    {"authorization", "cookie", "x-api-key", "api-key", "x-auth-token", "proxy-authorization", "x-tenant-id"}
)
#: Headers of ours that address this service, not the provider.
_OURS = frozenset({"connection-id", "x-request-id", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"})
_RESPONSE_DROPPED = frozenset({"set-cookie", "set-cookie2", "www-authenticate"})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ProxyRequest:
    connection_id: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class ProxyHead:
    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RetryBudget:
    """A few attempts, and at most `max_wait_seconds` spent waiting between them in all."""

    max_attempts: int = 3
    max_wait_seconds: float = 10.0
    base_delay: float = 0.25


class Proxy:
    def __init__(
        self,
        *,
        credentials: Credentials,
        audit_log: AuditLog,
        http: httpx.AsyncClient,
        max_response_bytes: int,
        retry: RetryBudget | None = None,
    ):
        self._credentials = credentials
        self._audit = audit_log
        self._http = http
        self._max = max_response_bytes
        self._retry = retry or RetryBudget()

    async def forward(self, tenant_id: str, request: ProxyRequest) -> AsyncIterator[ProxyHead | bytes]:
        """Yields the answer's `ProxyHead`, then its body in chunks. Raises `UcfError` for what
        goes wrong on our side or before the provider answered (nothing was yielded then),
        and `upstream_error` when a body without a declared length grows over the limit."""
        started = time.monotonic()
        method = request.method.upper()
        path = "/" + request.path.lstrip("/")
        status, attempts, connector_id = 0, 0, ""
        try:
            if method not in METHODS:
                raise invalid(f"method must be one of {', '.join(sorted(METHODS))}", field="method")
            if not request.connection_id:
                raise invalid("the Connection-Id header is required", field="Connection-Id")
            read = await self._credentials.read(tenant_id, request.connection_id)
            conn, credential = read.connection, read.credential
            connector_id = conn.connector_id
            spec = self._credentials.provider(connector_id)
            target, headers, secrets = _prepared(spec, credential, conn.system_metadata, request)
            response, attempts = await self._send(method, target, headers, request.body)
            if response.status_code == 401:
                response, attempts, secrets = await self._after_unauthorized(
                    tenant_id, request, spec, conn.system_metadata, credential, response, attempts, secrets
                )
            status = response.status_code
            async for part in self._answer(response, secrets):
                yield part
        except UcfError as err:
            await self._audited(tenant_id, request, connector_id, method, path, status, attempts, started, err=err)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            await self._audited(tenant_id, request, connector_id, method, path, status, attempts, started, gone=True)
            raise
        await self._audited(tenant_id, request, connector_id, method, path, status, attempts, started)

    async def _after_unauthorized(
        self,
        tenant_id: str,
        request: ProxyRequest,
        spec: ProviderSpec,
        metadata: Mapping[str, Any],
        rejected: Credential,
        response: httpx.Response,
        attempts: int,
        secrets: set[str],
    ) -> tuple[httpx.Response, int, set[str]]:
        """A provider 401, as the resource connectors treat it: an OAuth2 credential with a
        refresh token is refreshed (under the refresh lease) and the request sent once more with
        the new token; a 401 that stays (or nothing to refresh) marks the connection invalid and
        goes back to the caller as the provider sent it."""
        fresh = await self._credentials.refresh_rejected(tenant_id, request.connection_id, rejected)
        if fresh is not None:
            await response.aclose()
            target, headers, more_secrets = _prepared(spec, fresh, metadata, request)
            secrets = secrets | more_secrets
            response, more = await self._send(request.method.upper(), target, headers, request.body)
            attempts += more
        if response.status_code == 401:
            await self._credentials.mark_invalid(
                tenant_id, request.connection_id, "the provider rejected the credential"
            )
        return response, attempts, secrets

    async def _send(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[httpx.Response, int]:
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            try:
                upstream = self._http.build_request(method, url, headers=headers, content=body or None)
                response = await self._http.send(upstream, stream=True)
            except httpx.HTTPError as exc:
                refused = egress.refusal(exc)
                if refused is not None:
                    raise egress.refused_error(refused, code=ErrorCode.FAILED_PRECONDITION) from None
                if isinstance(exc, httpx.TimeoutException):
                    raise UcfError(ErrorCode.TIMEOUT, "the provider did not answer in time") from None
                raise UcfError(
                    ErrorCode.UPSTREAM_ERROR, f"could not reach the provider: {type(exc).__name__}"
                ) from None
            if (
                response.status_code not in RETRYABLE_STATUSES
                or method not in IDEMPOTENT_METHODS
                or attempt >= self._retry.max_attempts
            ):
                return response, attempt
            asked = retry_after_seconds(response)
            delay = asked if asked is not None else self._retry.base_delay * 2 ** (attempt - 1)
            if waited + delay > self._retry.max_wait_seconds:
                return response, attempt  # the provider's own answer (with its Retry-After) goes back
            await response.aclose()
            await asyncio.sleep(delay)
            waited += delay

    async def _answer(self, response: httpx.Response, secrets: set[str]) -> AsyncIterator[ProxyHead | bytes]:
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max:
                raise _too_large(self._max)
            yield ProxyHead(response.status_code, _response_headers(response.headers.multi_items(), secrets))
            total = 0
            async for chunk in response.aiter_raw(_CHUNK):
                total += len(chunk)
                if total > self._max:
                    raise _too_large(self._max)
                if chunk:
                    yield chunk
        finally:
            await response.aclose()

    async def _audited(
        self,
        tenant_id: str,
        request: ProxyRequest,
        connector_id: str,
        method: str,
        path: str,
        status: int,
        attempts: int,
        started: float,
        *,
        err: UcfError | None = None,
        gone: bool = False,
    ) -> None:
        duration_ms = round((time.monotonic() - started) * 1000)
        facts: dict[str, Any] = {
            "method": method[:16],
            "path": path[:512],
            "status": status,
            "attempts": attempts,
            "duration_ms": duration_ms,
        }
        if err is not None:
            facts["error"] = err.code.wire
        if gone:
            facts["error"] = "caller_gone"
        outcome = audit.SUCCESS if err is None and not gone else audit.outcome_of(err.code) if err else audit.FAILED
        log.info("proxied", extra=log_fields(connection_id=request.connection_id[:64], **facts))
        await self._audit.record(
            tenant_id,
            PROXY_REQUEST,
            outcome,
            connection_id=request.connection_id[:64],
            connector_id=connector_id,
            **facts,
        )


def _too_large(limit: int) -> UcfError:
    return UcfError(
        ErrorCode.UPSTREAM_ERROR,
        f"the provider's answer is larger than the proxy's limit of {limit} bytes (UCF_PROXY_MAX_RESPONSE_BYTES)",
        {"maxResponseBytes": limit},
    )


def _prepared(
    spec: ProviderSpec, credential: Credential, metadata: Mapping[str, Any], request: ProxyRequest
) -> tuple[str, dict[str, str], set[str]]:
    """(upstream URL with query, request headers, secret values to keep out of the answer) for
    `request` sent with `credential` the way the catalog entry declares."""
    values = credential.template_values(metadata)
    try:
        url = upstream_url(spec, credential.kind, values, request.path)
        auth = apply_request_auth(spec, credential, metadata)
    except ValueError as err:
        code = ErrorCode.INVALID_REQUEST if "path" in str(err) else ErrorCode.FAILED_PRECONDITION
        raise UcfError(code, str(err), {"field": "path"} if code is ErrorCode.INVALID_REQUEST else {}) from None
    except KeyError as err:
        raise UcfError(
            ErrorCode.FAILED_PRECONDITION,
            f"the connection has no {err.args[0]} to build the request with; connect it again",
        ) from None
    dropped = CALLER_AUTH | {name.lower() for name in auth.headers}
    headers = _request_headers(request.headers, dropped)
    headers.update(auth.headers)
    query = _query(request.query, set(auth.params), auth.params)
    return url + (f"?{query}" if query else ""), headers, _secret_values(values, credential, auth)


def _secret_values(values: Mapping[str, Any], credential: Credential, auth: RequestAuth) -> set[str]:
    """The credential's secret values and the auth we add, to keep out of anything returned."""
    found = {str(values[name]) for name in SECRET_NAMES if values.get(name)}
    found.update(credential.secret_values())
    found.update(auth.params.values())
    for name, value in auth.headers.items():
        if name.lower() == "authorization":
            found.add(value)
            found.add(value.partition(" ")[2])
    return {value for value in found if len(value) >= 6}


def _request_headers(given: Iterable[tuple[str, str]], dropped: set[str] | frozenset[str]) -> dict[str, str]:
    """The caller's headers a provider may see; `Accept-Encoding` defaults to identity so the
    body comes back as the caller asked for it."""
    given = list(given)
    named_by_connection = {
        token.strip().lower() for name, value in given if name.lower() == "connection" for token in value.split(",")
    }
    headers: dict[str, str] = {}
    for name, value in given:
        key = name.lower()
        if key in HOP_BY_HOP or key in dropped or key in _OURS or key in named_by_connection:
            continue
        if key.startswith(("proxy-", "x-forwarded-")):
            continue
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    headers.setdefault("accept-encoding", "identity")
    return headers


def _query(raw: str, dropped: set[str], added: Mapping[str, str]) -> str:
    """The caller's query string as given, without parameters named like the credential's,
    then the credential's own parameters."""
    kept = [pair for pair in raw.split("&") if pair and unquote_plus(pair.split("=", 1)[0]) not in dropped]
    kept += [f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in added.items()]
    return "&".join(kept)


def _response_headers(items: Iterable[tuple[str, str]], secrets: set[str]) -> tuple[tuple[str, str], ...]:
    kept = []
    for name, value in items:
        key = name.lower()
        if key in HOP_BY_HOP or key in _RESPONSE_DROPPED or key.startswith("proxy-"):
            continue
        if any(secret in value for secret in secrets):
            continue  # a provider echoing the credential back: never in our answer
        kept.append((name, value))
    return tuple(kept)
