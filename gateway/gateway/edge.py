"""What every request meets first, before authentication, routing or body parsing.

`RequestEdge` is plain ASGI, the outermost of the app's middleware (`gateway.app.create_app`;
only Starlette's own `ServerErrorMiddleware`, for errors of the edge itself, sits outside it):

- with `GATEWAY_ALLOWED_HOSTS` set, a request for another `Host` is refused (400);
- more headers than `GATEWAY_MAX_HEADERS`, or more than `GATEWAY_MAX_HEADER_BYTES` of them, get 431;
- a body over the route's limit (`GATEWAY_MAX_BODY_BYTES`, or `GATEWAY_MAX_WEBHOOK_BODY_BYTES` for
  provider deliveries) gets 413: at once when `Content-Length` says so, otherwise as soon as the
  bytes received cross it. A body is read before the application starts, and never more of it
  than the limit, so a refused request costs no parsing and memory stays flat;
- every answer gets `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: no-referrer` and a Content-Security-Policy (the API's denies everything; HTML
  pages — the API docs — may load only what they need).

Refusals are the error envelope with code `invalid_request`, and the request id and access line
of `RequestContextMiddleware`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ucf_common.errors import ErrorCode, UcfError

from gateway.envelope import SizeRefused, failure
from gateway.middleware import RequestContextMiddleware

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#: The hosted Connect page (`/connect...`): its own scripts, styles and images only, forms posted
#: to itself, never framed. `gateway.connect.pages` adds a tenant logo's origin to img-src.
CONNECT_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CONNECT_PREFIX = "/connect"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def html_csp(pages: Iterable[str]) -> bytes:
    """The policy of the HTML `pages` the gateway serves (Swagger UI and ReDoc, `gateway.docs`):
    code, styles, images and the OpenAPI document from the gateway itself ('self') and no other
    origin; the inline scripts of `pages` by hash; styles inline (both tools set them at run
    time); `data:` images (Swagger UI's icons); ReDoc's search in a `blob:` worker it creates
    itself. Nothing else loads; nothing frames them."""
    hashes = sorted({_sha256(script) for page in pages for script in _INLINE_SCRIPT.findall(page)})
    return (
        (
            "default-src 'none'; "
            f"script-src 'self' {' '.join(hashes)}; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        .replace("  ", " ")
        .encode("ascii")
    )


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode("ascii") + "'"


HARDENING_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_HARDENED = frozenset(name for name, _ in HARDENING_HEADERS) | {b"content-security-policy"}


def hardened(headers: Iterable[tuple[bytes, bytes]], page_csp: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` plus each hardening header the response does not set itself (`page_csp` for HTML)."""
    out = list(headers)
    present = {name.lower() for name, _ in out}
    html = any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in out)
    out.extend(header for header in HARDENING_HEADERS if header[0] not in present)
    if b"content-security-policy" not in present:
        out.append((b"content-security-policy", page_csp if html else API_CSP))
    return out


def _host_name(value: str) -> str:
    """The host of a `Host` header, without its port (IPv6 literals keep their brackets)."""
    if value.startswith("["):
        return value[: value.find("]") + 1].lower()
    return value.rsplit(":", 1)[0].lower() if value.count(":") == 1 else value.lower()


class RequestEdge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_webhook_body_bytes: int,
        max_headers: int,
        max_header_bytes: int,
        allowed_hosts: Iterable[str] = (),
        webhook_path: str = "/api/webhooks/{webhook_id}",
        html_pages: Iterable[str] = (),
    ) -> None:
        self.html_csp = html_csp(html_pages)
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_webhook_body_bytes = max_webhook_body_bytes
        self.max_headers = max_headers
        self.max_header_bytes = max_header_bytes
        self.allowed_hosts = tuple(host.strip().lower() for host in allowed_hosts if host.strip())
        self._webhook_path: re.Pattern[str] = compile_path(webhook_path)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        page_csp = CONNECT_CSP if scope["path"].startswith(CONNECT_PREFIX) else self.html_csp

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = hardened(message.get("headers", ()), page_csp)
            await send(message)

        refusal, length, chunked = self._check_headers(scope)
        if refusal is None and (length or chunked):
            limit = self._body_limit(scope)
            if length > limit:
                refusal = _too_large(limit)
            else:
                receive, refusal = await _read_body(receive, limit)
        if refusal is not None:
            await RequestContextMiddleware(failure(refusal))(scope, receive, send_hardened)
            return
        await self.app(scope, receive, send_hardened)

    def _check_headers(self, scope: Scope) -> tuple[UcfError | None, int, bool]:
        """A refusal (or None), the declared Content-Length (0 when absent) and whether the body is chunked."""
        headers = scope["headers"]
        if len(headers) > self.max_headers:
            message = f"more than {self.max_headers} request headers"
            return _headers_refused(message, maxHeaders=self.max_headers), 0, False
        size, host, length, chunked = 0, None, 0, False
        for name, value in headers:
            size += len(name) + len(value)
            if name == b"host":
                host = value
            elif name == b"content-length":
                if not value.isdigit():
                    return UcfError(ErrorCode.INVALID_REQUEST, "the Content-Length header is not a number"), 0, False
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = True
        if size > self.max_header_bytes:
            message = f"the request headers are larger than {self.max_header_bytes} bytes"
            return _headers_refused(message, maxHeaderBytes=self.max_header_bytes), 0, False
        if self.allowed_hosts and not self._host_allowed(host):
            return UcfError(ErrorCode.INVALID_REQUEST, "this host name is not served here"), 0, False
        return None, length, chunked

    def _host_allowed(self, host: bytes | None) -> bool:
        """Entries are exact names, or `*.example.com` for its subdomains (as Starlette's TrustedHostMiddleware)."""
        if host is None:
            return False
        name = _host_name(host.decode("latin-1"))
        for allowed in self.allowed_hosts:
            if allowed == "*" or name == allowed or (allowed.startswith("*.") and name.endswith(allowed[1:])):
                return True
        return False

    def _body_limit(self, scope: Scope) -> int:
        if scope["method"] == "POST" and self._webhook_path.fullmatch(scope["path"]):
            return self.max_webhook_body_bytes
        return self.max_body_bytes


def _headers_refused(message: str, **details: int) -> SizeRefused:
    return SizeRefused(431, message, details)


def _too_large(limit: int) -> SizeRefused:
    return SizeRefused(413, f"the request body is larger than {limit} bytes", {"maxBodyBytes": limit})


async def _read_body(receive: Receive, limit: int) -> tuple[Receive, UcfError | None]:
    """Read the body, counting as it arrives and stopping at `limit`: a receive that replays
    it (then hands over to `receive`), or a refusal once more than `limit` bytes came."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            pending: list[Message] = [message]
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return receive, _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
            break

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay, None
