"""Schemathesis with every check over the whole OpenAPI document, against the real three
processes: every answer matches its documented status, content type, headers and schema,
schema-valid requests are accepted, invalid ones refused, and 405s carry `Allow`.

Only the operations that may dial a provider are left out (onboarding callbacks, probe,
validate, revoke, token reads that may refresh, resources, jobs, webhook registration,
the OAuth callback), so the fuzzer never makes the connector service call out. The run is
bounded by a small number of examples per operation.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = int(os.environ.get("UCF_SCHEMATHESIS_MAX_EXAMPLES", "8"))
DIALS_A_PROVIDER = (
    r"^/api/(connectors/\{connector_id\}/(probe|connect/callback|validate|revoke|containers|items"
    r"|items/\{item_id\}|comments|jobs|webhooks)"
    r"|connections/(validate|revoke|\{connection_id\}/(validate|revoke|token))|oauth/callback|proxy/\{path\})$"
)


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("schemathesis"), mongo_url) as running:
        yield running


def test_exclusions_are_only_operations_that_dial_a_provider(stack: LocalStack) -> None:
    paths = httpx.get(stack.gateway_url + "/openapi.json", timeout=30).json()["paths"]
    excluded = {path for path in paths if re.match(DIALS_A_PROVIDER, path)}
    connector, connection = "/api/connectors/{connector_id}", "/api/connections"
    assert excluded == {
        *(f"{connector}/{tail}" for tail in ("probe", "connect/callback", "validate", "revoke", "containers",
                                            "items", "items/{item_id}", "comments", "jobs", "webhooks")),
        *(f"{connection}/{tail}" for tail in ("validate", "revoke", "{connection_id}/validate",
                                             "{connection_id}/revoke", "{connection_id}/token")),
        "/api/oauth/callback",
        "/api/proxy/{path}",
    }  # fmt: skip
    assert len(paths) - len(excluded) >= 15


#: Operations whose acceptance of a schema-valid body depends on data no schema holds (the
#: operator's minimum schedule interval, the tenant's allowed origins and connectors, URL and
#: id forms JSON Schema only approximates): every check but positive_data_acceptance runs there.
DATA_DEPENDENT = r"^/api/(tenant-settings|connect-sessions|event-endpoints|connections/\{connection_id\}/schedule)$"


def _schemathesis(stack: LocalStack, tmp_path: Path, *selection: str) -> str:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(CONFIG),
        "run", stack.gateway_url + "/openapi.json",
        "--header", f"Authorization: Bearer {stack.api_key}",
        "--max-examples", str(MAX_EXAMPLES),
        "--workers", "1",
        "--seed", "1",
        "--no-color",
        *selection,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-20000:]
    assert re.search(r"\d+ generated, \d+ passed", report), report[-4000:]
    return report


def test_schemathesis_with_all_checks_finds_nothing(stack: LocalStack, tmp_path: Path) -> None:
    _schemathesis(
        stack, tmp_path, "--checks", "all", "--exclude-path-regex", f"({DIALS_A_PROVIDER})|({DATA_DEPENDENT})"
    )


def test_data_dependent_operations_pass_every_other_check(stack: LocalStack, tmp_path: Path) -> None:
    _schemathesis(
        stack, tmp_path, "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--include-path-regex", DATA_DEPENDENT,
    )  # fmt: skip
