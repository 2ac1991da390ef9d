"""A connector service in-process with the GitHub connector against the GitHub
fake, a GitHub connection, and a local HTTP server standing in for the
tenant's callback endpoint."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.jira import JiraConnector
from connector_service.connectors.registry import ConnectorRegistry
from ucf.connector.v1 import connectors_pb2 as cpb

from tests.connector_service.fake_vault import FakeVault
from tests.connector_service.harness import Stack, api_key_provider, auth, providers_file, start_stack
from tests.fakes.github_server import TOKEN, FakeGitHub


@dataclass
class Callback:
    """What the tenant's endpoint received; it answers `status` to every POST."""

    url: str = ""
    status: int = 204
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def callback() -> Iterator[Callback]:
    box = Callback()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            box.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(box.status)
            self.send_header("content-length", "0")
            self.end_headers()
            box.arrived.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/ucf"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


@dataclass
class HookEnv:
    stack: Stack
    github: FakeGitHub
    key: str
    connection_id: str

    def auth(self) -> list[tuple[str, str]]:
        return auth(self.key)


@pytest.fixture
async def hook_env(mongo_url: str, db_suffix: str, tmp_path: Path) -> AsyncIterator[HookEnv]:
    fake = FakeGitHub(repos=2)
    with fake.serve():
        providers = providers_file(
            tmp_path,
            api_key_provider("github", "GitHub (test)", fake.base_url, verify_path="/user"),
            api_key_provider("jira", "Jira (test)", fake.base_url),
        )
        settings = {
            "ucf_job_concurrency": 0,
            "ucf_job_poll_seconds": 0.05,
            "ucf_webhook_forward_attempts": 3,
            "ucf_webhook_retry_base_seconds": 0.01,
            "ucf_public_url": "https://ucf.example.test",
        }
        async with (
            httpx.AsyncClient(timeout=10) as http,
            start_stack(
                mongo_url,
                f"ucf_{db_suffix}",
                FakeVault(),
                http,
                providers_file=providers,
                registry=ConnectorRegistry([GitHubConnector, JiraConnector]),
                **settings,
            ) as stack,
        ):
            key = await stack.key()
            done = await stack.connectors.ConnectCallback(
                cpb.ConnectCallbackRequest(connector_id="github", workspace_id="ws1", api_key=TOKEN), metadata=auth(key)
            )
            yield HookEnv(stack, fake, key, done.connection_id)
