"""The real three processes (`python -m ...`) on free ports, for end-to-end tests.

`LocalStack` generates what `make run` generates (a Fernet key ring, a vault client
token, an admin API key for tenant `dev`) into a temporary folder, starts vault,
connector service and gateway against a running MongoDB-compatible server with
databases of their own, waits until each reports healthy, and writes each process's
output to `<folder>/logs/<name>.log`.

    with LocalStack(tmp_path, mongo_url) as stack:
        httpx.get(stack.gateway_url + "/api/connectors", headers=stack.auth_headers)
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Self

import grpc
import httpx
from cryptography.fernet import Fernet
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.ports import free_port
from tests.support.processes import terminate

HOST = "127.0.0.1"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


class ProcessFailed(RuntimeError):
    pass


def grpc_health(address: str, service: str = "", timeout: float = 2.0) -> str | None:
    """Status name the server reports for `service`, or None when the call fails."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout
            )
        except grpc.RpcError:
            return None
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


class LocalStack:
    def __init__(self, folder: Path, mongo_url: str, extra_env: dict[str, str] | None = None):
        self.folder = folder
        self.logs = folder / "logs"
        self.vault_port, self.connector_port, self.gateway_port = free_port(), free_port(), free_port()
        self.vault_address = f"{HOST}:{self.vault_port}"
        self.connector_address = f"{HOST}:{self.connector_port}"
        self.gateway_url = f"http://{HOST}:{self.gateway_port}"
        self.vault_metrics_url = f"http://{HOST}:{free_port()}/metrics"
        self.connector_metrics_url = f"http://{HOST}:{free_port()}/metrics"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        suffix = uuid.uuid4().hex[:10]
        self.env = {
            **os.environ,
            "UCF_ENV": "development",
            "LOG_LEVEL": "INFO",
            "LOG_JSON": "true",
            "MONGODB_URL": mongo_url,
            "MONGODB_DB": f"ucf_{suffix}",
            "VAULT_MONGODB_URL": mongo_url,
            "VAULT_MONGODB_DB": f"ucf_vault_{suffix}",
            "VAULT_HOST": HOST,
            "VAULT_PORT": str(self.vault_port),
            "VAULT_METRICS_PORT": self.vault_metrics_url.rsplit(":", 1)[1].split("/")[0],
            "CONNECTOR_METRICS_PORT": self.connector_metrics_url.rsplit(":", 1)[1].split("/")[0],
            "VAULT_KEYS_FILE": str(folder / "vault-keys"),
            "VAULT_CLIENT_TOKEN_FILE": str(folder / "vault-client-token"),
            "CONNECTOR_HOST": HOST,
            "CONNECTOR_PORT": str(self.connector_port),
            "VAULT_ADDRESS": self.vault_address,
            "VAULT_TIMEOUT_SECONDS": "3",
            "CONNECTOR_HEALTH_INTERVAL_SECONDS": "0.5",
            "UCF_EGRESS_ALLOWED_NETWORKS": "127.0.0.0/8",  # the provider fakes and PostgreSQL
            "GATEWAY_HOST": HOST,
            "GATEWAY_PORT": str(self.gateway_port),
            "CONNECTOR_ADDRESS": self.connector_address,
            **(extra_env or {}),
        }
        self.api_key = ""

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def vault_client_token(self) -> str:
        return (self.folder / "vault-client-token").read_text().strip()

    # --- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        (self.folder / "vault-keys").write_text(f"test1:{Fernet.generate_key().decode()}\n")
        (self.folder / "vault-client-token").write_text(secrets.token_urlsafe(32) + "\n")
        self.api_key = self.ensure_api_key("dev", "admin", self.folder / "dev-api-key")
        self._start("vault", "-m", "vault_service", "serve")
        self._wait("vault", lambda: grpc_health(self.vault_address) == "SERVING")
        self._start("connector", "-m", "connector_service", "serve")
        self._wait("connector", lambda: grpc_health(self.connector_address) == "SERVING")
        self._start("gateway", "-m", "gateway")
        self._wait("gateway", self._gateway_up)

    def ensure_api_key(self, tenant: str, scopes: str, key_file: Path) -> str:
        """Register (or create) an API key with the connector service's admin CLI."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "connector_service",
                "api-keys",
                "ensure",
                "--tenant",
                tenant,
                "--scopes",
                scopes,
                "--key-file",
                str(key_file),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise ProcessFailed(f"api-keys ensure failed:\n{result.stdout}{result.stderr}")
        return key_file.read_text().strip()

    def start_connector(self, name: str) -> str:
        """Another connector-service process on the same databases and vault (log `<name>.log`,
        stopped with the stack); returns its gRPC address."""
        address = f"{HOST}:{free_port()}"
        port = address.rsplit(":", 1)[1]
        self._start(
            name, "-m", "connector_service", "serve", env={"CONNECTOR_PORT": port, "CONNECTOR_METRICS_PORT": "0"}
        )
        self._wait(name, lambda: grpc_health(address) == "SERVING")
        return address

    def stop_process(self, name: str) -> int:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit code."""
        return terminate(self.processes[name], STOP_TIMEOUT)

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop_process(name)

    # --- logs ---------------------------------------------------------------------

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    # --- internals ----------------------------------------------------------------

    def _start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, *args],
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _wait(self, name: str, healthy: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not healthy():
            if self.processes[name].poll() is not None:
                code, tail = self.processes[name].returncode, self.log_text(name)[-3000:]
                raise ProcessFailed(f"{name} exited with {code}:\n{tail}")
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{name} not healthy after {START_TIMEOUT}s:\n{self.log_text(name)[-3000:]}")
            time.sleep(0.1)

    def _gateway_up(self) -> bool:
        try:
            return httpx.get(self.gateway_url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
