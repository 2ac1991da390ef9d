"""`make run` = tools/devstack.py: run it as a user would (with a temporary data folder
and free ports), call the gateway with the printed key, then stop it with SIGTERM.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180.0


@dataclass
class Devstack:
    proc: subprocess.Popen[str]
    data_dir: Path
    gateway_port: int
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def read_until(self, pattern: str, timeout: float = READY_TIMEOUT) -> re.Match[str] | None:
        """The first new line matching pattern; None if the process ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                return None
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} after {timeout}s:\n" + "\n".join(self.lines[-40:]))

    def output(self) -> str:
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "\n".join(self.lines)


def _start(tmp_path: Path, **env: str) -> Devstack:
    gateway_port = int(env.get("GATEWAY_PORT") or free_port())
    environment = {
        **os.environ,
        "UCF_DATA_DIR": str(tmp_path / "data"),
        "MONGO_PORT": str(free_port()),
        "VAULT_PORT": str(free_port()),
        "CONNECTOR_PORT": str(free_port()),
        "GATEWAY_PORT": str(gateway_port),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    environment.pop("MONGODB_URL", None)
    environment.pop("VAULT_MONGODB_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "tools/devstack.py"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = Devstack(proc, tmp_path / "data", gateway_port)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stack._queue.put(line.rstrip("\n"))
        stack._queue.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return stack


@pytest.fixture
def devstack(tmp_path: Path) -> Iterator[Devstack]:
    stack = _start(tmp_path)
    try:
        yield stack
    finally:
        if stack.proc.poll() is None:
            stack.proc.send_signal(signal.SIGTERM)
            try:
                stack.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stack.proc.kill()


def _child_pids(lines: list[str]) -> dict[str, int]:
    return {m[1]: int(m[2]) for line in lines if (m := re.search(r"started (\S+) \(pid (\d+)\)", line))}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_serves_the_catalog_and_stops_cleanly_on_sigterm(devstack: Devstack) -> None:
    assert devstack.read_until(r"devstack: ready"), devstack.output()
    printed = next(m[1] for line in devstack.lines if (m := re.search(r"dev API key .*: (ucf_\S+)$", line)))
    assert printed == (devstack.data_dir / "dev-api-key").read_text().strip()
    for secret in ("vault-keys", "vault-client-token", "dev-api-key"):
        assert (devstack.data_dir / secret).stat().st_mode & 0o077 == 0, f"{secret} is readable by others"

    response = httpx.get(
        f"http://127.0.0.1:{devstack.gateway_port}/api/connectors",
        headers={"Authorization": f"Bearer {printed}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    listed = {c["id"] for c in response.json()["data"]["items"]}
    assert {"jira", "confluence", "github", "salesforce", "postgres"} <= listed
    # The Connect link an app hands its end user opens this gateway, on the port make run was given.
    session = httpx.post(
        f"http://127.0.0.1:{devstack.gateway_port}/api/connect-sessions",
        headers={"Authorization": f"Bearer {printed}"},
        json={"workspaceId": "ws-1"},
        timeout=30,
    )
    assert session.status_code == 201, session.text
    assert session.json()["data"]["url"].startswith(f"http://localhost:{devstack.gateway_port}/connect"), session.text

    children = _child_pids(devstack.lines)
    assert set(children) == {"mongodb", "vault", "connector", "gateway"}
    devstack.proc.send_signal(signal.SIGTERM)
    assert devstack.proc.wait(timeout=120) == 0, devstack.output()
    assert not [name for name, pid in children.items() if _alive(pid)]
    assert "devstack: stopped" in devstack.output()


def test_a_child_that_dies_stops_the_rest_and_shows_its_last_lines(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        stack = _start(tmp_path, GATEWAY_PORT=str(taken.getsockname()[1]))
        try:
            code = stack.proc.wait(timeout=READY_TIMEOUT)
        finally:
            if stack.proc.poll() is None:
                stack.proc.kill()
    output = stack.output()
    assert code != 0
    assert "last log lines of gateway" in output
    assert "devstack: ready" not in output
    children = _child_pids(stack.lines)
    assert {"mongodb", "vault", "connector", "gateway"} <= set(children)
    assert not [name for name, pid in children.items() if _alive(pid)]
