"""Building and running the vault's gRPC server.

`create_server` wires everything from ready-made parts (database handle, key
ring) and binds the port — tests bind port 0 in-process. `serve` adds what a
real process needs: settings, logging, the Mongo client made inside the running
loop, and a graceful stop on SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from ucf_common.grpc_server import RequestContextInterceptor, until_stop_signal
from ucf_common.health import HealthPublisher
from ucf_common.logging import configure_logging
from ucf_common.metrics import RpcMetricsInterceptor, serve_metrics
from ucf_common.tracing import GRPC_SERVER, PYMONGO, configure_tracing

from vault_service.audit import AuditLog
from vault_service.audit_head import AuditHeadReporter
from vault_service.auth import CallerAuth
from vault_service.health import health_monitor
from vault_service.keyring import KeyRing
from vault_service.metrics import KeyRingGauges
from vault_service.servicer import VaultServicer
from vault_service.settings import Settings
from vault_service.store import SecretStore

log = logging.getLogger("vault.server")

VAULT_SERVICE = vault_pb2.DESCRIPTOR.services_by_name["VaultService"].full_name


@dataclass
class VaultServer:
    """The gRPC server plus the health monitor and the audit-head reporter that run beside it."""

    server: grpc.aio.Server
    monitor: HealthPublisher
    store: SecretStore
    audit: AuditLog
    port: int
    audit_head: AuditHeadReporter

    async def start(self) -> None:
        await self.server.start()
        await self.monitor.start()
        await self.audit_head.start()

    async def stop(self, grace: float | None = None) -> None:
        await self.monitor.stop()
        await self.server.stop(grace)
        # After draining, so the last head line covers every call the vault answered.
        await self.audit_head.stop()


def caller_auth(settings: Settings) -> CallerAuth:
    return CallerAuth(
        token=None if settings.tls_enabled else settings.resolved_client_token(),
        mtls=settings.tls_enabled,
        allowed_clients=settings.vault_allowed_clients,
        admin_clients=settings.vault_admin_clients,
    )


def server_credentials(settings: Settings) -> grpc.ServerCredentials:
    """TLS with a required client certificate signed by the configured client CA."""
    assert settings.vault_tls_cert_file and settings.vault_tls_key_file and settings.vault_tls_client_ca_file
    return grpc.ssl_server_credentials(
        [(settings.vault_tls_key_file.read_bytes(), settings.vault_tls_cert_file.read_bytes())],
        root_certificates=settings.vault_tls_client_ca_file.read_bytes(),
        require_client_auth=True,
    )


async def create_server(
    settings: Settings, db: AsyncDatabase, keyring: KeyRing, *, auth: CallerAuth | None = None
) -> tuple[VaultServer, int]:
    """A bound, not yet started vault server. Raises KeyRingError if the primary key was retired."""
    store = SecretStore(db, keyring)
    await store.ensure_indexes()
    keyring.mark_retired(await store.load_retired())
    audit = AuditLog(db["vault_audit"])
    await audit.ensure_indexes()
    metered = [RpcMetricsInterceptor()] if settings.vault_metrics_port else []
    server = grpc.aio.server(interceptors=[*metered, RequestContextInterceptor()])
    vault_pb2_grpc.add_VaultServiceServicer_to_server(
        VaultServicer(store, audit, auth or caller_auth(settings), rewrap_batch_size=settings.vault_rewrap_batch_size),
        server,
    )
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]  # grpc-stubs lacks grpc_health's aio
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.vault_reflection:
        reflection.enable_server_reflection(
            [VAULT_SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
        )
    monitor = health_monitor(health_servicer, db, audit, [VAULT_SERVICE], settings.vault_health_interval_seconds)
    address = f"{settings.vault_host}:{settings.vault_port}"
    if settings.tls_enabled:
        port = server.add_secure_port(address, server_credentials(settings))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    audit_head = AuditHeadReporter(audit, settings.vault_audit_head_interval_seconds)
    return VaultServer(server, monitor, store, audit, port, audit_head), port


async def serve(settings: Settings, keyring: KeyRing) -> None:
    """Runs the vault until SIGTERM/SIGINT. Settings and key ring are validated by the caller."""
    configure_logging("vault", settings.log_level, settings.log_json)
    configure_tracing("ucf-vault", (GRPC_SERVER, PYMONGO))
    stop_metrics = serve_metrics(settings.vault_host, settings.vault_metrics_port)
    mongo: AsyncMongoClient = AsyncMongoClient(
        settings.vault_mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000, appname="ucf-vault"
    )
    try:
        vault, port = await create_server(settings, mongo[settings.vault_mongodb_db], keyring)
        await vault.start()
        keyring_gauges = KeyRingGauges(vault.store)
        keyring_gauges.start()
        log.info(
            "vault listening on %s:%s (%s callers, primary key %s, reflection %s)",
            settings.vault_host,
            port,
            "mTLS" if settings.tls_enabled else "token",
            keyring.primary_id,
            "on" if settings.vault_reflection else "off",
        )
        await until_stop_signal()
        log.info("shutting down (grace %ss)", settings.vault_shutdown_grace_seconds)
        await vault.stop(settings.vault_shutdown_grace_seconds)
        await keyring_gauges.stop()
    finally:
        if stop_metrics is not None:
            stop_metrics()
        await mongo.close()
