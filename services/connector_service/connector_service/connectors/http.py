"""The one HTTP path every SaaS connector uses to reach its provider.

`create_http_client()` builds the process-wide `httpx.AsyncClient` (the core
calls it once inside the running loop and closes it at shutdown).
`Upstream` binds that client to one connection's base URL and auth headers,
retries per the context's `RetryPolicy`, and maps provider failures onto the
closed error set. No credential ever reaches a log line or error message:
messages carry the provider name, the HTTP status and the provider's own
error text only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors import rate_limits
from connector_service.connectors.auth import OAuth2Credential
from connector_service.connectors.context import ConnectorContext
from connector_service.platform import destinations, egress
from connector_service.platform.egress import EgressPolicy, GuardedTransport

log = logging.getLogger("ucf.connectors.http")

CREDENTIAL_REJECTED = "credential rejected upstream; connection marked invalid"
_MESSAGE_LIMIT = 300


def create_http_client(
    *,
    max_connections: int = 100,
    max_keepalive_connections: int = 20,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    policy: EgressPolicy | None = None,
) -> httpx.AsyncClient:
    """The shared client: bounded pool, explicit timeouts, no redirects to other hosts.

    With an egress `policy`, every connection dials only addresses the policy permits (see
    `connector_service.platform.egress`), and proxy settings from the environment are not read:
    a proxy would make the connections the policy exists to check.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_keepalive_connections)
    transport = None if policy is None else GuardedTransport(policy, limits)
    return httpx.AsyncClient(
        limits=limits,
        transport=transport,
        trust_env=policy is None,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": "ucf-connector-service/0.1"},
    )


def provider_message(response: httpx.Response) -> str:
    """The provider's own error text, from whichever error body shape it uses.

    Jira: `{"errorMessages": [...], "errors": {field: msg}}`; Confluence v2:
    `{"errors": [{"title", "detail"}]}`; GitHub: `{"message"}`; Salesforce:
    `[{"message", "errorCode"}]`.
    """
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or ""
    parts: list[str] = []
    for entry in body if isinstance(body, list) else [body]:
        if not isinstance(entry, dict):
            continue
        for key in ("message", "errorMessage", "detail", "title"):
            if isinstance(entry.get(key), str) and entry[key]:
                parts.append(entry[key])
                break
        parts.extend(m for m in entry.get("errorMessages", []) if isinstance(m, str))
        errors = entry.get("errors")
        if isinstance(errors, dict):
            parts.extend(f"{k}: {v}" for k, v in errors.items())
        elif isinstance(errors, list):
            parts.extend(provider_message_from(e) for e in errors if isinstance(e, dict))
    return "; ".join(p for p in parts if p)[:_MESSAGE_LIMIT] or (response.reason_phrase or "")


def provider_message_from(entry: Mapping[str, Any]) -> str:
    return str(entry.get("detail") or entry.get("title") or entry.get("message") or "")


