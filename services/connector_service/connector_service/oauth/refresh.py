"""Cross-process token refresh: however many readers in however many processes find a
credential near expiry, exactly one of them calls the provider.

How it works:

* A reader whose credential expires within the margin (or who forces a refresh) tries to take
  the lease for (tenant, connection) in `token_refresh_leases` (see `_lease.py`). The holder
  re-reads the credential (someone may have just refreshed it), writes an *in-flight marker*
  naming the credential it is refreshing, calls the provider, stores the new credential with
  `expected_version` (so a rotated refresh token is persisted before any reader sees the new
  access token), then clears the marker, bumps `refreshes` and releases the lease.
* Everyone else polls the lease document with jittered backoff. When `refreshes` moves they
  read the store; when the lease is free or expired they try to take it themselves. A waiter
  whose wait outlasts `wait_seconds` gets `unavailable`.
* The holder runs as its own task, shielded from the reader's cancellation (e.g. a gRPC
  deadline), so a started refresh is always stored or recorded as failed.

A refresh whose answer was lost — the process died, the store write failed, or the connection
broke after the request was sent — is the dangerous case with refresh-token rotation and reuse
detection (RFC 9700 §4.14.2): the provider may already have replaced the refresh token we hold,
and presenting the old one again makes it revoke the whole token family. So the next holder
that finds an in-flight marker for the credential still in the store does **not** replay it:
it records a permanent `result_lost` failure, and every reader of that credential gets
`RefreshFailed` (the caller marks the connection `refresh_failed`; the user reconnects, which
stores a new credential the marker no longer applies to). The one exception: when the last
successful refresh showed the provider does *not* rotate refresh tokens, the old one is still
valid and is used again. A provider rejection of the refresh token (`invalid_grant`) is also
recorded as permanent, so the dead token is not sent again; other failures are transient and
only shared with the readers that were already waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import ErrorCode, UcfError, not_found
from ucf_common.logging import log_fields

from connector_service.app import metrics
from connector_service.oauth._lease import (
    LEASES_COLLECTION,
    Failure,
    LeaseState,
    LeaseTable,
    fingerprint,
)
from connector_service.oauth.errors import (
    OAuthProviderError,
    OAuthUpstreamError,
    RefreshFailed,
    RefreshFailureReason,
)
from connector_service.oauth.tokens import TokenSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredCredential:
    tokens: TokenSet
    version: int


class CredentialVersionConflict(Exception):
    """The stored credential is no longer at the expected version."""


class CredentialStore(Protocol):
    """Where credentials live (the vault in production)."""

    async def load(self, tenant: str, connection_id: str) -> StoredCredential | None:
        """The current credential and its version, or None when there is none."""

    async def save(self, tenant: str, connection_id: str, tokens: TokenSet, *, expected_version: int) -> int:
        """Replace the credential only if it is still at `expected_version`; return the new
        version. Raise `CredentialVersionConflict` (or `UcfError` with code CONFLICT) otherwise."""


class TokenRefresher(Protocol):
    """Calls the provider's token endpoint; `OAuthClient` is one."""

    async def refresh(self, refresh_token: str, *, scope: str | None = None) -> TokenSet: ...


def _changed(a: StoredCredential, b: StoredCredential) -> bool:
    return a.version != b.version or a.tokens.refresh_token != b.tokens.refresh_token


def _is_conflict(exc: Exception) -> bool:
    return isinstance(exc, CredentialVersionConflict) or (isinstance(exc, UcfError) and exc.code is ErrorCode.CONFLICT)


def _failure_error(failure: Failure) -> UcfError:
    if failure.permanent:
        reason = RefreshFailureReason(failure.reason)
        return RefreshFailed(
            reason,
            _MESSAGES[reason],
            provider_error=failure.provider_error,
            provider_error_description=failure.provider_error_description,
        )
    if failure.provider_error:
        return OAuthProviderError(failure.provider_error, failure.provider_error_description, during="token refresh")
    return OAuthUpstreamError("the token refresh failed upstream; try again later")


_MESSAGES = {
    RefreshFailureReason.PROVIDER_REJECTED: "the provider rejected the refresh token; reconnect the account",
    RefreshFailureReason.RESULT_LOST: "the result of a token refresh was lost; reconnect the account",
    RefreshFailureReason.NO_REFRESH_TOKEN: "the credential has expired and has no refresh token",
}


