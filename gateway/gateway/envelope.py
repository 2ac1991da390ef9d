"""The one response envelope: `{"ok": true, "data": ...}` or
`{"ok": false, "error": {"code", "message", "details"}}`.

Protobuf answers are turned into their JSON mapping once (lowerCamelCase,
int64 as numbers where exact), restated where REST spells things differently from
gRPC (enums as short words and absent when unspecified, `gateway.enums`; credential-form
field names in lowerCamelCase, `gateway.naming`) and serialised once with orjson;
nothing is re-validated on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from starlette.responses import Response
from ucf_common.errors import ErrorCode, UcfError

from gateway import enums, naming

if TYPE_CHECKING:
    from google._upb._message import Descriptor as UpbDescriptor


def descriptor_of(descriptor: Descriptor | UpbDescriptor) -> Descriptor:
    """A message class's `DESCRIPTOR`, which types-protobuf types as either implementation's
    class; at run time the upb one is a `Descriptor` too (its metaclass answers so)."""
    assert isinstance(descriptor, Descriptor)
    return descriptor


# 64-bit integers may be quoted and floats special-cased by the JSON mapping; bytes are base64.
_NOT_PLAIN = frozenset({
    FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_FLOAT,
    FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_BYTES,
})  # fmt: skip


class EnvelopeResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# Fields whose string value is a catalog name that REST shows in lowerCamelCase.
_CAMEL_NAMES = {"ucf.connector.v1.CredentialField": "name"}

# One step of restating a message's JSON: (json name, repeated, what to do) where what is an
# enum descriptor, the steps of a nested message, or `naming.camel`.
Step = tuple[str, bool, Any]


def to_json(message: Message) -> dict[str, Any]:
    """The REST JSON of `message`: its protobuf JSON mapping with every field present, except
    enums at their zero value; enums as their REST words."""
    data = json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=False,
        unquote_int64_if_possible=True,
    )
    steps = _steps(message.DESCRIPTOR)
    if steps:
        _restate(steps, data)
    return data


@cache
def _steps(descriptor: Descriptor, _seen: frozenset[str] = frozenset()) -> tuple[Step, ...]:
    """What differs between the protobuf JSON and the REST JSON of `descriptor`'s messages;
    empty for most (then `to_json` does nothing more)."""
    seen = _seen | {descriptor.full_name}
    steps: list[Step] = []
    for field in descriptor.fields:
        if field.enum_type is not None:
            steps.append((field.json_name, field.is_repeated, field.enum_type))
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            if field.message_type.full_name not in seen:
                nested = _steps(field.message_type, seen)
                if nested:
                    steps.append((field.json_name, field.is_repeated, nested))
        elif _CAMEL_NAMES.get(descriptor.full_name) == field.name:
            steps.append((field.json_name, field.is_repeated, naming.camel))
    return tuple(steps)


def _restate(steps: tuple[Step, ...], data: dict[str, Any]) -> None:
    for name, repeated, what in steps:
        value = data.get(name)
        if value is None:
            continue
        if isinstance(what, tuple):
            for nested in value if repeated else (value,):
                _restate(what, nested)
        elif what is naming.camel:
            data[name] = [naming.camel(v) for v in value] if repeated else naming.camel(value)
        elif repeated:
            data[name] = [word for word in (enums.to_rest(what, v) for v in value) if word is not None]
        else:
            word = enums.to_rest(what, value)
            if word is None:
                del data[name]
            else:
                data[name] = word


def flat_json(message_descriptor: Descriptor | UpbDescriptor) -> Callable[[Message], dict[str, Any]]:
    """A converter equal to `to_json` for messages of `descriptor`, without `MessageToDict`'s
    per-field dispatch: for hot replies whose fields are singular scalars, strings,
    `Timestamp`s or other messages (converted with `to_json`). Like `to_json`, set fields
    come first in field-number order, then the unset fields without presence with their
    defaults (so the bytes orjson writes are the same).
    """
    descriptor = descriptor_of(message_descriptor)
    for field in descriptor.fields:
        if field.is_repeated or field.enum_type is not None or field.type in _NOT_PLAIN:
            raise ValueError(f"{descriptor.full_name}.{field.name} needs MessageToDict")
    timestamps = frozenset(
        field.number for field in descriptor.fields
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.Timestamp"
    )  # fmt: skip
    defaults = tuple((field.json_name, field.default_value) for field in descriptor.fields if not field.has_presence)

    def convert(message: Message) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, value in message.ListFields():
            if field.message_type is None:
                out[field.json_name] = value
            elif field.number in timestamps:
                out[field.json_name] = value.ToJsonString()
            else:
                out[field.json_name] = to_json(value)
        for name, default in defaults:
            if name not in out:
                out[name] = default
        return out

    return convert


def ok_bytes(data: dict[str, Any]) -> bytes:
    """The body `ok(data)` would send."""
    return orjson.dumps({"ok": True, "data": data})


def ok(data: Message | dict[str, Any] | None, status_code: int = 200) -> EnvelopeResponse:
    payload = to_json(data) if isinstance(data, Message) else data
    return EnvelopeResponse({"ok": True, "data": payload}, status_code=status_code)


class SizeRefused(UcfError):
    """An `invalid_request` for something too large: answered 413 (body, message) or 431
    (headers, metadata) instead of the code's 400."""

    def __init__(self, status_code: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, message, details)
        self.status_code = status_code


def failure(err: UcfError, status_code: int | None = None) -> EnvelopeResponse:
    """The error envelope; the HTTP status comes from the error-code table (or `SizeRefused`).
    A `rate_limited` error whose details carry `retryAfterSeconds` also sends it as `Retry-After`."""
    body = {"ok": False, "error": {"code": err.code.wire, "message": err.message, "details": err.details}}
    own = err.status_code if isinstance(err, SizeRefused) else None
    headers = None
    if err.code is ErrorCode.RATE_LIMITED:
        wait = err.details.get("retryAfterSeconds") if isinstance(err.details, dict) else None
        if isinstance(wait, int) and not isinstance(wait, bool) and wait >= 0:
            headers = {"Retry-After": str(wait)}
    return EnvelopeResponse(body, status_code=status_code or own or err.code.http_status, headers=headers)
