"""The README's REST and gRPC examples, run as written against the real three processes
(addresses and the `.data` folder swapped for the test stack's): each curl line answers the
envelope it promises, the `grep` finds the request id in all three processes' logs, and the
grpcurl lines (where grpcurl is installed) answer, the vault's with an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _block(after: str) -> list[str]:
    """The command lines of the first ```sh block after `after`, continuation lines joined."""
    text = README.split(after, 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            commands.append(pending.strip())
            pending = ""
    return commands


REST = _block("OpenAPI:")
GRPC = _block("## Calling it over gRPC")


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("readme"), mongo_url) as running:
        yield running


def _run(stack: LocalStack, command: str) -> subprocess.CompletedProcess[str]:
    command = (
        command.replace("localhost:8000", stack.gateway_url.removeprefix("http://"))
        .replace("localhost:50051", stack.connector_address)
        .replace("localhost:50052", stack.vault_address)
        .replace(".data/", f"{stack.folder}/")
    )
    env = {**os.environ, "KEY": stack.api_key, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60, check=False)


def _body(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_readme_rest_examples_do_what_they_say(stack: LocalStack) -> None:
    assert REST[0] == "KEY=$(cat .data/dev-api-key)"
    assert _run(stack, "cat .data/dev-api-key").stdout.strip() == stack.api_key
    connection_id = ""
    for command in REST[1:]:
        command = command.replace("<connection id>", connection_id)
        done = _run(stack, command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        if command.startswith("grep"):
            services = {json.loads(line)["service"] for line in done.stdout.splitlines()}
            assert services == {"gateway", "connector", "vault"}, done.stdout
        elif "Authorization" not in command and "api/" in command:
            assert " 401 " in done.stdout.splitlines()[0] and '"unauthenticated"' in done.stdout
        else:
            body = _body(done.stdout)
            assert body["ok"] is True, (command, done.stdout)
            if command.startswith("curl -si") and "connections/token" in command:
                assert "x-request-id: abc" in done.stdout.lower()
                connection_id = body["data"]["id"]


@pytest.mark.skipif(shutil.which("grpcurl", path=str(Path(sys.executable).parent)) is None, reason="no grpcurl")
def test_readme_grpc_examples_do_what_they_say(stack: LocalStack) -> None:
    assert len(GRPC) == 4
    for command in GRPC:
        done = _run(stack, command)
        if "50052" in command:  # the vault: reflection is off
            assert done.returncode != 0 and "reflection" in (done.stdout + done.stderr).lower(), done
        else:
            assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert "ucf.connector.v1.ConnectorService" in _run(stack, GRPC[0]).stdout
    assert '"SERVING"' in _run(stack, GRPC[1]).stdout
    assert '"github"' in _run(stack, GRPC[2]).stdout
