"""Smoke test of the scheduler benchmark at a tiny size: it runs and writes its figures.
Nothing here asserts on speed; the figures live in `make bench`."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._runner import run_bench


def test_scheduler_bench_reports_cost_lateness_and_sustained_connections(tmp_path: Path) -> None:
    answer, printed = run_bench(
        tmp_path, "scheduler", "--schedules", "20", "--every", "1", "--seconds", "2.5", timeout=120
    )
    result = answer["result"]
    assert result["schedules"] == 20
    assert result["ticks"] >= 20  # every schedule ticked at least once
    assert result["lateness_p99_ms"] >= result["lateness_p50_ms"]
    assert result["sustained_15min_connections"] > 0
    assert "15-minute connections" in printed
