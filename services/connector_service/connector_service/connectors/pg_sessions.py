"""Read-only PostgreSQL sessions for the PostgreSQL connector, kept open between calls.

Opening a connection per page would dominate the cost of reading rows, so
sessions are kept per distinct credential (keyed by a hash, never by the
password itself) in a small LRU. Every session starts with
`default_transaction_read_only=on`, a `statement_timeout` and UTC time zone,
so each transaction the connector opens is read-only and bounded whatever SQL
runs in it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.auth import Credential, FormCredential
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import CREDENTIAL_REJECTED
from connector_service.connectors.pg_conninfo import DatabaseSettings, materialized
from connector_service.platform import egress

_AUTH_FAILURES = (
    "password authentication failed",
    "no pg_hba.conf entry",
    'role "',
    "certificate authentication failed",
    "requires a valid client certificate",
    "no password supplied",
)


def connect_kwargs(credential: Credential, statement_timeout_ms: int) -> dict[str, Any]:
    """psycopg connection arguments from the stored credential's `DatabaseSettings`, PEM
    fields still as text; a form that cannot work (or no form) is `failed_precondition`."""
    return {
        **database_settings(credential).conninfo(),
        "connect_timeout": 5,
        "application_name": "ucf-connector",
        "options": f"-c default_transaction_read_only=on -c statement_timeout={statement_timeout_ms} -c TimeZone=UTC",
        "autocommit": True,
    }


def database_settings(credential: Credential) -> DatabaseSettings:
    """The typed PostgreSQL settings of a stored credential; `failed_precondition` naming the
    missing fields for a credential that is not a settings form."""
    if isinstance(credential, FormCredential):
        return credential.database(ErrorCode.FAILED_PRECONDITION)
    return DatabaseSettings.from_form({}, ErrorCode.FAILED_PRECONDITION)


class _Session:
    def __init__(self, conn: psycopg.AsyncConnection):
        self.conn = conn
        self.busy = asyncio.Lock()


class PgSessions:
    """At most `size` idle-or-busy connections, least recently used idle ones closed first.

    One connection serves one transaction at a time (`busy`), so concurrent
    calls on the same credential queue rather than interleave statements.
    """

    def __init__(self, size: int = 16, statement_timeout_ms: int = 15000):
        self.size = size
        self.statement_timeout_ms = statement_timeout_ms
        self._open: OrderedDict[str, _Session] = OrderedDict()
        self._lock = asyncio.Lock()

    @staticmethod
    def _key(kwargs: Mapping[str, Any]) -> str:
        return hashlib.sha256(json.dumps(kwargs, sort_keys=True, default=str).encode()).hexdigest()

    async def _connect(self, ctx: ConnectorContext, kwargs: dict[str, Any]) -> psycopg.AsyncConnection:
        kwargs = await egress.checked_pg_params(kwargs, ErrorCode.FAILED_PRECONDITION)
        try:
            # libpq reads certificate files during the handshake only; they are gone afterwards.
            with materialized(kwargs) as params:
                return await psycopg.AsyncConnection.connect(**params)
        except psycopg.OperationalError as exc:
            # libpq reports connection failures without a SQLSTATE; its message is the only signal.
            if any(marker in str(exc) for marker in _AUTH_FAILURES):
                await ctx.on_unauthorized()
                raise UcfError(ErrorCode.FAILED_PRECONDITION, CREDENTIAL_REJECTED, {"provider": "postgres"}) from None
            raise UcfError(ErrorCode.UPSTREAM_ERROR, "could not reach postgres", {"provider": "postgres"}) from None

    def key(self, ctx: ConnectorContext) -> str:
        """The session key of the context's credential (a hash; never the password itself)."""
        return self._key(connect_kwargs(ctx.credential, self.statement_timeout_ms))

    @asynccontextmanager
    async def transaction(self, ctx: ConnectorContext) -> AsyncIterator[psycopg.AsyncConnection]:
        """A read-only transaction on this credential's session; database errors map to the closed set."""
        async with self._use(ctx, True) as conn:
            yield conn

    @asynccontextmanager
    async def statement(self, ctx: ConnectorContext) -> AsyncIterator[psycopg.AsyncConnection]:
        """This credential's session for one statement, without BEGIN/COMMIT round trips.

        The statement runs in its own implicit transaction, read-only and
        time-bounded like any other (the session's defaults), so use it only for a
        single statement that needs no snapshot shared with another one.
        """
        async with self._use(ctx, False) as conn:
            yield conn

    @asynccontextmanager
    async def _use(self, ctx: ConnectorContext, transaction: bool) -> AsyncIterator[psycopg.AsyncConnection]:
        kwargs = connect_kwargs(ctx.credential, self.statement_timeout_ms)
        key = self._key(kwargs)
        async with self._lock:
            session = self._open.pop(key, None)
            if session is None or session.conn.closed:
                session = _Session(await self._connect(ctx, kwargs))
            self._open[key] = session
            for old_key in [k for k, v in self._open.items() if not v.busy.locked() and k != key]:
                if len(self._open) <= self.size:
                    break
                await self._open.pop(old_key).conn.close()
        async with session.busy:
            try:
                if transaction:
                    async with session.conn.transaction():
                        yield session.conn
                else:
                    yield session.conn
            except psycopg.Error as exc:
                if session.conn.broken:
                    self._open.pop(key, None)
                raise _mapped(exc) from None

    async def aclose(self) -> None:
        async with self._lock:
            for session in self._open.values():
                await session.conn.close()
            self._open.clear()


def _mapped(exc: psycopg.Error) -> UcfError:
    details = {"provider": "postgres", "sqlstate": exc.sqlstate or ""}
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return UcfError(ErrorCode.TIMEOUT, "postgres statement timed out", details)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return UcfError(ErrorCode.FORBIDDEN, "postgres refused access to the table", details)
    if isinstance(exc, psycopg.DataError):
        return UcfError(ErrorCode.INVALID_REQUEST, "value does not fit the column type", details)
    return UcfError(ErrorCode.UPSTREAM_ERROR, f"postgres error {exc.sqlstate or ''}".strip(), details)
