"""Run the whole system on this machine: SecantusDB, vault, connector service, gateway.

`make run` calls this. It creates development secrets under the data folder
(`UCF_DATA_DIR`, default `.data/`, git-ignored) when they are missing, starts the
processes in dependency order, waits until each one reports healthy, prints where
to reach them, and stops them in reverse order on Ctrl-C or SIGTERM (exit 0). If
a process dies on its own, the others are stopped and the dead one's last log
lines are printed (exit 1).

Ports come from the environment with the defaults of docs/design.md
(`VAULT_PORT`, `CONNECTOR_PORT`, `GATEWAY_PORT`, `MONGO_PORT` for SecantusDB);
with `MONGODB_URL` set no SecantusDB is started. Any other variable of
docs/design.md given to this script (or to `make run`) reaches the processes.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography.fernet import Fernet
from grpc_health.v1 import health_pb2, health_pb2_grpc

HOST = "127.0.0.1"
START_TIMEOUT = float(os.environ.get("UCF_DEVSTACK_START_TIMEOUT", "90"))
STOP_TIMEOUT = float(os.environ.get("UCF_DEVSTACK_STOP_TIMEOUT", "20"))
TAIL_LINES = 30


class ChildDied(Exception):
    def __init__(self, child: Child):
        super().__init__(f"{child.name} exited with code {child.proc.returncode}")
        self.child = child


class StopRequested(Exception):
    pass


@dataclass
class Child:
    """A started process whose output goes to the terminal and to `logs/<name>.log`."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def pump(self) -> None:
        assert self.proc.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.tail.append(line)
                log.write(line + "\n")
                log.flush()
                print(f"{self.name:<9} | {line}", flush=True)

    def stop(self, timeout: float) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"devstack: {self.name} did not stop within {timeout:.0f}s, killing it", flush=True)
            self.proc.kill()
            self.proc.wait()


@dataclass
class Stack:
    data_dir: Path
    env: dict[str, str]
    stop_event: threading.Event
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        log_path = self.data_dir / "logs" / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, *args],
            env={**(env or {}), **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C reaches only this script, which then stops
            # the children in reverse order instead of all at once.
            process_group=0,
        )
        child = Child(name, proc, log_path)
        threading.Thread(target=child.pump, name=f"pump-{name}", daemon=True).start()
        self.children.append(child)
        print(f"devstack: started {name} (pid {proc.pid})", flush=True)
        return child

    def wait_healthy(self, child: Child, probe: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not probe():
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.name} was not healthy after {START_TIMEOUT:.0f}s")
            self.stop_event.wait(0.25)
        print(f"devstack: {child.name} is healthy", flush=True)

    def check(self) -> None:
        if self.stop_event.is_set():
            raise StopRequested
        for child in self.children:
            if child.proc.poll() is not None:
                raise ChildDied(child)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop(STOP_TIMEOUT)


