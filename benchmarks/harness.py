"""Shared parts of the benchmarks: the embedded database and the real processes
on free loopback ports, CPU accounting from /proc, the two load drivers (wrk for
HTTP, `grpc_load.py` for gRPC, each a separate process), A/B round scheduling and
the table/JSON output.

Every load driver reports requests, errors, p50/p99 latency (ms) and the measured
window; `measure` adds the CPU seconds our processes spent in that window.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/x_bench.py` puts benchmarks/ first, not the repo root
    sys.path.insert(0, str(ROOT))

from tests.support.ports import free_port, wait_for_port  # noqa: E402
from tests.support.processes import terminate  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or BENCH_DIR / "results")
HOST = "127.0.0.1"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- processes and CPU ---------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """`pid` and its live descendants (a server may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read()
    except OSError:
        return 0.0
    rest = fields[fields.rindex(b")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / _CLK_TCK


class CpuMeter:
    """CPU seconds of named process trees between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._before: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(p) for p in _tree(pid)) for name, pid in self.pids.items()}

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        return {name: round(after[name] - self._before.get(name, 0.0), 3) for name in self.pids}


@contextmanager
def database(cache_size: str | None = None, oplog_entries: int | None = None) -> Iterator[tuple[str, int]]:
    """SecantusDB in memory on a free port: yields (mongodb URL, pid). `cache_size` (e.g. "4G") bounds what
    the in-memory store can hold (SecantusDB's default, 1G, answers InternalError once it is full).
    `oplog_entries` raises the oplog's entry cap (default 100,000): past it SecantusDB prunes the oldest
    entries as it writes, a cost that would fall on whichever mode runs after the cap is reached."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            HOST,
            "--port",
            str(port),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
            *(["--cache-size", cache_size] if cache_size else []),
            *(["--oplog-max-entries", str(oplog_entries)] if oplog_entries else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"mongodb://{HOST}:{port}/?directConnection=true", proc.pid
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    terminate(proc, timeout)


@contextmanager
def stack(folder: Path, mongo_url: str, extra_env: dict[str, str] | None = None) -> Iterator[Any]:
    """The real vault, connector service and gateway (tests/support/stack.py) with their default
    logging (INFO, JSON lines to files under `folder`): a deployment logs, so the benchmark does too."""
    from tests.support.stack import LocalStack

    with LocalStack(folder, mongo_url, extra_env=extra_env) as running:
        yield running


# --- load drivers -----------------------------------------------------------------------


@dataclass
class Run:
    """One load run against one target at one concurrency."""

    target: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request_ms(self) -> float:
        """CPU milliseconds per request, summed over our processes."""
        return 1000 * sum(self.cpu.values()) / self.requests if self.requests else 0.0


def wrk(
    url: str, *, concurrency: int, seconds: float, headers: dict[str, str], target: str, meter: CpuMeter | None = None
) -> Run:
    """HTTP load with wrk (C, separate process); the Lua `done` hook prints a JSON summary."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y --no-install-recommends wrk")
    command = [
        "wrk",
        "-t",
        str(min(2, concurrency)),
        "-c",
        str(concurrency),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH_DIR / "wrk_report.lua"),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if meter:
        meter.start()
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    cpu = meter.stop() if meter else {}
    line = next(line for line in out.splitlines() if line.startswith("{"))
    report = json.loads(line)
    return Run(
        target,
        concurrency,
        report["requests"],
        report["errors"],
        report["seconds"],
        report["p50_us"] / 1000,
        report["p99_us"] / 1000,
        cpu,
    )


class GrpcLoad:
    """A `grpc_load.py` client process, warmed up and waiting for `run()`."""

    def __init__(self, args: Sequence[str]):
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "grpc_load.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self.proc.stdout.readline()  # type: ignore[union-attr]
        if ready.strip() != "ready":
            stop(self.proc)
            raise RuntimeError(f"grpc_load did not start: {ready!r}")

    def run(self, target: str, concurrency: int, meter: CpuMeter | None = None) -> Run:
        if meter:
            meter.start()
        self.proc.stdin.write("go\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        cpu = meter.stop() if meter else {}
        self.proc.wait(timeout=30)
        report = json.loads(line)
        return Run(
            target,
            concurrency,
            report["requests"],
            report["errors"],
            report["seconds"],
            report["p50_ms"],
            report["p99_ms"],
            cpu,
        )


def grpc_load(
    address: str,
    method: str,
    *,
    concurrency: int,
    seconds: float,
    api_key: str,
    connection_id: str = "",
    target: str,
    meter: CpuMeter | None = None,
) -> Run:
    load = GrpcLoad(
        [
            "--address",
            address,
            "--method",
            method,
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
            "--api-key",
            api_key,
            "--connection-id",
            connection_id,
        ]
    )
    return load.run(target, concurrency, meter)


# --- rounds, summary, output --------------------------------------------------------------


def alternate(targets: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """A/B/C…, then …C/B/A, so slow drift of the machine lands on every target alike."""
    for r in range(rounds):
        for target in targets if r % 2 == 0 else list(reversed(targets)):
            yield r, target


def summarise(runs: list[Run]) -> dict[str, Any]:
    """Medians over the rounds of one (target, concurrency)."""
    return {
        "rps": round(statistics.median(r.rps for r in runs), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 3),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 3),
        "cpu_ms_per_request": round(statistics.median(r.cpu_per_request_ms for r in runs), 3),
        "errors": sum(r.errors for r in runs),
        "rounds": len(runs),
        "cpu_by_process_ms_per_request": {
            name: round(statistics.median(1000 * r.cpu.get(name, 0.0) / max(r.requests, 1) for r in runs), 3)
            for name in runs[0].cpu
        },
        "runs": [{**asdict(r), "rps": round(r.rps, 1)} for r in runs],
    }


def table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A plain text table; `columns` are (key, header)."""
    cells = [[header for _, header in columns]]
    for row in rows:
        cells.append([_fmt(row.get(key)) for key, _ in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    body = json.dumps(payload, indent=2, sort_keys=False)
    path.write_text(body + "\n")
    (RESULTS_DIR / f"{name}-latest.json").write_text(body + "\n")
    return path


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_ints(name: str, default: str) -> list[int]:
    return [int(part) for part in os.environ.get(name, default).split(",") if part.strip()]


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)
