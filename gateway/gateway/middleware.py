"""Request context for every HTTP request, as plain ASGI (no per-request task or
body buffering, unlike `BaseHTTPMiddleware`).

It accepts the caller's `X-Request-Id` or makes one, sets it in the logging
context for the whole request, echoes it on every response (errors included),
writes one access line (method, path without query string — an OAuth callback's
query holds a code — status, milliseconds), and turns an unexpected exception
into a 500 `internal` envelope that reveals nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.request_context import accept_request_id, request_id_var

from gateway.envelope import failure

log = logging.getLogger("ucf.gateway.access")

_REQUEST_ID_HEADER = b"x-request-id"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, _REQUEST_ID_HEADER))
        token = request_id_var.set(request_id)
        echoed = (_REQUEST_ID_HEADER, request_id.encode("latin-1"))
        state: dict[str, Any] = {"status": 500, "started": False}
        started_at = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if state["started"]:
                raise
            await failure(UcfError(ErrorCode.INTERNAL, "internal error"))(scope, receive, send_with_id)
        finally:
            if log.isEnabledFor(logging.INFO):
                elapsed_ms = (time.perf_counter() - started_at) * 1000
                log.info("%s %s %d %.1fms", scope["method"], scope["path"], state["status"], elapsed_ms)
            request_id_var.reset(token)
