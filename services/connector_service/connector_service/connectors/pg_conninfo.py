"""libpq connection keywords from a PostgreSQL credential, as PostgreSQL offers authentication.

The credential is the form stored in the vault: `{host, port?, database, user, password?,
sslmode?, sslcert?, sslkey?, sslrootcert?, schemas?}`, typed as `DatabaseSettings`. A
password is optional (trust, peer and certificate authentication need none). The
certificate fields hold PEM text; libpq reads certificates only from files, so
`materialized` writes them into a private directory (0700, files 0600) for the duration
of a connect and removes them afterwards. They are never logged, and an error names the field, never its value.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ucf_common.errors import ErrorCode, UcfError
from ucf_common.naming import camel

#: libpq's `sslmode` values (https://www.postgresql.org/docs/current/libpq-ssl.html).
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
#: Credential fields that carry PEM text which libpq wants as a file.
PEM_FIELDS = ("sslcert", "sslkey", "sslrootcert")


def _bad(code: ErrorCode, message: str, field: str) -> UcfError:
    return UcfError(code, message, {"field": field})


@dataclass(frozen=True)
class DatabaseSettings:
    """The PostgreSQL form as typed connection settings. The password and the PEM fields are
    hidden from `repr`; `port` is an int whatever shape the form gave it."""

    host: str
    database: str
    user: str
    port: int = 5432
    password: str | None = field(default=None, repr=False)
    sslmode: str = "prefer"
    sslcert: str | None = field(default=None, repr=False)
    sslkey: str | None = field(default=None, repr=False)
    sslrootcert: str | None = field(default=None, repr=False)
    #: The schemas the connector exposes (the form's `schemas`, a list or comma-separated text).
    schemas: tuple[str, ...] = ("public",)

    @classmethod
    def from_form(cls, form: Mapping[str, Any], code: ErrorCode = ErrorCode.INVALID_REQUEST) -> DatabaseSettings:
        """The settings of a credentials form; a form that cannot work raises `code`
        (`invalid_request` while onboarding, `failed_precondition` for a stored credential)."""
        missing = [name for name in ("host", "database", "user") if not form.get(name)]
        if missing:
            raise UcfError(code, f"missing credential fields: {', '.join(missing)}", {"fields": missing})
        try:
            port = int(form.get("port") or 5432)
        except (TypeError, ValueError):
            raise _bad(code, "port must be a number", "port") from None
        if not 0 < port <= 65535:
            raise _bad(code, "port must be a number from 1 to 65535", "port")
        sslmode = str(form.get("sslmode") or "prefer")
        if sslmode not in SSL_MODES:
            raise _bad(code, f"sslMode must be one of {', '.join(SSL_MODES)}", "sslMode")
        pem = {name: _pem(form.get(name), name, code) for name in PEM_FIELDS}
        if pem["sslrootcert"] and sslmode not in ("verify-ca", "verify-full"):
            # libpq only checks the server against the root certificate in the verify modes.
            raise _bad(code, "sslRootCert needs sslMode verify-ca or verify-full", "sslMode")
        if bool(pem["sslcert"]) != bool(pem["sslkey"]):
            raise _bad(code, "sslCert and sslKey go together", "sslKey" if pem["sslcert"] else "sslCert")
        return cls(
            host=str(form["host"]).strip(),
            database=str(form["database"]),
            user=str(form["user"]),
            port=port,
            password=str(form["password"]) if form.get("password") else None,
            sslmode=sslmode,
            schemas=_schemas(form.get("schemas")),
            **pem,
        )

    def conninfo(self) -> dict[str, Any]:
        """psycopg connection keywords (PEM fields still as text; see `materialized`)."""
        params: dict[str, Any] = {"host": self.host, "port": self.port, "dbname": self.database, "user": self.user}
        if self.password:
            params["password"] = self.password
        params["sslmode"] = self.sslmode
        for name in PEM_FIELDS:
            if value := getattr(self, name):
                params[name] = value
        return params


def _pem(value: Any, name: str, code: ErrorCode) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or "-----BEGIN " not in value:
        raise _bad(code, f"{camel(name)} must be PEM text (-----BEGIN …)", camel(name))
    return value


def _schemas(value: Any) -> tuple[str, ...]:
    schemas = value or ["public"]
    if isinstance(schemas, str):
        schemas = [s.strip() for s in schemas.split(",")]
    return tuple(str(s) for s in schemas if s)


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
