"""Smoke tests of the benchmark harness: each driver produces a result. Nothing here
asserts on speed — figures live in `make bench`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from pymongo import MongoClient

from benchmarks import harness
from tests.benchmarks._runner import run_bench
from tests.support.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
KEY_ID, SECRET = "0123456789abcdef", "s" * 40
API_KEY = f"ucf_{KEY_ID}_{SECRET}"


def test_alternate_reverses_every_other_round() -> None:
    order = [target for _, target in harness.alternate(["a", "b", "c"], 2)]
    assert order == ["a", "b", "c", "c", "b", "a"]


def test_summary_and_table_carry_every_run() -> None:
    runs = [
        harness.Run("rest", 16, 1000, 0, 2.0, 1.0, 3.0, {"gateway": 0.5}),
        harness.Run("rest", 16, 3000, 1, 2.0, 2.0, 5.0, {"gateway": 0.9}),
    ]
    summary = harness.summarise(runs)
    assert summary["rounds"] == 2 and summary["errors"] == 1 and summary["rps"] == 1000.0
    assert set(summary["cpu_by_process_ms_per_request"]) == {"gateway"}
    text = harness.table([{"target": "rest", "rps": summary["rps"]}], [("target", "target"), ("rps", "req/s")])
    assert "rest" in text and "req/s" in text


def test_cpu_meter_reads_this_process() -> None:
    meter = harness.CpuMeter({"me": os.getpid()})
    meter.start()
    sum(range(200_000))
    assert meter.stop()["me"] >= 0.0


@pytest.fixture
def baseline(mongo_url: str, db_suffix: str, tmp_path: Path) -> Iterator[str]:
    """The baseline app over one sealed secret, as the vault writes it."""
    from vault_service.keyring import KeyRing, SecretIdentity

    key = Fernet.generate_key().decode()
    (tmp_path / "keys").write_text(f"k1:{key}\n")
    key_id, ciphertext = KeyRing.from_text(f"k1:{key}").seal(
        SecretIdentity("dev", "conn1", "oauth2_tokens", 1), {"accessToken": "tok", "tokenType": "Bearer"}
    )
    with MongoClient(mongo_url) as client:
        client[f"v_{db_suffix}"].secrets.insert_one(
            {
                "tenant_id": "dev",
                "owner_id": "conn1",
                "kind": "oauth2_tokens",
                "version": 1,
                "key_id": key_id,
                "ciphertext": ciphertext,
            }
        )
        client[f"u_{db_suffix}"].api_keys.insert_one(
            {
                "_id": KEY_ID,
                "tenant_id": "dev",
                "scopes": ["admin"],
                "revoked": False,
                "secret_hash": hashlib.sha256(SECRET.encode()).hexdigest(),
            }
        )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "baseline_app.py"),
            "--port",
            str(port),
            "--mongodb-url",
            mongo_url,
            "--db",
            f"u_{db_suffix}",
            "--vault-db",
            f"v_{db_suffix}",
            "--keys-file",
            str(tmp_path / "keys"),
        ]
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}/api/connections/conn1/token"
    finally:
        harness.stop(proc)


def test_baseline_app_answers_the_token_and_refuses_a_wrong_key(baseline: str) -> None:
    answer = httpx.get(baseline, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["data"]["accessToken"] == "tok"
    refused = httpx.get(baseline, headers={"Authorization": "Bearer ucf_0123456789abcdef_" + "x" * 40}, timeout=30)
    assert refused.status_code == 401


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_driver_reports_requests_latency_and_cpu(baseline: str) -> None:
    run = harness.wrk(
        baseline,
        concurrency=2,
        seconds=1,
        headers={"Authorization": f"Bearer {API_KEY}"},
        target="baseline",
        meter=harness.CpuMeter({"self": os.getpid()}),
    )
    assert run.requests > 0 and run.errors == 0 and run.p99_ms >= run.p50_ms > 0 and "self" in run.cpu


_STACK_MISSING = [
    m
    for m in ("vault_service.__main__", "connector_service.vault.client", "gateway.__main__")
    if importlib.util.find_spec(m) is None
]


def _run_bench(results: Path, name: str, *args: str) -> dict:
    """Runs benchmarks/<name>_bench.py with `args`, writing into `results`; its latest result."""
    latest = "token-observability" if "--compare-observability" in args else name
    return run_bench(results, name, *args, latest=latest)[0]


@pytest.mark.integration
@pytest.mark.skipif(
    bool(_STACK_MISSING) or shutil.which("wrk") is None, reason=f"needs wrk and the three processes: {_STACK_MISSING}"
)
def test_token_bench_writes_a_result_file(tmp_path: Path) -> None:
    result = _run_bench(tmp_path, "token", "--seconds", "0.5", "--rounds", "1", "--concurrency", "2")
    assert set(result["results"]["2"]) == {"baseline", "baseline_auth", "rest", "grpc", "connectors"}
    assert {"rest/baseline", "rest/baseline_auth", "grpc/baseline"} <= set(result["ratios"]["2"])
    assert all(summary["errors"] == 0 for summary in result["results"]["2"].values())


@pytest.mark.integration
@pytest.mark.skipif(
    bool(_STACK_MISSING) or shutil.which("wrk") is None, reason=f"needs wrk and the three processes: {_STACK_MISSING}"
)
def test_token_bench_compares_observability_modes_round_by_round(tmp_path: Path) -> None:
    result = _run_bench(
        tmp_path, "token", "--compare-observability", "--seconds", "0.5", "--rounds", "2", "--concurrency", "2"
    )
    by_mode = result["results"]["2"]
    assert set(by_mode) == {"rest@off", "rest@metrics", "rest@tracing"}
    assert all(summary["rounds"] == 2 and summary["errors"] == 0 for summary in by_mode.values())
    assert {"metrics/off", "tracing/off"} <= set(result["ratios"]["2"])


@pytest.mark.integration
@pytest.mark.skipif(bool(_STACK_MISSING), reason=f"needs the connector service: {_STACK_MISSING}")
def test_audit_bench_measures_every_layout(tmp_path: Path) -> None:
    result = _run_bench(tmp_path, "audit", "--records", "16", "--rounds", "1", "--batches", "1,8")
    for size in ("1", "8"):
        assert set(result["medians"][size]) == {
            "documents+retry",
            "documents",
            "segments+retry",
            "segments",
            "segments-noindex",
        }
        assert all(m["records_per_s"] > 0 for m in result["medians"][size].values())
