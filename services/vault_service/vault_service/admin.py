"""Key administration over gRPC, as an admin client of the running vault.

The admin commands (`status`, `rewrap`, `retire`) deliberately go through the
vault instead of opening the database with the key ring: the keys stay inside
the one process that holds them, the operator needs an admin identity
(a `VAULT_ADMIN_CLIENTS` certificate under mTLS) rather than key material, and
every action lands in the same audit chain, appended by the process that
serialises it. `verify-audit` is the exception: it reads the audit collection
directly and needs no key, so it also works while the vault is down (or not
trusted).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import grpc
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc

from vault_service.settings import Settings


@dataclass(frozen=True)
class Connection:
    """Where the vault is and how to prove the admin identity."""

    address: str
    token: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        address: str | None = None,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        server_name: str | None = None,
    ) -> Connection:
        host = settings.vault_host if settings.vault_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        tls = bool(ca_file or cert_file or settings.tls_enabled)
        return cls(
            address or f"{host}:{settings.vault_port}",
            token=None if tls else settings.resolved_client_token(),
            ca_file=ca_file or (settings.vault_tls_client_ca_file if tls else None),
            cert_file=cert_file,
            key_file=key_file,
            server_name=server_name,
        )

    def channel(self) -> grpc.Channel:
        if self.ca_file is None:
            return grpc.insecure_channel(self.address)
        if not (self.cert_file and self.key_file):
            raise ValueError("mutual TLS needs --cert and --key (an admin client certificate)")
        credentials = grpc.ssl_channel_credentials(
            self.ca_file.read_bytes(), self.key_file.read_bytes(), self.cert_file.read_bytes()
        )
        options = [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []
        return grpc.secure_channel(self.address, credentials, options=options)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


class AdminClient:
    def __init__(self, connection: Connection):
        self._connection = connection
        self._channel = connection.channel()
        self._stub = vault_pb2_grpc.VaultServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def status(self) -> vault_pb2.GetKeyRingStatusResponse:
        return self._stub.GetKeyRingStatus(
            vault_pb2.GetKeyRingStatusRequest(), metadata=self._connection.metadata, timeout=self._connection.timeout
        )

    def rewrap(self, batch_size: int = 0, max_batches: int = 0) -> Iterator[vault_pb2.RewrapResponse]:
        # No overall deadline: a large rewrap is long, and each batch reports progress.
        yield from self._stub.Rewrap(
            vault_pb2.RewrapRequest(batch_size=batch_size, max_batches=max_batches), metadata=self._connection.metadata
        )

    def retire(self, key_id: str) -> vault_pb2.RetireKeyResponse:
        return self._stub.RetireKey(
            vault_pb2.RetireKeyRequest(key_id=key_id),
            metadata=self._connection.metadata,
            timeout=self._connection.timeout,
        )


def progress_bar(done: int, total: int, width: int = 30) -> str:
    """`[#########.....................]  30% 300/1000` — total 0 counts as complete."""
    fraction = 1.0 if total <= 0 else min(done / total, 1.0)
    filled = round(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} {done}/{total}"


def print_rewrap(
    progress: Iterator[vault_pb2.RewrapResponse], out: TextIO = sys.stdout, is_tty: Callable[[], bool] | None = None
) -> vault_pb2.RewrapResponse | None:
    """Draws the progress bar (in place on a terminal, one line per batch otherwise); returns the last message."""
    tty = (is_tty or out.isatty)()
    last = None
    for message in progress:
        last = message
        line = progress_bar(message.rewrapped, message.rewrapped + message.remaining)
        if message.failed:
            line += f" ({message.failed} failed integrity check)"
        out.write(("\r" + line) if tty else line + "\n")
        out.flush()
    if tty and last is not None:
        out.write("\n")
    return last
