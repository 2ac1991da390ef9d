"""OpenAPI documentation of the responses, derived from the protobuf messages.

Responses are the protobuf JSON mapping of the connector service's replies, so
their schemas are generated from the same descriptors instead of being
restated as pydantic models (which would also cost a validation per response).
Routes reference `#/components/schemas/<proto full name>`; `install_openapi`
fills those components in when the document is built, and replaces FastAPI's
422 validation answer with the 400 error envelope the gateway really sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from ucf_common.errors import ErrorCode

from gateway import enums

if TYPE_CHECKING:
    from google._upb._message import Descriptor as UpbDescriptor

_REF = "#/components/schemas/"
_ERROR = "ErrorEnvelope"
_INTEGER = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}  # fmt: skip
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "example": "1.5s"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
}


def _scalar(field: FieldDescriptor) -> dict[str, Any]:
    if field.message_type is not None:
        name = field.message_type.full_name
        return dict(_WELL_KNOWN.get(name) or {"$ref": _REF + name})
    if field.enum_type is not None:
        # REST words only; an unspecified enum is absent from the answer (see gateway.enums).
        return {"type": "string", "enum": list(enums.words(field.enum_type))}
    if field.type == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type in _INTEGER:
        return {"type": "integer"}
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return {"type": "number"}
    if field.type == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    return {"type": "string"}


def _field(field: FieldDescriptor) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return {"type": "object", "additionalProperties": _scalar(field.message_type.fields_by_name["value"])}
    if field.is_repeated:
        return {"type": "array", "items": _scalar(field)}
    return _scalar(field)


def message_schema(descriptor: Descriptor) -> dict[str, Any]:
    """The JSON schema of a message's protobuf JSON mapping (lowerCamelCase)."""
    return {
        "type": "object",
        "title": descriptor.name,
        "properties": {field.json_name: _field(field) for field in descriptor.fields},
    }


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ok", "data"],
        "properties": {"ok": {"type": "boolean", "enum": [True]}, "data": data},
    }


def _content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def reply(
    descriptor: Descriptor | UpbDescriptor, status: int = 200, description: str = "Success"
) -> dict[int | str, Any]:
    """`responses=` for a route whose `data` is one message."""
    return {status: _content(_envelope({"$ref": _REF + descriptor.full_name}), description)}


def reply_page(descriptor: Descriptor | UpbDescriptor) -> dict[int | str, Any]:
    """`responses=` for a list route: `data` is `{items, next}`; an empty `next` ends the list."""
    page = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": _REF + descriptor.full_name}},
            "next": {"type": "string", "description": "Cursor of the next page; empty on the last page."},
        },
    }
    return {200: _content(_envelope(page), "One page")}


def _error_envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ok", "error"],
        "properties": {
            "ok": {"type": "boolean", "enum": [False]},
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "example": "not_found"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
            },
        },
    }


def _add_message_components(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    pool = descriptor_pool.Default()
    pending = [ref for ref in _refs(document) if ref not in schemas]
    while pending:
        name = pending.pop()
        if name in schemas:
            continue
        schemas[name] = message_schema(pool.FindMessageTypeByName(name))
        pending.extend(ref for ref in _refs(schemas[name]) if ref not in schemas)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        found = [ref[len(_REF) :]] if isinstance(ref, str) and ref.startswith(_REF + "ucf.") else []
        return found + [name for value in node.values() for name in _refs(value)]
    if isinstance(node, list):
        return [name for value in node for name in _refs(value)]
    return []


# Statuses the gateway itself answers beside the error-code table's: wrong method (with
# `Allow`), body too large, headers too large.
_EDGE_STATUSES = {
    405: ("invalid_request", "this method is not allowed on this endpoint"),
    413: ("invalid_request", "the request body is too large"),
    431: ("invalid_request", "the request headers are too large"),
}


def _error_statuses() -> dict[int, tuple[str, str]]:
    statuses = {code.http_status: (code.wire, code.wire.replace("_", " ")) for code in reversed(ErrorCode)}
    return dict(sorted({**statuses, **_EDGE_STATUSES}.items()))


def _error_response(status: int, wire: str, message: str) -> dict[str, Any]:
    example = {"ok": False, "error": {"code": wire, "message": message, "details": {}}}
    answer: dict[str, Any] = {
        "description": f"Error envelope ({wire})",
        "content": {"application/json": {"schema": {"$ref": _REF + _ERROR}, "example": example}},
    }
    if status == 405:
        answer["headers"] = {"Allow": {"description": "The methods this path serves", "schema": {"type": "string"}}}
    if status == 429:
        answer["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return answer


def _example(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    """A small value that matches `schema` (for operations that document no example)."""
    if "$ref" in schema:
        name = schema["$ref"][len(_REF) :]
        return _example(schemas[name], schemas) if name in schemas else {}
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {name: _example(value, schemas) for name, value in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    return {"string": "", "boolean": False, "integer": 0, "number": 0}.get(str(kind), schema.get("example"))


def _add_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                media = answer.get("content", {}).get("application/json") if status.startswith("2") else None
                if media is not None and "example" not in media and "schema" in media:
                    media["example"] = _example(media["schema"], schemas)


def _use_error_envelope(document: dict[str, Any]) -> None:
    error = _content({"$ref": _REF + _ERROR}, "Error envelope")
    statuses = _error_statuses()
    components = document.setdefault("components", {}).setdefault("responses", {})
    for status, (wire, message) in statuses.items():
        components[f"Error{status}"] = _error_response(status, wire, message)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if responses.pop("422", None) is not None:
                responses["400"] = _content(
                    {"$ref": _REF + _ERROR}, "Invalid request (field details, values not echoed)"
                )
            for status in statuses:
                responses.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
            responses.setdefault("default", error)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[_ERROR] = _error_envelope()


def install_openapi(app: FastAPI) -> None:
    """Build the document once, on first request of /openapi.json (or generate_openapi)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _use_error_envelope(document)
            _add_message_components(document)
            _add_examples(document)
            document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
