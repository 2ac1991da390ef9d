"""The FastAPI application: routes, error handlers, request context and the
lifespan that owns the one long-lived channel to the connector service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI
from ucf_common import tracing

from gateway import docs
from gateway.connect import api as connect_api
from gateway.connect import pages as connect_pages
from gateway.deps import Runtime
from gateway.edge import RequestEdge
from gateway.envelope import EnvelopeResponse
from gateway.errors import install_error_handlers
from gateway.fast_route import FastRoute
from gateway.metrics import METRICS_PATH, HttpMetrics
from gateway.middleware import RequestContextMiddleware
from gateway.routes import api_routers, connections, health
from gateway.rpc import Stubs
from gateway.schemas import install_openapi
from gateway.settings import GatewaySettings

# Fail fast while the connector service is down, and notice quickly when it is back.
_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
)


def html_pages(app: FastAPI) -> tuple[str, ...]:
    """The documentation pages (`gateway.docs`), for the hashes of their inline scripts."""
    return tuple(docs.pages(app).values())


def create_app(settings: GatewaySettings | None = None, stubs: Stubs | None = None) -> FastAPI:
    """The gateway. With `stubs`, the caller owns the channel; otherwise the
    lifespan opens one to `settings.connector_address` and closes it on shutdown.

    Its middleware, outermost first: OpenTelemetry's (when tracing is on), `HttpMetrics`
    (request counts and latency by route template, `/metrics`), `RequestEdge` (limits, allowed
    hosts, hardening headers),
    `RequestContextMiddleware` (request id, access line, 500 envelope), then `FastRoute` with
    the token read's common shape (`connections.TokenReadRoute`), ahead of FastAPI's own
    exception middleware and router that serve everything else.
    """
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channel, served = None, stubs
        if served is None:
            channel = grpc.aio.insecure_channel(settings.connector_address, options=_CHANNEL_OPTIONS)
            served = Stubs.from_channel(channel)
        app.state.runtime = Runtime(
            stubs=served,
            rpc_timeout=settings.gateway_rpc_timeout_seconds,
            upstream_rpc_timeout=settings.gateway_upstream_rpc_timeout_seconds,
            health_timeout=settings.gateway_health_timeout_seconds,
        )
        try:
            yield
        finally:
            if channel is not None:
                await channel.close(grace=settings.gateway_shutdown_grace_seconds)

    app = FastAPI(
        title="Unified Connector Framework",
        version="1.0.0",
        description=(
            "One normalized API over many third-party systems. Authenticate with "
            "`Authorization: Bearer <api key>`; `X-Tenant-Id` is optional and must match the key's tenant. "
            "Every answer is `{ok, data}` or `{ok: false, error: {code, message, details}}`."
        ),
        lifespan=lifespan,
        default_response_class=EnvelopeResponse,
        # Starlette's trailing-slash redirect is absolute, built from the caller's Host header.
        redirect_slashes=False,
        # Served by gateway.docs from installed assets instead of FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry: its metrics and logs go to OTel providers that no process
        # here configures, and its tracing only matters while ours is on (`ucf_common.tracing`).
        # Off, it costs nothing per request: otherwise every request looks the three providers up.
        telemetry={"tracing": tracing.enabled(), "metrics": False, "logs": False},
    )
    docs.install_docs(app)
    install_error_handlers(app)
    app.include_router(health.router)
    for router in api_routers:
        app.include_router(router, prefix=settings.api_prefix)
    app.include_router(connect_api.router, prefix=settings.api_prefix)
    app.include_router(connect_pages.router)
    install_openapi(app)
    # add_middleware puts each one outside those added before it.
    app.add_middleware(FastRoute, route=connections.TokenReadRoute(settings.api_prefix))
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(
        RequestEdge,
        max_body_bytes=settings.gateway_max_body_bytes,
        max_webhook_body_bytes=settings.gateway_max_webhook_body_bytes,
        max_headers=settings.gateway_max_headers,
        max_header_bytes=settings.gateway_max_header_bytes,
        allowed_hosts=settings.allowed_hosts,
        webhook_path=settings.api_prefix + "/webhooks/{webhook_id}",
        html_pages=html_pages(app),
    )
    if settings.gateway_metrics_enabled:
        app.add_middleware(HttpMetrics)
    if tracing.enabled():  # spans per request, the caller's `traceparent` as their parent
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls=METRICS_PATH)
    return app