class Upstream:
    """HTTP calls for one connection against one API base.

    `base_url` is joined with request paths that start with "/"; absolute
    URLs are refused unless they share the base's origin, so a forged cursor
    cannot send the credential elsewhere.
    """

    def __init__(self, ctx: ConnectorContext, provider: str, base_url: str, headers: Mapping[str, str]):
        self.ctx = ctx
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        try:
            self._origin = httpx.URL(self.base_url).copy_with(path="/", query=None, fragment=None)
        except httpx.InvalidURL:
            raise destinations.unusable_url(subject=f"the {provider} URL of this connection") from None

    def url(self, path: str) -> str:
        if path.startswith("/"):
            return self.base_url + path
        try:
            origin = httpx.URL(path).copy_with(path="/", query=None, fragment=None)
        except httpx.InvalidURL:
            origin = None
        if origin != self._origin:
            raise UcfError(ErrorCode.INVALID_REQUEST, "cursor is not valid for this connection")
        return path

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.request("GET", path, params={k: v for k, v in params.items() if v is not None})
        return response.json()

    async def post(self, path: str, body: Any) -> Any:
        response = await self.request("POST", path, json=body)
        return response.json() if response.content else {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; answer a 2xx response or raise the mapped `UcfError`."""
        policy = self.ctx.retry
        url = self.url(path)
        attempt = 0
        reauthorized = False
        while True:
            attempt += 1
            response: httpx.Response | None = None
            try:
                response = await self.ctx.http.request(
                    method, url, params=params, json=json, headers={**self._headers, **(headers or {})}
                )
            except httpx.ConnectError as exc:
                if refused := egress.refusal(exc):  # a host the egress policy refuses: retrying cannot help
                    raise egress.refused_error(refused, code=ErrorCode.FAILED_PRECONDITION) from None
                if attempt >= policy.max_attempts:
                    raise UcfError(ErrorCode.UPSTREAM_ERROR, f"could not reach {self.provider}") from exc
                await policy.sleep(policy.backoff(attempt))
                continue
            except (httpx.InvalidURL, httpx.UnsupportedProtocol):  # a stored or given URL httpx cannot use
                raise destinations.unusable_url(subject=f"the {self.provider} URL of this connection") from None
            except httpx.TimeoutException as exc:
                if not policy.should_retry(method, attempt, None):
                    raise UcfError(ErrorCode.TIMEOUT, f"{self.provider} did not answer in time") from exc
                await policy.sleep(policy.backoff(attempt))
                continue
            except httpx.HTTPError as exc:
                raise UcfError(ErrorCode.UPSTREAM_ERROR, f"{self.provider} request failed") from exc
            if response.is_success:
                return response
            if response.status_code == 401 and not reauthorized:
                reauthorized = True
                if await self._reauthorized():
                    continue  # one retry with the refreshed token; a second 401 is final
            if policy.should_retry(method, attempt, response):
                wait = policy.delay(attempt, response)
                if wait is not None:
                    log.info("%s answered %s; retry %d in %.2fs", self.provider, response.status_code, attempt, wait)
                    await policy.sleep(wait)
                    continue
            raise await self._error(response)

    async def _reauthorized(self) -> bool:
        """After a 401: whether the context refreshed the credential; the headers then carry the
        new access token in place of the rejected one."""
        old = self.ctx.credential
        fresh = await self.ctx.reauthorized()
        if not isinstance(old, OAuth2Credential) or not isinstance(fresh, OAuth2Credential):
            return False
        if not old.access_token or not fresh.access_token or fresh.access_token == old.access_token:
            return False
        self._headers = {
            name: value.replace(old.access_token, fresh.access_token) for name, value in self._headers.items()
        }
        return True

    async def _error(self, response: httpx.Response) -> UcfError:
        status = response.status_code
        text = provider_message(response)
        if status == 401:
            await self.ctx.on_unauthorized()
            return UcfError(ErrorCode.FAILED_PRECONDITION, CREDENTIAL_REJECTED, {"provider": self.provider})
        if rate_limits.rate_limited(response, self.ctx.rate_limit):
            wait = rate_limits.wait_seconds(response, self.ctx.rate_limit)
            details: dict[str, Any] = {"provider": self.provider}
            if wait is not None:
                details["retryAfter"] = int(wait + 0.999)
            return UcfError(ErrorCode.RATE_LIMITED, f"{self.provider} rate limit reached", details)
        details = {"provider": self.provider, "status": status, "upstream": text}
        if status == 403:
            return UcfError(ErrorCode.FORBIDDEN, f"{self.provider} refused the request: {text}", details)
        if status == 404:
            return UcfError(ErrorCode.NOT_FOUND, f"{self.provider} has no such resource: {text}", details)
        return UcfError(ErrorCode.UPSTREAM_ERROR, f"{self.provider} answered {status}: {text}", details)


def segment(value: str, what: str = "id") -> str:
    """A client-supplied id made safe as one URL path segment (never "..", never a "/")."""
    if not value or value in (".", ".."):
        raise UcfError(ErrorCode.INVALID_REQUEST, f"{what} is required", {"field": what})
    return quote(value, safe="")
