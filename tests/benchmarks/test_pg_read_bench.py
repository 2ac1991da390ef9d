"""Smoke test of the PostgreSQL read benchmark at a tiny size: every mode reads every row through
the real stack and the figures come out in their documented shape. Nothing here asserts on speed;
the figures live in `make bench` and benchmarks/README.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "pg_read_bench.py"
MODES = ("raw", "raw_paged", "grpc_stream", "rest_stream", "grpc", "rest")
ROWS = 450  # more than two pages of 200 and than one stream batch of 250


def test_pg_read_bench_reads_every_row_in_every_mode(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", str(ROWS), "--rounds", "1", "--modes", ",".join(MODES)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "pg_read-latest.json").read_text())
    assert result["benchmark"] == "pg_read" and result["rows"] == ROWS
    assert set(result["results"]) == set(MODES)
    for mode, summary in result["results"].items():
        assert [run["rows"] for run in summary["runs"]] == [ROWS], mode
        assert summary["rows_per_s"] > 0 and summary["cpu_ms_per_1000_rows"] >= 0
    assert set(result["ratios"]) == {f"{mode}/raw" for mode in MODES if mode != "raw"}
    assert isinstance(result["connector_rss_growth_mb"], float | int)
    assert "goal: grpc_stream/raw" in done.stdout and "connector resident memory growth" in done.stdout
