"""What every provider fake shares: a real HTTP server on a free loopback port,
request counters, and fault injection.

A fake is a Starlette app wrapped by `FakeProvider`, which records every
request (method, path, query, headers) and can answer the next matching
requests with an injected failure (429 with Retry-After, 401, 500...) before
they reach the app. `serve()` runs uvicorn in a thread and stops it on exit.
"""

from __future__ import annotations

import base64
import functools
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.support.ports import free_port


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    path_contains: str = ""
    times: int = 1


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]


class FakeProvider:
    """ASGI wrapper around a provider app: counts requests and injects faults."""

    def __init__(self, app: Any):
        self.app = app
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self.base_url = ""

    def calls(self, path_contains: str = "", method: str | None = None) -> int:
        """How many requests reached the server (faulted ones included) whose path contains `path_contains`."""
        return sum(1 for s in self.seen if path_contains in s.path and (method is None or s.method == method))

    def counts(self) -> Counter[str]:
        return Counter(f"{s.method} {s.path}" for s in self.seen)

    def fail(
        self, status: int, body: Any, *, headers: dict[str, str] | None = None, path_contains: str = "", times: int = 1
    ) -> None:
        """Answer the next `times` requests whose path contains `path_contains` with this failure."""
        self.faults.append(Fault(status, body, headers or {}, path_contains, times))

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            self.seen.append(Seen(scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers))
            fault = next((f for f in self.faults if f.path_contains in scope["path"]), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                response: Response = (
                    JSONResponse(fault.body, fault.status, headers=fault.headers)
                    if fault.body is not None
                    else Response(status_code=fault.status, headers=fault.headers)
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @contextmanager
    def serve(self) -> Iterator[FakeProvider]:
        """Run on a free 127.0.0.1 port until the block ends; `base_url` is set inside."""
        port = free_port()
        config = uvicorn.Config(self, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"fake-{port}", daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("fake provider failed to start")
            threading.Event().wait(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def bearer_token(headers: Any) -> str | None:
    value = headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


def authed(handler: Any) -> Any:
    """Route decorator: answer the fake's `unauthorized(request)` response when it returns one."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Request) -> Response:
        return self.unauthorized(request) or await handler(self, request)

    return wrapper


def atlassian_auth_failure(
    request: Request, *, cloud_id: str, token: str, email: str, api_token: str, site_failure: Response
) -> Response | None:
    """Atlassian's two ways in: bearer through /ex/<product>/{cloud_id}/..., basic email:token on the site."""
    if "cloud_id" in request.path_params:
        if request.path_params["cloud_id"] != cloud_id:
            return JSONResponse({"code": 404, "message": "Not Found"}, 404)
        if bearer_token(request.headers) == token:
            return None
        return JSONResponse({"code": 401, "message": "Unauthorized"}, 401)
    expected = "Basic " + base64.b64encode(f"{email}:{api_token}".encode()).decode()
    return None if request.headers.get("authorization") == expected else site_failure
