"""`HttpMetrics`: the gateway's Prometheus metrics and its `/metrics` endpoint, as plain ASGI.

The outermost of the app's middleware (`gateway.app.create_app`). Every request is counted
and timed by method, route template (`/api/connections/{connection_id}/token`, never the raw
path: a path holds ids) and status; a request that matched no route counts as `unmatched`.

`GET /metrics` is answered here, before the request edge and the request context: no
authentication (Prometheus holds no API key), no access line per scrape, no tracing. What it
shows holds no tenant text or secret (see `ucf_common.metrics`); an operator who does not want
it public blocks `/metrics` at the ingress, or turns it off with `GATEWAY_METRICS_ENABLED=false`.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ucf_common.metrics import LATENCY_BUCKETS

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "ucf_http_requests", "HTTP requests answered, by method, route template and status.", ["method", "route", "status"]
)
SECONDS = Histogram(
    "ucf_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

_SCRAPE_HEADERS = [
    (b"content-type", CONTENT_TYPE_LATEST.encode("latin-1")),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


def route_template(scope: Scope) -> str:
    """The template of the route that answered `scope` (FastAPI sets `scope["route"]`)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and scope["method"] in ("GET", "HEAD"):
            await _scrape(scope, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (method, route_template(scope), status)
        children = self._children.get(key)
        if children is None:  # a closed set: methods x templates x statuses
            children = self._children[key] = (REQUESTS.labels(*key[:2], str(status)), SECONDS.labels(*key[:2]))
        children[0].inc()
        children[1].observe(seconds)


async def _scrape(scope: Scope, send: Send) -> None:
    body = generate_latest(REGISTRY)
    headers = [*_SCRAPE_HEADERS, (b"content-length", str(len(body)).encode("latin-1"))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
