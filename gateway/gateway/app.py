"""The FastAPI application: routes, error handlers, request context and the
lifespan that owns the one long-lived channel to the connector service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from gateway.connect import api as connect_api
from gateway.connect import pages as connect_pages
from gateway.deps import Runtime
from gateway.edge import RequestEdge
from gateway.envelope import EnvelopeResponse
from gateway.errors import install_error_handlers
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


class GatewayApp(FastAPI):
    """FastAPI behind `RequestEdge` (host, header and body limits, hardening headers), with the
    token read's common shape (`TokenReadRoute`) answered ahead of the middleware stack: the
    hot path skips Starlette's error and exception middlewares and the router, and keeps what
    it needs of them — `RequestContextMiddleware` (request id, echo, access line, 500 envelope)
    wraps it too, and `UcfError`s get the same envelope."""

    token_read: connections.TokenReadRoute | None = None
    edge: RequestEdge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.edge is None:
            await self.dispatch(scope, receive, send)
        else:
            await self.edge(scope, receive, send)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.token_read
        if route is not None and scope["type"] == "http":
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope["app"] = self
                scope.update(child)
                await self._token_read_app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def guard(self, settings: GatewaySettings) -> None:
        self.edge = RequestEdge(
            self.dispatch,
            max_body_bytes=settings.gateway_max_body_bytes,
            max_webhook_body_bytes=settings.gateway_max_webhook_body_bytes,
            max_headers=settings.gateway_max_headers,
            max_header_bytes=settings.gateway_max_header_bytes,
            allowed_hosts=settings.allowed_hosts,
            webhook_path=settings.api_prefix + "/webhooks/{webhook_id}",
            html_pages=self._html_pages(),
        )

    def _html_pages(self) -> tuple[str, ...]:
        """The HTML FastAPI serves at /docs and its OAuth2 redirect (as its `setup` renders them,
        at the root path), for the hashes of their inline scripts."""
        pages = [bytes(get_swagger_ui_oauth2_redirect_html().body).decode()]
        if self.openapi_url and self.docs_url:
            redirect = self.swagger_ui_oauth2_redirect_url
            docs = get_swagger_ui_html(
                openapi_url=self.openapi_url, title=f"{self.title} - Swagger UI", oauth2_redirect_url=redirect,
                init_oauth=self.swagger_ui_init_oauth, swagger_ui_parameters=self.swagger_ui_parameters,
            )  # fmt: skip
            pages.append(bytes(docs.body).decode())
        return tuple(pages)

    def serve_token_reads(self, route: connections.TokenReadRoute) -> None:
        self.token_read = route
        self._token_read_app = RequestContextMiddleware(route.handle)


def create_app(settings: GatewaySettings | None = None, stubs: Stubs | None = None) -> GatewayApp:
    """The gateway. With `stubs`, the caller owns the channel; otherwise the
    lifespan opens one to `settings.connector_address` and closes it on shutdown.
    """
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        channel = None
        if stubs is None:
            channel = grpc.aio.insecure_channel(settings.connector_address, options=_CHANNEL_OPTIONS)
        app.state.runtime = Runtime(
            stubs=stubs if channel is None else Stubs.from_channel(channel),
            rpc_timeout=settings.gateway_rpc_timeout_seconds,
            upstream_rpc_timeout=settings.gateway_upstream_rpc_timeout_seconds,
            health_timeout=settings.gateway_health_timeout_seconds,
        )
        try:
            yield
        finally:
            if channel is not None:
                await channel.close(grace=settings.gateway_shutdown_grace_seconds)

    app = GatewayApp(
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
    )
    app.guard(settings)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    for router in api_routers:
        app.include_router(router, prefix=settings.api_prefix)
    app.include_router(connect_api.router, prefix=settings.api_prefix)
    app.include_router(connect_pages.router)
    # The token read's common shape, answered before the middleware stack (see routes/connections.py).
    app.serve_token_reads(connections.TokenReadRoute(settings.api_prefix))
    install_openapi(app)
    return app