def ensure_dev_secrets(data_dir: Path) -> None:
    """Fernet key ring and vault client token, created once and then kept."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    keys = data_dir / "vault-keys"
    if not keys.exists():
        _write_secret(keys, f"dev1:{Fernet.generate_key().decode()}\n")
        print(f"devstack: created a development key ring in {keys}", flush=True)
    token = data_dir / "vault-client-token"
    if not token.exists():
        _write_secret(token, secrets.token_urlsafe(32) + "\n")
        print(f"devstack: created a vault client token in {token}", flush=True)


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def port_open(port: int) -> Callable[[], bool]:
    import socket

    def probe() -> bool:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe


def grpc_serving(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with grpc.insecure_channel(f"{HOST}:{port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    return probe


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return probe


def env_port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def dev_mongodb_url() -> str:
    """The database `make run` uses: `MONGODB_URL`, else its SecantusDB on `MONGO_PORT`."""
    return os.environ.get("MONGODB_URL") or f"mongodb://{HOST}:{env_port('MONGO_PORT', 27018)}/?directConnection=true"


def run(data_dir: Path, stop_event: threading.Event) -> int:
    mongo_port = env_port("MONGO_PORT", 27018)
    vault_port = env_port("VAULT_PORT", 50052)
    connector_port = env_port("CONNECTOR_PORT", 50051)
    gateway_port = env_port("GATEWAY_PORT", 8000)
    metrics_ports = (env_port("CONNECTOR_METRICS_PORT", 9464), env_port("VAULT_METRICS_PORT", 9465))
    ensure_dev_secrets(data_dir)
    if Path(".env").exists():
        print("devstack: note: the processes also read ./.env; variables set here or given to make win", flush=True)

    external_mongo = os.environ.get("MONGODB_URL")
    mongodb_url = dev_mongodb_url()
    # Defaults first; whatever the user set in the environment wins.
    defaults = {
        "UCF_ENV": "development",
        "MONGODB_URL": mongodb_url,
        "VAULT_MONGODB_URL": mongodb_url,
        "VAULT_HOST": HOST,
        "VAULT_PORT": str(vault_port),
        "VAULT_KEYS_FILE": str(data_dir / "vault-keys"),
        "VAULT_CLIENT_TOKEN_FILE": str(data_dir / "vault-client-token"),
        "CONNECTOR_HOST": HOST,
        "CONNECTOR_PORT": str(connector_port),
        # local development reaches a local PostgreSQL or provider fake; other private ranges stay refused
        "UCF_EGRESS_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "VAULT_ADDRESS": f"{HOST}:{vault_port}",
        "GATEWAY_HOST": HOST,
        "GATEWAY_PORT": str(gateway_port),
        "CONNECTOR_ADDRESS": f"{HOST}:{connector_port}",
        # OAuth redirects, Connect session links and webhook receivers point at this gateway
        "UCF_PUBLIC_URL": f"http://localhost:{gateway_port}",
    }
    stack = Stack(data_dir, dict(os.environ), stop_event)
    try:
        if not external_mongo:
            mongo = stack.start(
                "mongodb",
                "-m",
                "secantus",
                "--host",
                HOST,
                "--port",
                str(mongo_port),
                "--storage-path",
                str(data_dir / "mongo"),
                "--log-level",
                "WARNING",
            )
            stack.wait_healthy(mongo, port_open(mongo_port))
        key_file = data_dir / "dev-api-key"
        ensure = subprocess.run(
            [
                sys.executable,
                "-m",
                "connector_service",
                "api-keys",
                "ensure",
                "--tenant",
                "dev",
                "--scopes",
                "admin",
                "--key-file",
                str(key_file),
            ],
            env={**defaults, **os.environ},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if ensure.returncode != 0:
            print(
                f"devstack: registering the development API key failed:\n{ensure.stdout}{ensure.stderr}",
                file=sys.stderr,
                flush=True,
            )
            return 1
        vault = stack.start("vault", "-m", "vault_service", "serve", env=defaults)
        stack.wait_healthy(vault, grpc_serving(vault_port))
        connector = stack.start("connector", "-m", "connector_service", "serve", env=defaults)
        stack.wait_healthy(connector, grpc_serving(connector_port))
        gateway = stack.start("gateway", "-m", "gateway", env=defaults)
        stack.wait_healthy(gateway, http_ok(f"http://{HOST}:{gateway_port}/"))
        print_banner(
            key_file.read_text().strip(), key_file, gateway_port, connector_port, vault_port, mongodb_url, metrics_ports
        )
        while not stop_event.wait(0.5):
            stack.check()
        raise StopRequested
    except StopRequested:
        print("devstack: stopping", flush=True)
        stack.stop_all()
        print("devstack: stopped", flush=True)
        return 0
    except (ChildDied, TimeoutError) as failure:
        print(f"devstack: {failure}; stopping the others", file=sys.stderr, flush=True)
        stack.stop_all()
        child = failure.child if isinstance(failure, ChildDied) else stack.children[-1]
        time.sleep(0.2)  # let the pump thread drain the last lines
        print(f"devstack: last log lines of {child.name} ({child.log_path}):", file=sys.stderr)
        for line in child.tail:
            print(f"  {line}", file=sys.stderr)
        return 1
    finally:
        stack.stop_all()


def print_banner(
    api_key: str,
    key_file: Path,
    gateway: int,
    connector: int,
    vault: int,
    mongo: str,
    metrics: tuple[int, int] = (9464, 9465),
) -> None:
    auth = f'"Authorization: Bearer $(cat {key_file})"'
    scrape = [f"http://{HOST}:{gateway}/metrics"] + [f"http://{HOST}:{port}/metrics" for port in metrics if port]
    grpc_auth = auth.replace("Authorization", "authorization")
    print(
        f"""
UCF development stack
  REST gateway       http://{HOST}:{gateway}/api   (docs: http://{HOST}:{gateway}/docs, health: http://{HOST}:{gateway}/)
  connector service  {HOST}:{connector}   (gRPC, reflection on)
  vault              {HOST}:{vault}   (gRPC, internal)
  MongoDB            {mongo}
  metrics            {"  ".join(scrape)}   (Prometheus: gateway, connector service, vault)
  logs               {key_file.parent / "logs"}
dev API key (tenant dev, scope admin, also in {key_file}): {api_key}

  curl -H {auth} http://{HOST}:{gateway}/api/connectors
  grpcurl -plaintext {HOST}:{connector} list
  grpcurl -plaintext {HOST}:{connector} grpc.health.v1.Health/Check
  grpcurl -plaintext -H {grpc_auth} {HOST}:{connector} ucf.connector.v1.ConnectorService/ListConnectors

devstack: ready - press Ctrl-C to stop""",
        flush=True,
    )


def main() -> int:
    if sys.argv[1:] == ["mongodb-url"]:  # for `make api-key`: the same database as `make run`
        print(dev_mongodb_url())
        return 0
    stop_event = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_event.set())
    data_dir = Path(os.environ.get("UCF_DATA_DIR") or ".data").resolve()
    return run(data_dir, stop_event)


if __name__ == "__main__":
    sys.exit(main())
