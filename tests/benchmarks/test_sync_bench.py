"""Smoke test of the sync benchmark at a tiny size: a raw copy and a full sync of the same
generated table, both counted exactly, the synced records read back from the feed, and the
figures written. Nothing here asserts on
speed; the figures live in `make bench`."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks._runner import run_bench

ROWS = 120


def test_sync_bench_copies_and_syncs_every_row_and_writes_its_figures(tmp_path: Path) -> None:
    result, printed = run_bench(tmp_path, "sync", "--rows", str(ROWS), "--rounds", "1", timeout=300)
    assert (result["benchmark"], result["rows"], result["rounds"]) == ("sync", ROWS, 1)
    assert set(result["results"]) == {"raw", "sync"}
    for mode in ("raw", "sync"):
        [run] = result["results"][mode]["runs"]
        assert run["rows"] == ROWS
        assert run["rows_per_s"] > 0
    assert result["results"]["sync"]["runs"][0]["feed_records_per_s"] > 0  # read back the whole feed
    assert result["ratio_sync_raw"] > 0
    assert "goal: sync/raw" in printed
