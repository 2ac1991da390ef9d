"""A fake provider API for the proxy tests: echoes what it got, serves binary, streamed
and oversized bodies, and echoes the credential back in a header (as some providers do)."""

from __future__ import annotations

import base64

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes._provider import FakeProvider

BINARY = bytes(range(256)) * 1024
CHUNKS = [f"chunk-{i};".encode() * 100 for i in range(20)]


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": base64.b64encode(body).decode(),
        },
        headers={"X-Upstream": "yes", "Set-Cookie": "upstream=1"},
    )


async def binary(request: Request) -> Response:
    return Response(BINARY, media_type="application/octet-stream")


async def streamed(request: Request) -> Response:
    async def chunks():
        for chunk in CHUNKS:
            yield chunk

    return StreamingResponse(chunks(), media_type="text/plain")


async def big(request: Request) -> Response:
    return Response(b"x" * int(request.query_params["size"]), media_type="application/octet-stream")


async def big_stream(request: Request) -> Response:
    size = int(request.query_params["size"])

    async def chunks():
        for _ in range(0, size, 10_000):
            yield b"y" * 10_000

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def echo_auth(request: Request) -> Response:
    return Response(b"ok", headers={"X-Echo-Auth": request.headers.get("authorization", "")})


def upstream() -> FakeProvider:
    app = Starlette(
        routes=[
            Route("/api/binary", binary),
            Route("/api/stream", streamed),
            Route("/api/big", big),
            Route("/api/big-stream", big_stream),
            Route("/api/echo-auth", echo_auth),
            Route("/api/{rest:path}", echo, methods=["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
    return FakeProvider(app)
