"""The REST (lowerCamelCase) spelling of a catalog field name, for messages and error details.

The gateway shows credential-form fields as `cursorColumn` and `sslMode` and converts them back
to the catalog's `cursor_column` and libpq's `sslmode` before they reach the connector service
(`gateway/naming.py`). A message the connector service writes about such a field names it the
way the REST client sent it; gRPC callers read the same names, which are also the proto JSON
spelling. libpq's run-together names get their camelCase from `LIBPQ`, since no rule finds the
word boundary in `sslmode`.
"""

from __future__ import annotations

LIBPQ = {
    "sslmode": "sslMode",
    "sslcert": "sslCert",
    "sslkey": "sslKey",
    "sslrootcert": "sslRootCert",
    "sslpassword": "sslPassword",
    "sslcrl": "sslCrl",
}


def camel(name: str) -> str:
    """`cursor_column` -> `cursorColumn`, `sslmode` -> `sslMode`; a camelCase name passes unchanged."""
    if name in LIBPQ:
        return LIBPQ[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_all(names: list[str]) -> list[str]:
    return [camel(name) for name in names]
