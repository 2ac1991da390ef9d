"""Credential lifecycle of a connection: store, read (refreshing first when
due), validate, revoke, delete. The plaintext lives only in the vault; the
connection record gets the non-secret facts and every step is audited.

`Credentials.provide` is the credential provider the resource connectors use. A read
answers the typed credential (`connectors/auth.py`), parsed from the vault payload once
per cache miss.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import httpx
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from connector_service.app import metrics
from connector_service.catalog.providers import Catalog, ProviderSpec
from connector_service.connections import audit
from connector_service.connections.audit import AuditLog
from connector_service.connections.credential_cache import CredentialCache
from connector_service.connections.model import Connection
from connector_service.connections.store import (
    CONNECTED,
    EXPIRED,
    INVALID,
    REFRESH_FAILED,
    REVOKED,
    ConnectionStore,
    wrong_connector,
)
from connector_service.connectors import auth
from connector_service.oauth.clients import OAuthClients
from connector_service.oauth.errors import RefreshFailed, RefreshFailureReason
from connector_service.oauth.refresh import RefreshCoordinator, StoredCredential
from connector_service.oauth.tokens import TokenSet
from connector_service.onboarding.verification import Verdict, fill, verify
from connector_service.platform import wire
from connector_service.vault import kinds
from connector_service.vault.port import VaultPort

log = logging.getLogger("connector_service.credentials")


class VaultTokenStore:
    """The refresh coordinator's `CredentialStore`: OAuth2 token sets in the vault.

    `save` is called only by the process that refreshed, after the provider
    answered, so it is also where the connection record is updated and the
    refresh audited: exactly once per upstream refresh.
    """

    def __init__(self, vault: VaultPort, connections: ConnectionStore, audit_log: AuditLog):
        self._vault = vault
        self._connections = connections
        self._audit = audit_log

    async def load(self, tenant: str, connection_id: str) -> StoredCredential | None:
        try:
            secret = await self._vault.get(tenant, connection_id, kinds.OAUTH2_TOKENS)
        except UcfError as err:
            if err.code is ErrorCode.NOT_FOUND:
                return None
            raise
        return StoredCredential(TokenSet.from_payload(secret.payload), secret.version)

    async def save(self, tenant: str, connection_id: str, tokens: TokenSet, *, expected_version: int) -> int:
        meta = await self._vault.put(
            tenant,
            connection_id,
            kinds.OAUTH2_TOKENS,
            tokens.to_payload(),
            expires_at=tokens.expires_at,
            expected_version=expected_version,
        )
        conn = await self._connections.record_credential(
            tenant,
            connection_id,
            kind="oauth2",
            expires_at=tokens.expires_at,
            scopes=_scopes(tokens.scope),
            refreshed=True,
            system_metadata=dict(tokens.metadata),
        )
        await self._audit.record(
            tenant,
            audit.CREDENTIAL_REFRESHED,
            "success",
            connection_id=connection_id,
            connector_id=conn.connector_id,
            expiry_source=tokens.expiry_source,
        )
        return meta.version


@dataclass(frozen=True)
class CredentialRead:
    """What a read answers: the typed credential, valid now, with the connection it belongs
    to, and whether this read refreshed it."""

    connection: Connection
    credential: auth.Credential
    refreshed: bool = False


def _scopes(scope: str | None) -> list[str]:
    return [s for s in (scope or "").replace(",", " ").split() if s]


class Credentials:
    def __init__(
        self,
        *,
        connections: ConnectionStore,
        vault: VaultPort,
        audit_log: AuditLog,
        catalog: Catalog,
        oauth_clients: OAuthClients,
        http: httpx.AsyncClient,
        refresh_margin_seconds: int,
        coordinator: RefreshCoordinator,
        cache: CredentialCache | None = None,
    ):
        self._connections = connections
        self._vault = vault
        self._audit = audit_log
        self._catalog = catalog
        self._oauth = oauth_clients
        self._http = http
        self._margin = refresh_margin_seconds
        self._coordinator = coordinator
        self._cache = cache if cache is not None else CredentialCache()
        #: Loads in flight, per (tenant, connection): concurrent readers that miss the cache share one.
        self._loading: dict[tuple[str, str], asyncio.Future[CredentialRead]] = {}
        connections.on_change(self._cache.drop)

    def provider(self, connector_id: str) -> ProviderSpec:
        spec = self._catalog.get(connector_id)
        if spec is None:
            raise UcfError(ErrorCode.NOT_FOUND, f"connector {connector_id!r} not found")
        return spec

    def oauth_spec(self, conn: Connection) -> ProviderSpec:
        """The connection's catalog entry with its OAuth endpoints filled from the connect params
        (and token facts) in its system metadata: Okta's `https://{domain}/oauth2/v1/token`."""
        try:
            return self.provider(conn.connector_id).for_connection(conn.system_metadata)
        except (KeyError, ValueError) as err:
            name = err.args[0].split(" ", 1)[0] if isinstance(err, ValueError) else err.args[0]
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION,
                f"the connection has no usable connect parameter {name}; connect it again",
            ) from None

    async def store(
        self,
        tenant_id: str,
        connection: Connection,
        kind: str,
        payload: dict[str, Any],
        *,
        expires_at: datetime | None = None,
        scopes: list[str] | None = None,
        system_metadata: dict[str, Any] | None = None,
    ) -> Connection:
        """Writes the credential to the vault, then marks the connection connected with
        `system_metadata` (the provider-derived facts onboarding found) as its system metadata."""
        cid = connection.id
        try:
            await self._vault.put(tenant_id, cid, kinds.BY_AUTH_MODE[kind], payload, expires_at=expires_at)
        except UcfError as err:
            await self._audit.record(
                tenant_id,
                audit.CREDENTIAL_STORED,
                "failed",
                connection_id=cid,
                connector_id=connection.connector_id,
                kind=kind,
                error=err.code.wire,
            )
            raise
        previous = connection.credential_kind
        if previous and previous != kind:
            await self._delete_secret(tenant_id, cid, previous)
        updated = await self._connections.record_credential(
            tenant_id, cid, kind=kind, expires_at=expires_at, scopes=scopes or [], system_metadata=system_metadata
        )
        await self._audit.record(
            tenant_id,
            audit.CREDENTIAL_STORED,
            "success",
            connection_id=cid,
            connector_id=connection.connector_id,
            kind=kind,
        )
        return updated

    async def discover(
        self, spec: ProviderSpec, tokens: TokenSet, connect: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The system metadata an OAuth2 grant establishes: the token response's kept fields plus
        the facts the provider tells only after consent (the catalog's `connection_metadata`
        request, e.g. the Atlassian cloud id, whose URL may use the `connect` params).
        Upstream failures raise before anything is stored."""
        facts = dict(tokens.metadata)
        request = spec.connection_metadata
        if request is None:
            return facts
        try:
            url = fill(request.url, {**facts, **(connect or {})})
            response = await self._http.get(
                url, headers={"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"}
            )
        except (KeyError, httpx.HTTPError) as exc:
            raise UcfError(
                ErrorCode.UPSTREAM_ERROR, f"could not read connection details: {type(exc).__name__}"
            ) from None
        body = response.json() if response.is_success else None
        if isinstance(body, list):
            body = body[0] if body else None
        if not isinstance(body, dict):
            raise UcfError(
                ErrorCode.UPSTREAM_ERROR,
                "the provider returned no accessible resource for this account",
                {"providerStatus": response.status_code},
            )
        return {**facts, **request.extract(body)}

    async def store_tokens(
        self,
        tenant_id: str,
        connection: Connection,
        tokens: TokenSet,
        facts: dict[str, Any],
        *,
        default_scopes: list[str] | None = None,
    ) -> Connection:
        """Stores an OAuth2 token set with the system metadata `discover` found for it."""
        return await self.store(
            tenant_id,
            connection,
            "oauth2",
            tokens.to_payload(),
            expires_at=tokens.expires_at,
            scopes=_scopes(tokens.scope) or list(default_scopes or []),
            system_metadata=facts,
        )

    async def read(
        self,
        tenant_id: str,
        connection_id: str,
        *,
        force_refresh: bool = False,
        audited: bool = True,
        action: str = audit.CREDENTIAL_USED,
    ) -> CredentialRead:
        """The credential valid now; OAuth2 tokens due within the margin are refreshed first.

        Audited as `action`: `credential.use` for the service's own use, `credential.export` when
        the plaintext goes to the caller. A read refused because the connection is revoked is
        recorded as a denial of that action.

        Served from the `CredentialCache` while an entry is there (see credential_cache.py);
        concurrent readers that miss it share one load (vault read and, when due, refresh) in this
        process instead of queueing one each; every reader is still audited on its own.
        `force_refresh` always goes to the vault and the provider.
        """
        cached = None if force_refresh else self._cache.get(tenant_id, connection_id)
        if cached is not None:
            metrics.credential_read("cache", tenant_id)
            if audited:
                await self._audit.record(
                    tenant_id,
                    action,
                    "success",
                    connection_id=connection_id,
                    connector_id=cached.connection.connector_id,
                    refreshed=False,
                )
            return cached
        try:
            credential = await (
                self._load(tenant_id, connection_id, True)
                if force_refresh
                else self._shared_load(tenant_id, connection_id)
            )
        except UcfError as err:
            if audited and err.details.get("status") == REVOKED:
                await self._audit.record_denial(tenant_id, action, connection_id=connection_id, reason="revoked")
            raise
        if audited:
            await self._audit.record(
                tenant_id,
                action,
                "success",
                connection_id=connection_id,
                connector_id=credential.connection.connector_id,
                refreshed=credential.refreshed,
            )
        return credential

    async def _shared_load(self, tenant_id: str, connection_id: str) -> CredentialRead:
        key = (tenant_id, connection_id)
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(tenant_id, connection_id, False))
            self._loading[key] = loading

            def settled(done: asyncio.Future[CredentialRead]) -> None:
                if self._loading.get(key) is done:
                    del self._loading[key]
                if not done.cancelled():
                    done.exception()  # retrieved here too, in case every reader went away

            loading.add_done_callback(settled)
        # A reader that gives up (deadline) does not cancel the load the others wait for.
        return await asyncio.shield(loading)

    async def _load(self, tenant_id: str, connection_id: str, force_refresh: bool) -> CredentialRead:
        """The vault read (and refresh when due) behind a cache miss; stores the result in the cache."""
        epoch = self._cache.epoch
        conn = await self._connections.get(tenant_id, connection_id)
        if conn.is_revoked:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION, "the connection is revoked; connect it again", {"status": REVOKED}
            )
        kind = conn.credential_kind
        if not kind:
            raise UcfError(
                ErrorCode.FAILED_PRECONDITION, "the connection has no credential yet", {"status": conn.status}
            )
        secret = await self._vault.get(tenant_id, connection_id, kinds.BY_AUTH_MODE[kind])
        metrics.credential_read("vault", tenant_id)
        typed = auth.credential_from_payload(kind, secret.payload)  # the one parse of this cache miss
        if isinstance(typed, auth.OAuth2Credential):
            credential = await self._fresh_tokens(tenant_id, conn, typed, force_refresh)
        elif force_refresh:
            raise UcfError(ErrorCode.FAILED_PRECONDITION, f"a {kind} credential cannot be refreshed")
        else:
            credential = CredentialRead(conn, typed)
        fresh = credential.credential
        expires_at = fresh.tokens.expires_at if isinstance(fresh, auth.OAuth2Credential) else conn.credential_expires_at
        self._cache.put(
            tenant_id,
            connection_id,
            replace(credential, refreshed=False) if credential.refreshed else credential,  # a hit refreshed nothing
            epoch=epoch,
            valid_until=expires_at,
            margin_seconds=self._margin,
            now=wire.now(),
        )
        return credential

    async def _fresh_tokens(
        self, tenant_id: str, conn: Connection, stored_credential: auth.OAuth2Credential, force: bool
    ) -> CredentialRead:
        """The OAuth2 credential read from the vault, refreshed first when due (or `force`)."""
        tokens = stored_credential.tokens
        due = force or tokens.expires_within(self._margin)
        if not due or (not tokens.refresh_token and not force and not tokens.expires_within(0)):
            return CredentialRead(conn, stored_credential)
        cid, connector_id = conn.id, conn.connector_id
        try:
            client = await self._oauth.client(tenant_id, connector_id, self.oauth_spec(conn))
            stored = await self._coordinator.get_fresh(tenant_id, cid, client, margin_seconds=self._margin, force=force)
        except RefreshFailed as err:
            status = EXPIRED if err.reason is RefreshFailureReason.NO_REFRESH_TOKEN else REFRESH_FAILED
            await self._connections.set_status(tenant_id, cid, status, err.message)
            raise
        refreshed = stored.tokens.access_token != tokens.access_token
        if refreshed:
            conn = await self._connections.get(tenant_id, cid)
        return CredentialRead(conn, auth.OAuth2Credential(stored.tokens), refreshed=refreshed)

    async def validate(self, tenant_id: str, connection_id: str) -> tuple[Verdict, Connection]:
        """Checks the credential upstream and records the outcome on the connection."""
        read = await self.read(tenant_id, connection_id, audited=False)
        conn = read.connection
        verdict = await verify(self.provider(conn.connector_id), read.credential, conn.system_metadata, self._http)
        status = CONNECTED if verdict.valid else INVALID
        updated = await self._connections.set_status(
            tenant_id, connection_id, status, "" if verdict.valid else verdict.message, last_validated_at=wire.now()
        )
        await self._audit.record(
            tenant_id,
            audit.CREDENTIAL_VALIDATED,
            "success" if verdict.valid else "failed",
            connection_id=connection_id,
            connector_id=conn.connector_id,
            checked=verdict.checked,
        )
        return verdict, updated

    async def revoke(self, tenant_id: str, connection_id: str) -> tuple[bool, Connection]:
        """Revokes upstream when the provider can (RFC 7009), deletes the secret, marks it revoked.

        Returns whether the provider confirmed the revocation. An upstream failure
        still revokes locally: the secret is gone, and the answer says so.
        """
        conn = await self._connections.get(tenant_id, connection_id)
        kind, connector_id = conn.credential_kind, conn.connector_id
        upstream = False
        if kind == "oauth2" and not conn.is_revoked:
            upstream = await self._revoke_upstream(tenant_id, conn)
        if kind:
            await self._delete_secret(tenant_id, connection_id, kind)
        updated = await self._connections.set_status(
            tenant_id, connection_id, REVOKED, "revoked by request", credential_kind=None, credential_expires_at=None
        )
        await self._audit.record(
            tenant_id,
            audit.CREDENTIAL_REVOKED,
            "success",
            connection_id=connection_id,
            connector_id=connector_id,
            revoked_upstream=upstream,
        )
        return upstream, updated

    async def _revoke_upstream(self, tenant_id: str, conn: Connection) -> bool:
        if not self.provider(conn.connector_id).revocation_url:
            return False
        try:
            spec = self.oauth_spec(conn)
            if not spec.revocation_url:
                return False
            secret = await self._vault.get(tenant_id, conn.id, kinds.OAUTH2_TOKENS)
            tokens = TokenSet.from_payload(secret.payload)
            client = await self._oauth.client(tenant_id, conn.connector_id, spec)
            if tokens.refresh_token:
                return await client.revoke(tokens.refresh_token, token_type_hint="refresh_token")
            return await client.revoke(tokens.access_token, token_type_hint="access_token")
        except UcfError as err:
            log.warning(
                "upstream revocation failed; revoking locally",
                extra=log_fields(connection_id=conn.id, error=err.code.wire),
            )
            return False

    async def delete_all(self, tenant_id: str, connection: Connection) -> None:
        """Removes the connection's secret and its refresh bookkeeping."""
        if connection.credential_kind:
            await self._delete_secret(tenant_id, connection.id, connection.credential_kind)
        await self._coordinator.forget(tenant_id, connection.id)

    async def _delete_secret(self, tenant_id: str, connection_id: str, kind: str) -> None:
        try:
            await self._vault.delete(tenant_id, connection_id, kinds.BY_AUTH_MODE[kind])
        except UcfError as err:
            if err.code is not ErrorCode.NOT_FOUND:
                raise

    async def refresh_rejected(
        self, tenant_id: str, connection_id: str, rejected: auth.Credential
    ) -> auth.OAuth2Credential | None:
        """After the provider answered 401 to `rejected`: the credential with a new access
        token, refreshed under the refresh lease (`force`), or None when the connection is not
        OAuth2, has no refresh token, or the refresh failed (its status then says why). When
        another reader has already replaced the rejected token, that newer token is answered
        without a second refresh."""
        if not isinstance(rejected, auth.OAuth2Credential):
            return None
        try:
            current = (await self.read(tenant_id, connection_id, audited=False)).credential
            if not isinstance(current, auth.OAuth2Credential) or not current.tokens.refresh_token:
                return None
            if current.access_token == rejected.access_token:
                current = (await self.read(tenant_id, connection_id, force_refresh=True)).credential
        except UcfError as err:
            log.info(
                "refresh after a provider 401 failed",
                extra=log_fields(connection_id=connection_id, error=err.code.wire),
            )
            return None
        if not isinstance(current, auth.OAuth2Credential) or current.access_token == rejected.access_token:
            return None
        return current

    async def mark_invalid(self, tenant_id: str, connection_id: str, reason: str) -> None:
        """Records that the provider rejected the credential (e.g. HTTP 401)."""
        await self._connections.set_status(tenant_id, connection_id, INVALID, reason)
        log.info("connection marked invalid", extra=log_fields(connection_id=connection_id))

    async def provide(
        self, tenant_id: str, connection_id: str, connector_id: str
    ) -> tuple[Connection, auth.Credential]:
        """For resource connectors: the connection (with `system_metadata`) and its typed
        credential, refreshed first when due. Another tenant's connection is not_found, like
        a missing one; the tenant's own of another connector is a conflict."""
        # A cached credential carries its (tenant-scoped) connection record, dropped on every write.
        cached = self._cache.get(tenant_id, connection_id)
        conn = cached.connection if cached is not None else await self._connections.get(tenant_id, connection_id)
        if conn.connector_id != connector_id:
            raise wrong_connector(connection_id, conn.connector_id)
        read = await self.read(tenant_id, connection_id)
        return read.connection, read.credential
