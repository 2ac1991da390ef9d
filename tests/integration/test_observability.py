"""Issue 18 over real processes: each of the three serves Prometheus metrics whose counters move
with real requests, a caller's W3C `traceparent` reaches spans (and log lines) of the gateway,
the connector service and the vault, and no canary — workspace id, token, raw path — shows up
in any metric.

Spans go to a file: `OTEL_TRACES_EXPORTER=jsonl` with `UCF_TRACES_FILE` (ucf_common.tracing).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.stack import LocalStack

pytestmark = pytest.mark.integration

TOKEN_ROUTE = "/api/connections/{connection_id}/token"


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("observability")
    env = {"OTEL_TRACES_EXPORTER": "jsonl", "UCF_TRACES_FILE": str(folder / "spans.jsonl")}
    with LocalStack(folder / "stack", mongo_url, extra_env=env) as running:
        yield running


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=60) as client:
        yield client


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, keyed by (sample name, sorted labels)."""
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def urls(stack: LocalStack) -> dict[str, str]:
    return {
        "gateway": stack.gateway_url + "/metrics",
        "connector": stack.connector_metrics_url,
        "vault": stack.vault_metrics_url,
    }


def store_token(api: httpx.Client, workspace: str, token: str, **headers: str) -> str:
    stored = api.post(
        "/api/connections/token",
        json={"connectorId": "github", "workspaceId": workspace, "token": token},
        headers=headers,
    )
    assert stored.status_code == 200, stored.text
    return stored.json()["data"]["id"]


def test_counters_of_every_process_move_with_real_requests(stack: LocalStack, api: httpx.Client) -> None:
    before = {name: scrape(url) for name, url in urls(stack).items()}
    connection_id = store_token(api, "ws-metrics", "ghp_" + secrets.token_hex(16))
    for _ in range(3):
        assert api.get(f"/api/connections/{connection_id}/token").status_code == 200
    after = {name: scrape(url) for name, url in urls(stack).items()}

    token_reads = ("ucf_http_requests_total", {"method": "GET", "route": TOKEN_ROUTE, "status": "200"})
    assert (
        value(after["gateway"], token_reads[0], **token_reads[1])
        - value(before["gateway"], token_reads[0], **token_reads[1])
        == 3
    )
    assert value(after["gateway"], "ucf_http_request_duration_seconds_count", method="GET", route=TOKEN_ROUTE) >= 3

    get_token = {"method": "/ucf.connector.v1.ConnectionService/GetToken", "code": "OK"}
    assert (
        value(after["connector"], "ucf_rpc_requests_total", **get_token)
        - value(before["connector"], "ucf_rpc_requests_total", **get_token)
        == 3
    )
    reads = {
        source: value(after["connector"], "ucf_credential_reads_total", source=source, tenant="")
        - value(before["connector"], "ucf_credential_reads_total", source=source, tenant="")
        for source in ("vault", "cache")
    }
    assert reads == {"vault": 1, "cache": 2}
    assert value(after["connector"], "ucf_audit_batch_records_count") > value(
        before["connector"], "ucf_audit_batch_records_count"
    )

    put = {"method": "/ucf.vault.v1.VaultService/PutSecret", "code": "OK"}
    assert (
        value(after["vault"], "ucf_rpc_requests_total", **put) - value(before["vault"], "ucf_rpc_requests_total", **put)
        == 1
    )
    assert value(after["vault"], "ucf_vault_audit_append_duration_seconds_count") > value(
        before["vault"], "ucf_vault_audit_append_duration_seconds_count"
    )
    assert value(after["vault"], "ucf_vault_primary_key_info", key_id="test1") == 1


def test_metrics_are_answered_without_an_api_key_and_without_an_access_line(stack: LocalStack) -> None:
    answer = httpx.get(stack.gateway_url + "/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "GET /metrics" not in stack.log_text("gateway")


def read_spans(path: Path, trace_id: str, parent: str, timeout: float = 20.0) -> list[dict]:
    """The spans of `trace_id`, once the gateway's root span (a span ends after its answer left,
    so it may be written after the caller got the reply) and the other hops' spans are there."""
    wanted = {("ucf-gateway", "SERVER"), ("ucf-gateway", "CLIENT"), ("ucf-connector", "SERVER")}
    wanted |= {("ucf-connector", "CLIENT"), ("ucf-vault", "SERVER")}
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        spans = [span for span in map(json.loads, lines) if span["trace_id"] == trace_id]
        seen = {(span["service"], span["kind"]) for span in spans}
        rooted = any(span["parent_span_id"] == parent for span in spans)
        if (wanted <= seen and rooted) or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


def traced_lines(stack: LocalStack, name: str, trace_id: str, timeout: float = 20.0) -> list[dict]:
    """`name`'s log lines that carry `trace_id`, once there is one: a process writes its access
    line after the answer left, and the log file may be flushed after the spans were read."""
    deadline = time.monotonic() + timeout
    while True:
        traced = [json.loads(line) for line in stack.log_text(name).splitlines() if trace_id in line]
        if traced or time.monotonic() > deadline:
            return traced
        time.sleep(0.2)


def test_a_callers_traceparent_reaches_spans_and_log_lines_of_all_three(stack: LocalStack, api: httpx.Client) -> None:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    store_token(api, "ws-trace", "ghp_" + secrets.token_hex(16), traceparent=f"00-{trace_id}-{parent}-01")

    spans = read_spans(Path(stack.env["UCF_TRACES_FILE"]), trace_id, parent)
    assert {span["service"] for span in spans} == {"ucf-gateway", "ucf-connector", "ucf-vault"}
    root = [span for span in spans if span["parent_span_id"] == parent]
    assert [(span["service"], span["kind"]) for span in root] == [("ucf-gateway", "SERVER")]
    kinds = {(span["service"], span["kind"]) for span in spans}
    assert {("ucf-gateway", "CLIENT"), ("ucf-connector", "SERVER"), ("ucf-connector", "CLIENT")} <= kinds
    assert ("ucf-vault", "SERVER") in kinds
    database = [span for span in spans if span["attributes"].get("db.system") == "mongodb"]
    assert {span["service"] for span in database} >= {"ucf-connector", "ucf-vault"}

    for name in ("gateway", "connector", "vault"):
        traced = traced_lines(stack, name, trace_id)
        assert traced, f"no {name} log line carries the trace id"
        assert all(entry["trace_id"] == trace_id and entry["request_id"] != "-" for entry in traced)


def test_no_canary_appears_in_any_metric(stack: LocalStack, api: httpx.Client) -> None:
    canary = "canary" + uuid.uuid4().hex[:12]
    token = f"ghp_{canary}{secrets.token_hex(8)}"
    connection_id = store_token(api, f"ws-{canary}", token)
    assert api.get(f"/api/connections/{connection_id}/token").status_code == 200
    api.get(f"/api/{canary}/nothing-here")
    api.get(f"/api/connections/{canary}/token")
    api.get("/api/connections", params={"workspaceId": f"ws-{canary}"})
    api.post("/api/connections/token", json={"connectorId": canary, "workspaceId": canary, "token": token})
    for name, url in urls(stack).items():
        page = httpx.get(url, timeout=10).text
        assert canary not in page, name
        assert connection_id not in page, name
