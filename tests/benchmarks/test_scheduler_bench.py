"""Smoke test of the scheduler benchmark at a tiny size: it runs and writes its figures.
Nothing here asserts on speed; the figures live in `make bench`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "scheduler_bench.py"


def test_scheduler_bench_reports_cost_lateness_and_sustained_connections(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--schedules", "20", "--every", "1", "--seconds", "2.5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "scheduler-latest.json").read_text())["result"]
    assert result["schedules"] == 20
    assert result["ticks"] >= 20  # every schedule ticked at least once
    assert result["lateness_p99_ms"] >= result["lateness_p50_ms"]
    assert result["sustained_15min_connections"] > 0
    assert "15-minute connections" in done.stdout
