"""Who may call the vault.

With TLS configured the server requires a client certificate signed by
`VAULT_TLS_CLIENT_CA_FILE` (the handshake itself refuses anything else), and
the caller is the certificate's identity as gRPC's auth context reports it —
its common name and DNS/URI subject alternative names, never metadata. Secret
operations need one of those names in `VAULT_ALLOWED_CLIENTS`, key
administration one in `VAULT_ADMIN_CLIENTS`.

Without TLS (the local default) the caller sends `authorization: Bearer
<VAULT_CLIENT_TOKEN>`, compared in constant time. That single credential can
do everything, so separate admin identities need mTLS.

No credential → UNAUTHENTICATED; a wrong one or an identity not allowed for
the operation → PERMISSION_DENIED.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterable

import grpc
from ucf_common.errors import ErrorCode, UcfError
from ucf_common.grpc_server import metadata_value

TOKEN_CALLER = "token-client"


class Permission(enum.Enum):
    SECRETS = "secrets"
    ADMIN = "admin"


class CallerDenied(UcfError):
    """A refused call; `caller` is a printable label for the audit record (never a credential)."""

    def __init__(self, code: ErrorCode, message: str, caller: str):
        super().__init__(code, message)
        self.caller = caller


def _decode(values: Iterable[bytes | str]) -> list[str]:
    return [v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in values]


def peer_names(context: grpc.aio.ServicerContext) -> list[str]:
    """Common name first, then subject alternative names, of the peer's verified certificate."""
    auth = context.auth_context() or {}
    names = _decode(auth.get("x509_common_name", ()))
    for san in _decode(auth.get("x509_subject_alternative_name", ())):
        if san not in names:
            names.append(san)
    return names


class CallerAuth:
    def __init__(
        self,
        *,
        token: str | None = None,
        mtls: bool = False,
        allowed_clients: Iterable[str] = (),
        admin_clients: Iterable[str] = (),
    ):
        if not mtls and not token:
            raise ValueError("the vault needs mutual TLS or a client token (VAULT_CLIENT_TOKEN / _FILE)")
        self._mtls = mtls
        self._token = token.encode() if token else None
        self._allowed = {Permission.SECRETS: frozenset(allowed_clients), Permission.ADMIN: frozenset(admin_clients)}

    @property
    def mode(self) -> str:
        return "mtls" if self._mtls else "token"

    def authenticate(self, context: grpc.aio.ServicerContext, permission: Permission) -> str:
        """The caller's label when allowed; raises CallerDenied otherwise."""
        if self._mtls:
            return self._by_certificate(context, permission)
        return self._by_token(context)

    def _by_certificate(self, context: grpc.aio.ServicerContext, permission: Permission) -> str:
        names = peer_names(context)
        if not names:
            raise CallerDenied(ErrorCode.UNAUTHENTICATED, "a client certificate is required", "anonymous")
        label = f"cert:{names[0]}"
        if not self._allowed[permission].intersection(names):
            raise CallerDenied(ErrorCode.FORBIDDEN, f"this client may not perform {permission.value} operations", label)
        return label

    def _by_token(self, context: grpc.aio.ServicerContext) -> str:
        header = metadata_value(context, "authorization")
        scheme, _, presented = (header or "").partition(" ")
        if not header or scheme.lower() != "bearer" or not presented.strip():
            raise CallerDenied(ErrorCode.UNAUTHENTICATED, "a vault client credential is required", "anonymous")
        if not hmac.compare_digest(presented.strip().encode(), self._token or b""):
            raise CallerDenied(ErrorCode.FORBIDDEN, "the vault client credential is not valid", "token:invalid")
        return TOKEN_CALLER
