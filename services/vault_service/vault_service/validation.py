"""Request checks shared by the RPCs, and the SecretKind ↔ stored-name mapping.

Stored documents and audit records name kinds by their short lower-case name
(`oauth2_tokens`, `api_key`, ...); the wire uses the `SecretKind` enum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf import json_format, struct_pb2
from ucf.vault.v1 import vault_pb2
from ucf_common.errors import ErrorCode, UcfError

_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")
#: Largest accepted serialized payload; credentials are small, this bounds abuse.
MAX_PAYLOAD_BYTES = 64 * 1024
_PREFIX = "SECRET_KIND_"
_NAMES = {
    value: name.removeprefix(_PREFIX).lower()
    for name, value in vault_pb2.SecretKind.items()
    if value != vault_pb2.SECRET_KIND_UNSPECIFIED
}
#: The enum's values are plain ints at run time; the generated stubs call them `SecretKind`.
_NUMBERS = {name: cast(vault_pb2.SecretKind, value) for value, name in _NAMES.items()}


def kind_name(number: int) -> str | None:
    return _NAMES.get(number)


def kind_number(name: str) -> vault_pb2.SecretKind:
    return _NUMBERS.get(name, vault_pb2.SECRET_KIND_UNSPECIFIED)


@dataclass(frozen=True)
class RefFields:
    """A secret reference as far as it can be printed in an audit record (bounded, maybe invalid)."""

    tenant_id: str | None = None
    owner_id: str | None = None
    kind: str | None = None

    @classmethod
    def of(cls, ref: vault_pb2.SecretRef | None) -> RefFields:
        if ref is None:
            return cls()
        return cls(
            ref.tenant_id[:200] or None,
            ref.owner_id[:200] or None,
            kind_name(ref.kind) or (str(ref.kind) if ref.kind else None),
        )


@dataclass(frozen=True)
class ValidRef:
    tenant_id: str
    owner_id: str
    kind: str


def validate_ref(ref: vault_pb2.SecretRef) -> ValidRef:
    errors = []
    if not _ID.fullmatch(ref.tenant_id):
        errors.append({"field": "ref.tenant_id", "message": "1-200 characters of [A-Za-z0-9._:@/+=-]"})
    if not _ID.fullmatch(ref.owner_id):
        errors.append({"field": "ref.owner_id", "message": "1-200 characters of [A-Za-z0-9._:@/+=-]"})
    kind = kind_name(ref.kind)
    if kind is None:
        errors.append({"field": "ref.kind", "message": "a SecretKind other than SECRET_KIND_UNSPECIFIED"})
    if errors or kind is None:
        raise UcfError(ErrorCode.INVALID_REQUEST, "invalid secret reference", {"errors": errors})
    return ValidRef(ref.tenant_id, ref.owner_id, kind)


def validate_payload(payload: struct_pb2.Struct | None) -> dict[str, Any]:
    if payload is None or not payload.fields:
        raise UcfError(
            ErrorCode.INVALID_REQUEST,
            "payload must be a non-empty object",
            {"errors": [{"field": "payload", "message": "required"}]},
        )
    if payload.ByteSize() > MAX_PAYLOAD_BYTES:
        raise UcfError(
            ErrorCode.INVALID_REQUEST,
            f"payload is larger than {MAX_PAYLOAD_BYTES} bytes",
            {"errors": [{"field": "payload", "message": "too large"}]},
        )
    return json_format.MessageToDict(payload)
