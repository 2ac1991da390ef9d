"""Every failure becomes the error envelope, through these handlers only.

- `UcfError` (raised by `Caller` from a failed RPC, or by a route) → its code's HTTP status.
- Request validation (bad JSON, wrong types, unknown fields) → 400 `invalid_request` naming the
  fields; the submitted values are never repeated, since a body may carry a secret.
- Starlette HTTP errors (unknown route, wrong method) → the envelope with their status, in our words.
Unexpected exceptions are answered by `RequestContextMiddleware` (500 `internal`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from google.protobuf.json_format import ParseError
from starlette.exceptions import HTTPException as StarletteHTTPException
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


async def _on_http_error(_: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
    message = _HTTP_MESSAGES.get(exc.status_code, "the request is invalid")
    return failure(UcfError(code, message), status_code=exc.status_code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(UcfError, _on_ucf_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ParseError, _on_parse_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
