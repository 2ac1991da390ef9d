"""The connector service's client of the token vault.

One long-lived `grpc.aio` channel (made inside the running loop), a deadline
on every call, the current request id and the vault credential as metadata,
and vault failures turned into `UcfError`s the rest of the service already
knows how to answer:

| vault status | UcfError code | why |
|---|---|---|
| UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED | `unavailable` (503) | vault down, slow, or its audit log unwritable |
| DATA_LOSS | `internal` (500) | the stored credential failed its integrity check (the vault audited it; no data) |
| NOT_FOUND | `not_found` (404) | |
| ABORTED | `conflict` (409) | compare-and-swap lost |
| PERMISSION_DENIED, UNAUTHENTICATED | `internal` (500) | this service is misconfigured; logged as an error |
| INVALID_ARGUMENT, FAILED_PRECONDITION | `invalid_request`, `failed_precondition` | |
| anything else | `internal` | |

Payloads travel as `google.protobuf.Struct`, which only has doubles: whole
numbers come back as `int`.

Recovery after a vault restart: the channel retries the connection every
100-250 ms (gRPC's default backoff grows from 1 s and left reads failing for
seconds after the vault was back), and every call is made `wait_for_ready`, so
a call that arrives while the channel is reconnecting waits for the connection
instead of failing at once. The wait is bounded by the call's deadline
(VAULT_TIMEOUT_SECONDS): a vault that is really down still fails the call with
`unavailable` — after the deadline rather than immediately — and nothing is
ever answered without the vault. The health check is not `wait_for_ready`: it
reports the vault's state as it is now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import grpc
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.request_context import outgoing_metadata

log = logging.getLogger("connector.vault_client")

_UNAVAILABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
_MISCONFIGURED = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}
_PASSED_THROUGH = {
    grpc.StatusCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    grpc.StatusCode.ABORTED: ErrorCode.CONFLICT,
    grpc.StatusCode.INVALID_ARGUMENT: ErrorCode.INVALID_REQUEST,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorCode.FAILED_PRECONDITION,
}
_MAX_EXACT_INT = 2**53
#: Reconnect quickly once the vault is back (see the module docstring). `min_reconnect_backoff_ms` is, in
#: gRPC core, the shortest time a connection attempt (TCP and TLS handshake) is given, so it stays generous.
#: Names are re-resolved at most once a second, for a vault whose address changes when it restarts.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 2000),
    ("grpc.dns_min_time_between_resolutions_ms", 1000),
)


@dataclass(frozen=True)
class SecretMetadata:
    tenant_id: str
    owner_id: str
    kind: vault_pb2.SecretKind
    version: int
    key_id: str
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None


class Secret(NamedTuple):
    """`payload, metadata = await vault.get(...)` or `secret.payload` / `secret.version`."""

    payload: dict[str, Any]
    metadata: SecretMetadata

    @property
    def version(self) -> int:
        return self.metadata.version

    @property
    def expires_at(self) -> datetime | None:
        return self.metadata.expires_at

    def __repr__(self) -> str:  # never print the payload
        return f"Secret(metadata={self.metadata!r})"


def map_vault_error(err: grpc.RpcError) -> UcfError:
    """The UcfError a vault failure means for this service's callers (see the module table)."""
    status = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    if status in _UNAVAILABLE:
        return UcfError(ErrorCode.UNAVAILABLE, "the credential vault is unavailable")
    if status == grpc.StatusCode.DATA_LOSS:
        return UcfError(ErrorCode.INTERNAL, "stored credential failed its integrity check")
    if status in _MISCONFIGURED:
        log.error(
            "the vault refused this service's credential (%s); check VAULT_CLIENT_TOKEN or the client "
            "certificate and VAULT_ALLOWED_CLIENTS",
            status.name,
        )
        return UcfError(ErrorCode.INTERNAL, "the connector service is not configured to use the vault")
    if status in _PASSED_THROUGH:
        remote = UcfError.from_rpc_error(err)
        return UcfError(_PASSED_THROUGH[status], remote.message, remote.details)
    log.error("unexpected vault answer %s", status.name)
    return UcfError(ErrorCode.INTERNAL, "the credential vault failed")


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= _MAX_EXACT_INT:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _time(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


def _metadata(meta: vault_pb2.SecretMetadata) -> SecretMetadata:
    return SecretMetadata(
        meta.ref.tenant_id,
        meta.ref.owner_id,
        meta.ref.kind,
        meta.version,
        meta.key_id,
        _time(meta, "created_at"),
        _time(meta, "updated_at"),
        _time(meta, "expires_at"),
    )


def channel_for(
    address: str,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    server_name: str | None = None,
) -> grpc.aio.Channel:
    """A channel to the vault: mutual TLS when a CA is given (with the client certificate), plaintext otherwise."""
    options: list[tuple[str, int | str]] = list(CHANNEL_OPTIONS)
    if ca_file is None:
        return grpc.aio.insecure_channel(address, options=options)
    credentials = grpc.ssl_channel_credentials(
        ca_file.read_bytes(), key_file.read_bytes() if key_file else None, cert_file.read_bytes() if cert_file else None
    )
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.aio.secure_channel(address, credentials, options=options)


class VaultClient:
    def __init__(
        self, channel: grpc.aio.Channel, *, token: str | None = None, timeout: float = 5.0, owns_channel: bool = False
    ):
        self._channel = channel
        self._stub = vault_pb2_grpc.VaultServiceStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)
        self._auth = (("authorization", f"Bearer {token}"),) if token else ()
        self._timeout = timeout
        self._owns_channel = owns_channel

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        token: str | None = None,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        server_name: str | None = None,
        timeout: float = 5.0,
    ) -> VaultClient:
        """Builds the channel too (call inside the running loop); `close()` closes it."""
        channel = channel_for(address, ca_file=ca_file, cert_file=cert_file, key_file=key_file, server_name=server_name)
        return cls(channel, token=None if ca_file else token, timeout=timeout, owns_channel=True)

    @classmethod
    def from_settings(cls, settings: Any) -> VaultClient:
        """From the connector service's settings (VAULT_ADDRESS, VAULT_CLIENT_TOKEN(_FILE), VAULT_CA_FILE, ...)."""
        return cls.connect(
            settings.vault_address,
            token=settings.resolved_vault_token(),
            ca_file=settings.vault_ca_file,
            cert_file=settings.vault_client_cert_file,
            key_file=settings.vault_client_key_file,
            server_name=settings.vault_tls_server_name,
            timeout=settings.vault_timeout_seconds,
        )

    async def close(self) -> None:
        if self._owns_channel:
            await self._channel.close(None)  # no grace: the stubs leave out its default

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(
                request, metadata=outgoing_metadata(*self._auth), timeout=self._timeout, wait_for_ready=True
            )
        except grpc.RpcError as err:
            raise map_vault_error(err) from None

    async def put(
        self,
        tenant_id: str,
        owner_id: str,
        kind: vault_pb2.SecretKind,
        payload: dict[str, Any],
        *,
        expires_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> SecretMetadata:
        """Creates or replaces; with `expected_version` (0 = must not exist) a lost race is `conflict`."""
        request = vault_pb2.PutSecretRequest(ref=vault_pb2.SecretRef(tenant_id=tenant_id, owner_id=owner_id, kind=kind))
        try:
            request.payload.CopyFrom(json_format.ParseDict(payload, struct_pb2.Struct()))
        except (json_format.ParseError, TypeError, ValueError, AttributeError):
            raise UcfError(ErrorCode.INVALID_REQUEST, "a credential payload must be a JSON object") from None
        if expires_at is not None:
            request.expires_at.FromDatetime(expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC))
        if expected_version is not None:
            request.expected_version = expected_version
        reply = await self._call(self._stub.PutSecret, request)
        return _metadata(reply.metadata)

    async def get(self, tenant_id: str, owner_id: str, kind: vault_pb2.SecretKind) -> Secret:
        reply = await self._call(
            self._stub.GetSecret,
            vault_pb2.GetSecretRequest(ref=vault_pb2.SecretRef(tenant_id=tenant_id, owner_id=owner_id, kind=kind)),
        )
        return Secret(_whole_numbers(json_format.MessageToDict(reply.payload)), _metadata(reply.metadata))

    async def get_metadata(self, tenant_id: str, owner_id: str, kind: vault_pb2.SecretKind) -> SecretMetadata:
        reply = await self._call(
            self._stub.GetSecretMetadata,
            vault_pb2.GetSecretMetadataRequest(
                ref=vault_pb2.SecretRef(tenant_id=tenant_id, owner_id=owner_id, kind=kind)
            ),
        )
        return _metadata(reply.metadata)

    async def delete(
        self, tenant_id: str, owner_id: str, kind: vault_pb2.SecretKind, *, expected_version: int | None = None
    ) -> int:
        """Deletes and returns the deleted version; `not_found` when there was none."""
        request = vault_pb2.DeleteSecretRequest(
            ref=vault_pb2.SecretRef(tenant_id=tenant_id, owner_id=owner_id, kind=kind)
        )
        if expected_version is not None:
            request.expected_version = expected_version
        reply: vault_pb2.DeleteSecretResponse = await self._call(self._stub.DeleteSecret, request)
        return reply.version

    async def check_health(self) -> bool:
        """True when the vault's own health service reports SERVING (no credential needed)."""
        try:
            reply = await self._health.Check(
                health_pb2.HealthCheckRequest(service=""), metadata=outgoing_metadata(), timeout=self._timeout
            )
        except grpc.RpcError:
            return False
        # grpc-stubs types grpc_health.v1's modules (but `health`) as Any, so this is typed here.
        serving: bool = reply.status == health_pb2.HealthCheckResponse.SERVING
        return serving