class RefreshCoordinator:
    """One per process (tests make several to act as several processes).

    `lease_seconds` must exceed the token endpoint's HTTP timeout plus a store write, or a slow
    holder's refresh is taken for lost. `db` is the connector service's database.
    """

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        store: CredentialStore,
        *,
        owner_id: str | None = None,
        lease_seconds: float = 30.0,
        wait_seconds: float | None = None,
        poll_initial_seconds: float = 0.02,
        poll_max_seconds: float = 0.5,
        save_attempts: int = 3,
    ):
        self.owner_id = owner_id or f"refresher-{uuid.uuid4().hex[:12]}"
        self._leases = LeaseTable(db[LEASES_COLLECTION], self.owner_id, lease_seconds)
        self._store = store
        self._wait_seconds = wait_seconds if wait_seconds is not None else 2 * lease_seconds + 5
        self._poll_initial = poll_initial_seconds
        self._poll_max = poll_max_seconds
        self._save_attempts = save_attempts
        self._holders: set[asyncio.Task[StoredCredential]] = set()

    async def get_fresh(
        self,
        tenant: str,
        connection_id: str,
        refresher: TokenRefresher,
        *,
        margin_seconds: float = 300,
        force: bool = False,
    ) -> StoredCredential:
        """The credential, refreshed first when it expires within `margin_seconds` or `force`.

        Raises `not_found` without a credential, `RefreshFailed` when it cannot be refreshed any
        more, `OAuthProviderError`/`OAuthUpstreamError` for other provider failures (unless the
        current access token is still valid and the refresh was not forced: then that token is
        returned), and `unavailable` when another process's refresh does not finish in time.
        """
        current = await self._store.load(tenant, connection_id)
        if current is None:
            raise not_found("credential", connection_id)
        if not force and not current.tokens.expires_within(margin_seconds):
            return current
        try:
            return await self._coordinate(LeaseTable.key(tenant, connection_id), current, refresher, connection_id)
        except OAuthUpstreamError:
            if not force and not current.tokens.expires_within(0):
                logger.warning(
                    "token refresh failed; serving the still-valid token", extra=log_fields(connection_id=connection_id)
                )
                return current
            raise

    async def wait_idle(self) -> None:
        """Wait for refreshes this process started to be stored or recorded as failed, even
        those whose readers went away; call it on shutdown before closing the database."""
        while self._holders:
            await asyncio.gather(*self._holders, return_exceptions=True)

    async def forget(self, tenant: str, connection_id: str) -> None:
        """Drop the lease document, e.g. when the connection is deleted."""
        await self._leases.forget(LeaseTable.key(tenant, connection_id))

    async def _coordinate(
        self, key: dict[str, str], current: StoredCredential, refresher: TokenRefresher, connection_id: str
    ) -> StoredCredential:
        started = datetime.now(UTC)
        deadline = time.monotonic() + self._wait_seconds
        fp = fingerprint(current.tokens.refresh_token)
        delay = self._poll_initial
        seen_refreshes: int | None = None
        while True:
            lease = await self._leases.acquire(key)
            if lease is not None:
                holder = asyncio.ensure_future(self._hold(key, lease, current, refresher, connection_id))
                self._holders.add(holder)
                holder.add_done_callback(self._holders.discard)
                return await asyncio.shield(holder)
            state = await self._leases.read(key)
            if state is not None:
                if seen_refreshes is None:
                    seen_refreshes = state.refreshes
                elif state.refreshes != seen_refreshes:
                    latest = await self._store.load(key["tenant"], key["connection"])
                    if latest is not None and _changed(latest, current):
                        return latest
                failure = state.failure
                if failure and failure.applies_to(current.version, fp) and (failure.permanent or failure.at >= started):
                    raise _failure_error(failure)
            if time.monotonic() > deadline:
                raise UcfError(ErrorCode.UNAVAILABLE, "a token refresh running elsewhere did not finish in time")
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 1.6, self._poll_max)

    async def _hold(
        self,
        key: dict[str, str],
        lease: LeaseState,
        current: StoredCredential,
        refresher: TokenRefresher,
        connection_id: str,
    ) -> StoredCredential:
        """Refresh as the lease holder; always leaves the lease released or expiring."""
        fields = log_fields(connection_id=connection_id, owner=self.owner_id)
        try:
            latest = await self._store.load(key["tenant"], key["connection"])
            if latest is None:
                raise not_found("credential", connection_id)
            if _changed(latest, current):
                return latest  # refreshed (or reconnected) while we were getting here
            fp = fingerprint(latest.tokens.refresh_token)
            if lease.failure and lease.failure.permanent and lease.failure.applies_to(latest.version, fp):
                raise _failure_error(lease.failure)
            if lease.in_flight_for(latest.version, fp) and lease.rotates is not False:
                logger.error("an earlier token refresh lost its result; not replaying the refresh token", extra=fields)
                raise await self._record(key, latest, fp, RefreshFailureReason.RESULT_LOST)
            if not latest.tokens.refresh_token:
                raise _failure_error(
                    Failure(latest.version, fp, True, RefreshFailureReason.NO_REFRESH_TOKEN, datetime.now(UTC))
                )
            if not await self._leases.begin(key, latest.version, fp):
                raise UcfError(ErrorCode.UNAVAILABLE, "lost the token refresh lease; try again")
            fresh = await self._call_provider(key, latest, fp, refresher)
            return await self._store_result(key, latest, fp, fresh, connection_id)
        finally:
            await self._leases.release(key)

    async def _call_provider(
        self, key: dict[str, str], latest: StoredCredential, fp: str, refresher: TokenRefresher
    ) -> TokenSet:
        assert latest.tokens.refresh_token is not None
        try:
            return await refresher.refresh(latest.tokens.refresh_token)
        except OAuthProviderError as exc:
            if exc.error == "invalid_grant":
                raise await self._record(key, latest, fp, RefreshFailureReason.PROVIDER_REJECTED, exc) from None
            await self._record(key, latest, fp, None, exc)
            raise
        except OAuthUpstreamError as exc:
            if exc.outcome_unknown:
                raise await self._record_lost(key, latest, fp) from None
            await self._record(key, latest, fp, None)
            raise
        except Exception:  # noqa: BLE001 - whatever broke, the provider may have answered
            raise await self._record_lost(key, latest, fp) from None

    async def _store_result(
        self, key: dict[str, str], latest: StoredCredential, fp: str, fresh: TokenSet, connection_id: str
    ) -> StoredCredential:
        fields = log_fields(connection_id=connection_id, owner=self.owner_id)
        fresh = dataclasses.replace(
            fresh, scope=fresh.scope or latest.tokens.scope, metadata={**latest.tokens.metadata, **fresh.metadata}
        )
        for attempt in range(self._save_attempts):
            try:
                version = await self._store.save(
                    key["tenant"], key["connection"], fresh, expected_version=latest.version
                )
                break
            except Exception as exc:  # noqa: BLE001 - any store failure leaves the new tokens unsaved
                if _is_conflict(exc):
                    logger.warning("credential changed during refresh; keeping the stored one", extra=fields)
                    stored = await self._store.load(key["tenant"], key["connection"])
                    if stored is None:
                        raise not_found("credential", key["connection"]) from None
                    return stored
                if attempt + 1 == self._save_attempts:
                    logger.error("could not store the refreshed credential", extra=fields)
                    raise await self._record_lost(key, latest, fp) from None
                await asyncio.sleep(0.1 * 2**attempt)
        await self._leases.finish(key, rotates=fresh.refresh_token != latest.tokens.refresh_token)
        logger.info(
            "token refreshed", extra=log_fields(connection_id=connection_id, owner=self.owner_id, version=version)
        )
        metrics.token_refresh("succeeded", key["tenant"])
        return StoredCredential(fresh, version)

    async def _record_lost(self, key: dict[str, str], latest: StoredCredential, fp: str) -> UcfError:
        state = await self._leases.read(key)
        if state is not None and state.rotates is False:
            return await self._record(key, latest, fp, None)  # no rotation: the old token still works
        return await self._record(key, latest, fp, RefreshFailureReason.RESULT_LOST)

    async def _record(
        self,
        key: dict[str, str],
        latest: StoredCredential,
        fp: str,
        reason: RefreshFailureReason | None,
        exc: OAuthProviderError | None = None,
    ) -> UcfError:
        """Store a failure for this credential (permanent when `reason` is given) and return the error."""
        failure = Failure(
            latest.version,
            fp,
            reason is not None,
            reason or "transient",
            datetime.now(UTC),
            exc.error if exc else None,
            exc.error_description if exc else None,
        )
        await self._leases.fail(key, failure)
        metrics.token_refresh(reason or "transient", key["tenant"])
        return _failure_error(failure) if reason else (exc or _failure_error(failure))
