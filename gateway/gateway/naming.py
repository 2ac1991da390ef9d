"""lowerCamelCase for credential-form field names, which the catalog spells snake_case.

The connector service names form fields as its catalog does (`cursor_column`, and libpq's
own `sslmode`); REST shows them as `cursorColumn` and `sslMode`, and converts a client's
credential dict back before it goes over gRPC. libpq's run-together names get their
camelCase from `_LIBPQ`, since no rule finds the word boundary in `sslmode`.

During this release a client may still send the snake_case name: it passes unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.alias_generators import to_camel

_LIBPQ = {
    "sslmode": "sslMode",
    "sslcert": "sslCert",
    "sslkey": "sslKey",
    "sslrootcert": "sslRootCert",
    "sslpassword": "sslPassword",
    "sslcrl": "sslCrl",
}
_FROM_CAMEL = {camel: name for name, camel in _LIBPQ.items()}
_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


def camel(name: str) -> str:
    """The REST name of a catalog field name: `cursor_column` -> `cursorColumn`, `sslmode` -> `sslMode`."""
    return _LIBPQ.get(name) or to_camel(name)


def snake(name: str) -> str:
    """The catalog name of a REST field name; a snake_case name (deprecated) passes unchanged."""
    return _FROM_CAMEL.get(name) or _UPPER.sub(lambda found: "_" + found.group(1).lower(), name)


def snake_keys(values: dict[str, Any]) -> dict[str, Any]:
    """A credential dict with catalog names for keys. When both spellings of one field are sent,
    the lowerCamelCase one wins."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = snake(key)
        if name != key or name not in out:
            out[name] = value
    return out
