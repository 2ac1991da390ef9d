"""The one response envelope: `{"ok": true, "data": ...}` or
`{"ok": false, "error": {"code", "message", "details"}}`.

Protobuf answers are turned into their JSON mapping once (lowerCamelCase,
int64 as numbers where exact) and serialised once with orjson; nothing is
re-validated on the way out.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.responses import Response
from ucf_common.errors import UcfError


class EnvelopeResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def to_json(message: Message) -> dict[str, Any]:
    """The protobuf JSON mapping of `message`, with every field present."""
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=False,
        unquote_int64_if_possible=True,
    )


def ok(data: Message | dict[str, Any] | None, status_code: int = 200) -> EnvelopeResponse:
    payload = to_json(data) if isinstance(data, Message) else data
    return EnvelopeResponse({"ok": True, "data": payload}, status_code=status_code)


def failure(err: UcfError, status_code: int | None = None) -> EnvelopeResponse:
    """The error envelope; the HTTP status comes from the error-code table."""
    body = {"ok": False, "error": {"code": err.code.wire, "message": err.message, "details": err.details}}
    return EnvelopeResponse(body, status_code=status_code or err.code.http_status)
