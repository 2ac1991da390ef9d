"""`ucf.vault.v1.VaultService`: authorise, validate, act, audit — in that order.

Every RPC appends exactly one audit record with its outcome (`ok`, an error
code's wire name, `integrity_error`, ...) before it answers; if that append
fails the RPC answers UNAVAILABLE and returns nothing (fail-closed). A
mutation whose audit append fails may already be applied; callers retry it
with compare-and-swap. Rewrap appends one record per batch plus one per record
it had to skip.

A ciphertext that fails its integrity or binding check answers DATA_LOSS with
the `internal` error-code trailer and no data.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC

import grpc
from google.protobuf import json_format
from pymongo.errors import PyMongoError
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.logging import log_fields

from vault_service.audit import AuditLog, AuditUnavailable
from vault_service.auth import CallerAuth, CallerDenied, Permission
from vault_service.keyring import IntegrityError, KeyUnavailableError
from vault_service.store import SecretRecord, SecretStore
from vault_service.validation import (
    RefFields,
    kind_number,
    validate_payload,
    validate_ref,
)

log = logging.getLogger("vault.servicer")

_INTEGRITY_MESSAGE = "the stored secret failed its integrity check"


@dataclass
class _Entry:
    """What an RPC learned that belongs in its audit record."""

    caller: str
    ref: RefFields
    key_id: str | None = None
    detail: dict[str, int | str] = field(default_factory=dict)


def _metadata(record: SecretRecord) -> vault_pb2.SecretMetadata:
    meta = vault_pb2.SecretMetadata(
        ref=vault_pb2.SecretRef(tenant_id=record.tenant_id, owner_id=record.owner_id, kind=kind_number(record.kind)),
        version=record.version,
        key_id=record.key_id,
    )
    meta.created_at.FromDatetime(record.created_at)
    meta.updated_at.FromDatetime(record.updated_at)
    if record.expires_at is not None:
        meta.expires_at.FromDatetime(record.expires_at)
    return meta


class VaultServicer(vault_pb2_grpc.VaultServiceServicer):
    def __init__(self, store: SecretStore, audit: AuditLog, auth: CallerAuth, *, rewrap_batch_size: int = 200):
        self._store = store
        self._audit = audit
        self._auth = auth
        self._rewrap_batch_size = rewrap_batch_size

    async def _append(self, operation: str, outcome: str, entry: _Entry) -> None:
        try:
            await self._audit.append(
                operation,
                outcome,
                caller=entry.caller,
                tenant_id=entry.ref.tenant_id,
                owner_id=entry.ref.owner_id,
                kind=entry.ref.kind,
                key_id=entry.key_id,
                detail=entry.detail,
            )
        except AuditUnavailable as err:
            log.error("audit append failed; refusing the call", extra=log_fields(operation=operation, error=str(err)))
            raise UcfError(ErrorCode.UNAVAILABLE, "the vault's audit log is unavailable") from None

    @asynccontextmanager
    async def _audited(
        self,
        context: grpc.aio.ServicerContext,
        operation: str,
        permission: Permission,
        ref: vault_pb2.SecretRef | None = None,
    ) -> AsyncIterator[_Entry]:
        """Authorises the caller, then audits whatever the body does: success, domain error or integrity failure."""
        fields = RefFields.of(ref)
        try:
            caller = self._auth.authenticate(context, permission)
        except CallerDenied as denied:
            await self._append(operation, denied.code.wire, _Entry(denied.caller, fields))
            raise
        entry = _Entry(caller, fields)
        try:
            yield entry
        except UcfError as err:
            await self._append(operation, err.code.wire, entry)
            raise
        except IntegrityError:
            await self._append(operation, "integrity_error", entry)
            log.error(
                "integrity check failed",
                extra=log_fields(
                    operation=operation, tenant_id=fields.tenant_id, owner_id=fields.owner_id, kind=fields.kind
                ),
            )
            context.set_trailing_metadata(UcfError(ErrorCode.INTERNAL, _INTEGRITY_MESSAGE).trailing_metadata())
            await context.abort(grpc.StatusCode.DATA_LOSS, _INTEGRITY_MESSAGE)
        except KeyUnavailableError as err:
            entry.key_id = err.key_id
            await self._append(operation, "key_unavailable", entry)
            raise UcfError(
                ErrorCode.INTERNAL,
                "the key that encrypted this secret is not available to the vault",
                {"keyId": err.key_id},
            ) from None
        except PyMongoError as err:
            log.error("database error", extra=log_fields(operation=operation, error=type(err).__name__))
            await self._append(operation, "unavailable", entry)
            raise UcfError(ErrorCode.UNAVAILABLE, "the vault's database is unavailable") from None
        else:
            await self._append(operation, "ok", entry)

    async def PutSecret(
        self, request: vault_pb2.PutSecretRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.PutSecretResponse:
        async with self._audited(context, "put", Permission.SECRETS, request.ref) as entry:
            ref = validate_ref(request.ref)
            payload = validate_payload(request.payload if request.HasField("payload") else None)
            expected = request.expected_version if request.HasField("expected_version") else None
            if expected is not None and expected < 0:
                raise UcfError(ErrorCode.INVALID_REQUEST, "expected_version must be 0 or more")
            expires_at = request.expires_at.ToDatetime(tzinfo=UTC) if request.HasField("expires_at") else None
            record = await self._store.put(
                ref.tenant_id, ref.owner_id, ref.kind, payload, expires_at=expires_at, expected_version=expected
            )
            entry.key_id, entry.detail = record.key_id, {"version": record.version}
        return vault_pb2.PutSecretResponse(metadata=_metadata(record))

    async def GetSecret(
        self, request: vault_pb2.GetSecretRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.GetSecretResponse:
        async with self._audited(context, "get", Permission.SECRETS, request.ref) as entry:
            ref = validate_ref(request.ref)
            record, ciphertext = await self._store.find(ref.tenant_id, ref.owner_id, ref.kind)
            entry.key_id, entry.detail = record.key_id, {"version": record.version}
            payload = self._store.keyring.open(record.identity, record.key_id, ciphertext)
        response = vault_pb2.GetSecretResponse(metadata=_metadata(record))
        json_format.ParseDict(payload, response.payload)
        return response

    async def GetSecretMetadata(
        self, request: vault_pb2.GetSecretMetadataRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.GetSecretMetadataResponse:
        async with self._audited(context, "get_metadata", Permission.SECRETS, request.ref) as entry:
            ref = validate_ref(request.ref)
            record, _ = await self._store.find(ref.tenant_id, ref.owner_id, ref.kind)
            entry.key_id, entry.detail = record.key_id, {"version": record.version}
        return vault_pb2.GetSecretMetadataResponse(metadata=_metadata(record))

    async def DeleteSecret(
        self, request: vault_pb2.DeleteSecretRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.DeleteSecretResponse:
        async with self._audited(context, "delete", Permission.SECRETS, request.ref) as entry:
            ref = validate_ref(request.ref)
            expected = request.expected_version if request.HasField("expected_version") else None
            version = await self._store.delete(ref.tenant_id, ref.owner_id, ref.kind, expected_version=expected)
            entry.detail = {"version": version}
        return vault_pb2.DeleteSecretResponse(version=version)

    async def GetKeyRingStatus(
        self, request: vault_pb2.GetKeyRingStatusRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.GetKeyRingStatusResponse:
        async with self._audited(context, "key_status", Permission.ADMIN):
            counts = await self._store.key_counts()
        ring = self._store.keyring
        keys = [
            vault_pb2.KeyStatus(
                key_id=key_id,
                primary=key_id == ring.primary_id,
                retired=key_id in ring.retired,
                secret_count=counts.get(key_id, 0),
                loaded=True,
            )
            for key_id in ring.key_ids
        ]
        keys += [
            vault_pb2.KeyStatus(key_id=key_id, secret_count=n, loaded=False)
            for key_id, n in sorted(counts.items())
            if key_id not in ring.key_ids
        ]
        return vault_pb2.GetKeyRingStatusResponse(keys=keys, primary_key_id=ring.primary_id)

    async def Rewrap(
        self, request: vault_pb2.RewrapRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[vault_pb2.RewrapResponse]:
        batch_size = request.batch_size or self._rewrap_batch_size
        primary = self._store.keyring.primary_id
        async with self._audited(context, "rewrap_start", Permission.ADMIN) as entry:
            if not 0 < batch_size <= 10_000 or request.max_batches < 0:
                raise UcfError(ErrorCode.INVALID_REQUEST, "batch_size must be 1..10000 and max_batches 0 or more")
            remaining = await self._store.remaining()
            entry.key_id, entry.detail = primary, {"remaining": remaining}
        after, rewrapped, failed, batches = None, 0, 0, 0
        while True:
            async with self._audited(context, "rewrap_batch", Permission.ADMIN) as entry:
                batch = await self._store.rewrap_batch(batch_size, after)
                entry.key_id, entry.detail = primary, {"rewrapped": batch.rewrapped, "failed": len(batch.failed)}
            for record in batch.failed:
                await self._append(
                    "rewrap_skip",
                    "integrity_error",
                    _Entry(entry.caller, RefFields(record.tenant_id, record.owner_id, record.kind), record.key_id),
                )
            after, batches = batch.last_id, batches + 1
            rewrapped, failed = rewrapped + batch.rewrapped, failed + len(batch.failed)
            done = batch.examined < batch_size
            remaining = await self._store.remaining() if done else max(remaining - batch.rewrapped, 0)
            yield vault_pb2.RewrapResponse(
                rewrapped=rewrapped, remaining=remaining, primary_key_id=primary, done=done, failed=failed
            )
            if done or (request.max_batches and batches >= request.max_batches):
                return

    async def RetireKey(
        self, request: vault_pb2.RetireKeyRequest, context: grpc.aio.ServicerContext
    ) -> vault_pb2.RetireKeyResponse:
        async with self._audited(context, "retire_key", Permission.ADMIN) as entry:
            entry.key_id = request.key_id[:64] or None
            await self._store.retire(request.key_id)
        return vault_pb2.RetireKeyResponse(key=vault_pb2.KeyStatus(key_id=request.key_id, retired=True, loaded=True))
