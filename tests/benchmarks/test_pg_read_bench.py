"""Smoke test of the PostgreSQL read benchmark at a tiny size: every mode reads every row through
the real stack and the figures come out in their documented shape. Nothing here asserts on speed;
the figures live in `make bench` and benchmarks/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.benchmarks._runner import run_bench

pytestmark = pytest.mark.integration

MODES = ("raw", "raw_paged", "grpc_stream", "rest_stream", "grpc", "rest")
ROWS = 450  # more than two pages of 200 and than one stream batch of 250


def test_pg_read_bench_reads_every_row_in_every_mode(tmp_path: Path) -> None:
    result, printed = run_bench(tmp_path, "pg_read", "--rows", str(ROWS), "--rounds", "1", "--modes", ",".join(MODES))
    assert result["benchmark"] == "pg_read" and result["rows"] == ROWS
    assert set(result["results"]) == set(MODES)
    for mode, summary in result["results"].items():
        assert [run["rows"] for run in summary["runs"]] == [ROWS], mode
        assert summary["rows_per_s"] > 0 and summary["cpu_ms_per_1000_rows"] >= 0
    assert set(result["ratios"]) == {f"{mode}/raw" for mode in MODES if mode != "raw"}
    assert isinstance(result["connector_rss_growth_mb"], float | int)
    assert "goal: grpc_stream/raw" in printed and "connector resident memory growth" in printed
