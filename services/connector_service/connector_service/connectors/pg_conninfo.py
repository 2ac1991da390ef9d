"""libpq connection keywords from a PostgreSQL credential, as PostgreSQL offers authentication.

The credential is the form stored in the vault: `{host, port?, database, user, password?,
sslmode?, sslcert?, sslkey?, sslrootcert?}`. A password is optional (trust, peer and
certificate authentication need none). The certificate fields hold PEM text; libpq reads
certificates only from files, so `materialized` writes them into a private directory
(0700, files 0600) for the duration of a connect and removes them afterwards. They are
never logged, and an error names the field, never its value.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.naming import camel

#: libpq's `sslmode` values (https://www.postgresql.org/docs/current/libpq-ssl.html).
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
#: Credential fields that carry PEM text which libpq wants as a file.
PEM_FIELDS = ("sslcert", "sslkey", "sslrootcert")


def _bad(code: ErrorCode, message: str, field: str) -> UcfError:
    return UcfError(code, message, {"field": field})


def conninfo(credential: Mapping[str, Any], code: ErrorCode = ErrorCode.INVALID_REQUEST) -> dict[str, Any]:
    """psycopg keywords (PEM fields still as text) from the form; a bad form raises `code`
    (`invalid_request` while onboarding, `failed_precondition` for a stored credential)."""
    missing = [name for name in ("host", "database", "user") if not credential.get(name)]
    if missing:
        raise UcfError(code, f"missing credential fields: {', '.join(missing)}", {"fields": missing})
    try:
        port = int(credential.get("port") or 5432)
    except (TypeError, ValueError):
        raise _bad(code, "port must be a number", "port") from None
    if not 0 < port <= 65535:
        raise _bad(code, "port must be a number from 1 to 65535", "port")
    params: dict[str, Any] = {
        "host": str(credential["host"]).strip(),
        "port": port,
        "dbname": str(credential["database"]),
        "user": str(credential["user"]),
    }
    if credential.get("password"):
        params["password"] = str(credential["password"])
    sslmode = str(credential.get("sslmode") or "prefer")
    if sslmode not in SSL_MODES:
        raise _bad(code, f"sslMode must be one of {', '.join(SSL_MODES)}", "sslMode")
    params["sslmode"] = sslmode
    for name in PEM_FIELDS:
        value = credential.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or "-----BEGIN " not in value:
            raise _bad(code, f"{camel(name)} must be PEM text (-----BEGIN …)", camel(name))
        params[name] = value
    if "sslrootcert" in params and sslmode not in ("verify-ca", "verify-full"):
        # libpq only checks the server against the root certificate in the verify modes.
        raise _bad(code, "sslRootCert needs sslMode verify-ca or verify-full", "sslMode")
    if ("sslcert" in params) != ("sslkey" in params):
        raise _bad(code, "sslCert and sslKey go together", "sslKey" if "sslcert" in params else "sslCert")
    return params


@contextmanager
def materialized(params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """`params` with each PEM field replaced by the path of a private file holding it; the
    files exist only inside the block. Without PEM fields nothing touches the disk."""
    pem = {name: params[name] for name in PEM_FIELDS if name in params}
    if not pem:
        yield dict(params)
        return
    directory = tempfile.mkdtemp(prefix="ucf-pg-")  # 0700, readable by this process only
    try:
        paths = {}
        for name, text in pem.items():
            path = os.path.join(directory, name + ".pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text)
            paths[name] = path
        yield {**params, **paths}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
