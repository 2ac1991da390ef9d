"""`FastRoute`: one Starlette route answered ahead of FastAPI's router, as plain ASGI middleware.

Added with `app.add_middleware` inside `RequestContextMiddleware` (request id, echo, access line,
500 envelope) and `RequestEdge` (limits, hardening headers), so a request it answers meets those
exactly as every other request does. What it skips are the parts the hot path does not use:
Starlette's exception middleware, FastAPI's exit stacks, the router's scan of every route, the
`Request` object and dependency solving. Its route handles its own errors, and any scope the
route does not fully match goes on to the application unchanged, so FastAPI still answers
every other shape of the same path (its validation, its 405).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send


class FastRoute:
    def __init__(self, app: ASGIApp, route: BaseRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                await self.route.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)
