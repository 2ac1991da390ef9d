"""Smoke test of the sync benchmark at a tiny size: a raw copy and a full sync of the same
generated table, both counted exactly, and the figures written. Nothing here asserts on
speed; the figures live in `make bench`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "sync_bench.py"
ROWS = 120


def test_sync_bench_copies_and_syncs_every_row_and_writes_its_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", str(ROWS), "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "BENCH_RESULTS_DIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((tmp_path / "sync-latest.json").read_text())
    assert (result["benchmark"], result["rows"], result["rounds"]) == ("sync", ROWS, 1)
    assert set(result["results"]) == {"raw", "sync"}
    for mode in ("raw", "sync"):
        [run] = result["results"][mode]["runs"]
        assert run["rows"] == ROWS
        assert run["rows_per_s"] > 0
    assert result["ratio_sync_raw"] > 0
    assert "goal: sync/raw" in done.stdout
