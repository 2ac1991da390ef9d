"""The request limits against the real `python -m gateway` process (uvicorn, httptools), so
they hold whatever the server's own limits are: resident memory stays flat under a 60 MB
unauthenticated body, and header floods get 431. No connector service is needed: nothing
here may reach it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port, wait_for_port
from tests.support.processes import terminate

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, int]]:
    """(base URL, port, pid) of a gateway whose connector service address answers nothing."""
    port = free_port()
    env = {
        **os.environ, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port),
        "CONNECTOR_ADDRESS": f"127.0.0.1:{free_port()}", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway"], env=env, cwd=Path(__file__).parents[2], stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}", port, proc.pid
    finally:
        terminate(proc, 20)


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _stream(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    chunk = b"x" * size
    for _ in range(total // size):
        yield chunk


def _assert_413(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "invalid_request"


def test_60_mb_unauthenticated_body_is_refused_with_memory_flat(gateway: tuple[str, int, int]) -> None:
    url, _, pid = gateway
    httpx.get(url + "/api/connectors", timeout=10)  # warm up: imports and first-request allocations
    before = _rss_bytes(pid)
    with httpx.Client(timeout=60) as client:
        _assert_413(client.post(url + "/api/connections", content=_stream(60 * MiB)))  # chunked
        declared = client.post(url + "/api/connections", content=b"x" * (60 * MiB))  # Content-Length
        _assert_413(declared)
    assert _rss_bytes(pid) - before < 32 * MiB


def test_refusal_comes_before_the_body_is_sent(gateway: tuple[str, int, int]) -> None:
    """Two of 60 declared megabytes sent, then the client waits: the 413 must already come."""
    _, port, _ = gateway
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(b"POST /api/connections HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(32):
            sock.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"code":"invalid_request"' in answer


def _read_response(sock: socket.socket) -> bytes:
    """One HTTP response with a Content-Length body: head and body may come in separate segments."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(f"x-h{i}", "v") for i in range(10_000)], id="10000-headers"),
        pytest.param({"X-Big": "b" * MiB}, id="1-mb-header"),
    ],
)
def test_header_floods_are_431(gateway: tuple[str, int, int], headers: object) -> None:
    url, _, _ = gateway
    response = httpx.get(url + "/api/connections", headers=headers, timeout=30)  # type: ignore[arg-type]
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "invalid_request"
