"""Runs one benchmark script the way `make bench` does, at whatever tiny size a smoke test gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def run_bench(
    results: Path, name: str, *args: str, timeout: float = 240, latest: str = ""
) -> tuple[dict[str, Any], str]:
    """Runs benchmarks/<name>_bench.py with `args`, writing into `results`; answers its latest
    result file (`<latest or name>-latest.json`) and what it printed. A failing run fails the test."""
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}_bench.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "BENCH_RESULTS_DIR": str(results)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((results / f"{latest or name}-latest.json").read_text()), done.stdout
