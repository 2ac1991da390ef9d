"""The REST spelling of every proto enum that reaches REST, in one place.

gRPC keeps the proto names (`AUTH_MODE_OAUTH2`); REST speaks the short lowercase word
(`oauth2`), in answers and in request bodies alike. The word is the value's name without
the enum's prefix, lowercased — buf's STANDARD lint (ENUM_VALUE_PREFIX,
ENUM_ZERO_VALUE_SUFFIX) guarantees every value carries the prefix that the zero value
`<PREFIX>UNSPECIFIED` names. The zero value has no REST word: an unspecified enum is
absent from an answer and never accepted in a body.

During this release a body may still use the proto name (`AUTH_MODE_OAUTH2`); it is read
as its word. The docs mark that spelling deprecated.
"""

from __future__ import annotations

from functools import cache

from google.protobuf.descriptor import EnumDescriptor
from ucf.connector.v1 import connectors_pb2

_UNSPECIFIED = "UNSPECIFIED"


@cache
def _prefix(enum: EnumDescriptor) -> str:
    zero = enum.values_by_number[0].name
    if not zero.endswith(_UNSPECIFIED):
        raise ValueError(f"{enum.full_name}: the zero value must be <PREFIX>_UNSPECIFIED, not {zero}")
    return zero[: -len(_UNSPECIFIED)]


@cache
def words_by_name(enum: EnumDescriptor) -> dict[str, str]:
    """Proto value name -> REST word, for every value but the zero one."""
    prefix = _prefix(enum)
    return {value.name: value.name[len(prefix) :].lower() for value in enum.values if value.number != 0}


def words(enum: EnumDescriptor) -> tuple[str, ...]:
    """The REST words of `enum`, in proto order (what OpenAPI lists)."""
    return tuple(words_by_name(enum).values())


def to_rest(enum: EnumDescriptor, name: str) -> str | None:
    """The REST word of a proto value name (as `MessageToDict` writes it); None for the zero
    value (the field is then left out) and for a number the descriptor does not know."""
    return words_by_name(enum).get(name)


def from_rest(enum: EnumDescriptor, text: str) -> str | None:
    """The REST word for `text`: the word itself, or (deprecated) the proto value name.
    None when it is neither, or the zero value."""
    known = words_by_name(enum)
    if text in known.values():
        return text
    return known.get(text)


AUTH_MODE = connectors_pb2.AuthMode.DESCRIPTOR
