"""The real vault (`python -m vault_service serve`) as a child process on a fixed loopback port, so a test
can kill it and start it again on the same port. Its log lines (JSON) are appended to `log_path` across
restarts.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.ports import free_port
from tests.support.processes import terminate
from tests.vault_service.harness import new_key_text

START_TIMEOUT = 60.0


def health_status(address: str, timeout: float = 0.5) -> int | None:
    """The vault's overall health status over a fresh channel (no reconnect backoff), None when unreachable."""
    with grpc.insecure_channel(address) as channel:
        try:
            return (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
                .status
            )
        except grpc.RpcError:
            return None


async def vault_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Runs `python -m vault_service ARGS` without blocking the loop an in-process vault is served from;
    exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vault_service",
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


class VaultProcess:
    def __init__(self, folder: Path, mongo_url: str, db_name: str, **env: str):
        self.port = free_port()
        self.token = secrets.token_urlsafe(32)
        self.log_path = folder / "vault.log"
        self.env = {
            **os.environ,
            "VAULT_HOST": "127.0.0.1",
            "VAULT_PORT": str(self.port),
            "VAULT_MONGODB_URL": mongo_url,
            "VAULT_MONGODB_DB": db_name,
            "VAULT_KEYS": new_key_text("k1"),
            "VAULT_CLIENT_TOKEN": self.token,
            "LOG_JSON": "true",
            "VAULT_HEALTH_INTERVAL_SECONDS": "0.5",
            **env,
        }
        self._folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vault_service", "serve"],
                cwd=self._folder,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_serving(self, interval: float = 0.1) -> float:
        """Polls health every `interval` s; returns the `time.monotonic()` at which SERVING was first seen."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if health_status(self.address) == health_pb2.HealthCheckResponse.SERVING:
                return time.monotonic()
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"vault exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            time.sleep(interval)
        raise TimeoutError(f"vault not SERVING after {START_TIMEOUT}s:\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final log line."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        """SIGTERM (graceful shutdown), SIGKILL after 30 s; the exit code."""
        return terminate(self.process, 30) if self.process is not None else 0

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines whose `event` field is `event`, oldest first."""
        found = []
        for line in self.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
        return found
