"""Every failure becomes the error envelope, through these handlers only.

- `UcfError` (raised by `Caller` from a failed RPC, or by a route) → its code's HTTP status.
- Request validation (bad JSON, wrong types, unknown fields) → 400 `invalid_request` naming the
  fields; the submitted values are never repeated, since a body may carry a secret.
- Starlette HTTP errors (unknown route, wrong method) → the envelope with their status, in our words.
Unexpected exceptions are answered by `RequestContextMiddleware` (500 `internal`).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from google.protobuf.json_format import ParseError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, compile_path, get_route_path
from ucf_common.errors import ErrorCode, UcfError

from gateway.envelope import EnvelopeResponse, failure

_HTTP_CODES = {code.http_status: code for code in ErrorCode}
# Starlette's own words stay out of answers, like every library's.
_HTTP_MESSAGES = {404: "no such endpoint", 405: "this method is not allowed on this endpoint"}


def field_errors(errors: Any) -> list[dict[str, str]]:
    """Where and why each field failed: location, dotted field path, message, type. No `input`."""
    out = []
    for error in errors:
        location, *path = error.get("loc") or ("body",)
        if error.get("type") == "json_invalid":
            where = f" at character {path[0]}" if path else ""
            out.append(
                {"location": str(location), "field": "", "message": f"not valid JSON{where}", "type": "json_invalid"}
            )
            continue
        out.append(
            {
                "location": str(location),
                "field": ".".join(str(part) for part in path),
                "message": str(error.get("msg", "invalid value")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return out


async def _on_ucf_error(_: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, UcfError)
    return failure(exc)


async def _on_validation_error(_: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, RequestValidationError)
    fields = field_errors(exc.errors())
    return failure(UcfError(ErrorCode.INVALID_REQUEST, "the request is invalid", {"fields": fields}))


async def _on_parse_error(_: Request, exc: Exception) -> EnvelopeResponse:
    # json_format messages can quote the offending value: say only that the shape is wrong.
    return failure(UcfError(ErrorCode.INVALID_REQUEST, "the request does not match the API contract"))


async def _on_http_error(request: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
    message = _HTTP_MESSAGES.get(exc.status_code, "the request is invalid")
    answer = failure(UcfError(code, message), status_code=exc.status_code)
    if exc.status_code == 405:
        answer.headers["Allow"] = ", ".join(allowed_methods(request))
    return answer


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """The methods of the request's path (RFC 9110 `Allow`), as the OpenAPI document lists them.
    Starlette's own 405 names only the first route of the path, though several may share it
    (GET and DELETE). Where a literal path and a templated one both match (`/connections/token`
    and `/connections/{connection_id}`), the path with fewer parameters is the resource. Paths
    outside the document (the docs pages) fall back to the routes that serve them."""
    path = get_route_path(request.scope)
    documented = [
        (template.count("{"), methods)
        for template, pattern, methods in _documented_paths(request.app)
        if pattern.fullmatch(path)
    ]
    if documented:
        fewest = min(params for params, _ in documented)
        return sorted({method for params, methods in documented if params == fewest for method in methods})
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def _documented_paths(app: Any) -> list[tuple[str, re.Pattern[str], tuple[str, ...]]]:
    cached = getattr(app.state, "documented_paths", None)
    if cached is None:
        cached = [
            (template, compile_path(template)[0], tuple(method.upper() for method in operations))
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.documented_paths = cached
    return cached


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UcfError, _on_ucf_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ParseError, _on_parse_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
