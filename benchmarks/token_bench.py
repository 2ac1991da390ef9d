"""Token read benchmark (issue 7): the three-process path against a one-process baseline.

Starts SecantusDB, the vault, the connector service and the gateway on free loopback
ports (tests/support/stack.py), stores a valid non-expiring token for a GitHub
connection, starts `baseline_app.py` against the same database, then at each
concurrency runs, in alternating rounds:

    baseline    wrk  GET /api/connections/{id}/token on the baseline app
    rest        wrk  GET /api/connections/{id}/token through the gateway
    grpc        grpc_load.py ConnectionService.GetToken straight to the connector service
    connectors  wrk  GET /api/connectors through the gateway

Prints req/s, p50/p99 and CPU ms per request (summed over the processes on the
path, database included) and the ratios rest/baseline and grpc/baseline; writes
benchmarks/results/token-<time>.json and token-latest.json.

    python benchmarks/token_bench.py [--seconds 5] [--rounds 2] [--concurrency 1,16,64]
                                     [--targets baseline,rest,grpc,connectors] [--profile DIR]
                                     [--observability metrics|off|tracing]

`--observability` (issue 18) chooses what the three processes run with: `metrics` (the default
of a deployment: Prometheus metrics on, tracing off), `off` (no metrics: GATEWAY_METRICS_ENABLED
=false, metrics ports 0) or `tracing` (metrics on, every request traced to an in-memory span
exporter). `--compare-observability` runs the `rest` target under all three, one fresh stack
each, and prints req/s with metrics/off (goal ≥ 0.95) and tracing/off:

    python benchmarks/token_bench.py --compare-observability --seconds 5 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import httpx

TARGETS = ("baseline", "rest", "grpc", "connectors")
#: Which processes each target's requests run through (CPU is summed over these).
PATHS = {
    "baseline": ("baseline", "db"),
    "rest": ("gateway", "connector", "vault", "db"),
    "grpc": ("connector", "vault", "db"),
    "connectors": ("gateway", "connector", "db"),
}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=harness.env_float("BENCH_SECONDS", 5))
    parser.add_argument("--rounds", type=int, default=int(harness.env_float("BENCH_ROUNDS", 2)))
    parser.add_argument("--concurrency", default=",".join(map(str, harness.env_ints("BENCH_CONCURRENCY", "1,16,64"))))
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--profile", type=Path, help="record py-spy flame graphs of the servers into DIR")
    parser.add_argument("--observability", choices=tuple(OBSERVABILITY), default="metrics")
    parser.add_argument("--compare-observability", action="store_true")
    return parser.parse_args()


#: The processes' environment under each `--observability` mode.
OBSERVABILITY = {
    "off": {"GATEWAY_METRICS_ENABLED": "false", "CONNECTOR_METRICS_PORT": "0", "VAULT_METRICS_PORT": "0"},
    "metrics": {"OTEL_TRACES_EXPORTER": "none"},
    "tracing": {"OTEL_TRACES_EXPORTER": "memory"},
}


def _compare(args: argparse.Namespace) -> None:
    """`rest` under each mode, one fresh stack each; req/s by concurrency and the ratios to `off`."""
    rps: dict[str, dict[str, float]] = {}
    for mode in OBSERVABILITY:
        command = [sys.executable, __file__, "--targets", "rest", "--observability", mode]
        command += ["--seconds", str(args.seconds), "--rounds", str(args.rounds), "--concurrency", args.concurrency]
        subprocess.run(command, check=True)
        latest = json.loads((harness.BENCH_DIR / "results" / "token-latest.json").read_text())
        rps[mode] = {c: by_target["rest"]["rps"] for c, by_target in latest["results"].items()}
    for concurrency, off in rps["off"].items():
        metrics, traced = rps["metrics"][concurrency], rps["tracing"][concurrency]
        print(
            f"c={concurrency}: off {off:.0f} req/s, metrics {metrics:.0f} ({metrics / off:.3f} of off, goal ≥ 0.95), "
            f"metrics+tracing {traced:.0f} ({traced / off:.3f} of off)"
        )


def _start_baseline(stack: Any, mongo_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = harness.free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(harness.BENCH_DIR / "baseline_app.py"),
            "--port",
            str(port),
            "--mongodb-url",
            mongo_url,
            "--db",
            stack.env["MONGODB_DB"],
            "--vault-db",
            stack.env["VAULT_MONGODB_DB"],
            "--keys-file",
            stack.env["VAULT_KEYS_FILE"],
        ],
        stdout=(stack.logs / "baseline.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    harness.wait_for_port(port, timeout=60)
    return proc, f"http://{harness.HOST}:{port}"


def _profile(
    folder: Path, pids: dict[str, int], names: tuple[str, ...], label: str, seconds: float
) -> list[subprocess.Popen[bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(pids[name]),
                "--duration",
                str(int(seconds)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(folder / f"{label}-{name}.folded"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in names
    ]


def main() -> None:
    args = _arguments()
    if args.compare_observability:
        _compare(args)
        return
    levels = [int(c) for c in args.concurrency.split(",")]
    targets = [t for t in args.targets.split(",") if t]
    folder = Path(tempfile.mkdtemp(prefix="token-bench-"))
    with (
        harness.database() as (mongo_url, db_pid),
        harness.stack(
            folder, mongo_url, {"CONNECTOR_HEALTH_INTERVAL_SECONDS": "5", **OBSERVABILITY[args.observability]}
        ) as stack,
    ):
        headers = stack.auth_headers
        with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=30) as client:
            stored = client.post(
                "/api/connections/token",
                json={"connectorId": "github", "workspaceId": "bench", "token": "gho_" + "b" * 36},
            )
            stored.raise_for_status()
            data = stored.json()["data"]
            connection_id = data["id"] if "id" in data else data["connection"]["id"]
            token_path = f"/api/connections/{connection_id}/token"
            check = client.get(token_path)
            check.raise_for_status()
        baseline, baseline_url = _start_baseline(stack, mongo_url)
        try:
            answer = httpx.get(baseline_url + token_path, headers=headers, timeout=30)
            answer.raise_for_status()
            assert answer.json()["data"]["accessToken"] == check.json()["data"]["accessToken"]
            pids = {
                "gateway": stack.processes["gateway"].pid,
                "connector": stack.processes["connector"].pid,
                "vault": stack.processes["vault"].pid,
                "db": db_pid,
                "baseline": baseline.pid,
            }

            def one(target: str, concurrency: int, seconds: float, meter: bool = True) -> harness.Run:
                cpu = harness.CpuMeter({n: pids[n] for n in PATHS[target]}) if meter else None
                if target == "grpc":
                    return harness.grpc_load(
                        stack.connector_address,
                        "token",
                        concurrency=concurrency,
                        seconds=seconds,
                        api_key=stack.api_key,
                        connection_id=connection_id,
                        target=target,
                        meter=cpu,
                    )
                url = {
                    "baseline": baseline_url + token_path,
                    "rest": stack.gateway_url + token_path,
                    "connectors": stack.gateway_url + "/api/connectors",
                }[target]
                return harness.wrk(
                    url, concurrency=concurrency, seconds=seconds, headers=headers, target=target, meter=cpu
                )

            results: dict[str, dict[str, Any]] = {}
            for concurrency in levels:
                for target in targets:  # warm pools, caches and JIT-less code paths alike
                    one(target, concurrency, 1, meter=False)
                runs: dict[str, list[harness.Run]] = {t: [] for t in targets}
                for round_no, target in harness.alternate(targets, args.rounds):
                    spies = []
                    if args.profile and round_no == 0:
                        spies = _profile(args.profile, pids, PATHS[target], f"{target}-c{concurrency}", args.seconds)
                    runs[target].append(one(target, concurrency, args.seconds))
                    for spy in spies:
                        spy.wait(timeout=60)
                results[str(concurrency)] = {t: harness.summarise(r) for t, r in runs.items()}
        finally:
            harness.stop(baseline)

    rows, ratios = [], {}
    for concurrency, by_target in results.items():
        base = by_target.get("baseline")
        for target, summary in by_target.items():
            row = {
                "c": concurrency,
                "target": target,
                **{k: summary[k] for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "errors")},
            }
            if base and target != "baseline" and base["rps"]:
                row["x_baseline"] = round(summary["rps"] / base["rps"], 3)
                row["p50_delta_ms"] = round(summary["p50_ms"] - base["p50_ms"], 3)
            rows.append(row)
        if base:
            ratios[concurrency] = {
                f"{t}/baseline": round(by_target[t]["rps"] / base["rps"], 3) for t in ("rest", "grpc") if t in by_target
            }
            if "rest" in by_target:
                ratios[concurrency]["rest_p50_delta_ms"] = round(by_target["rest"]["p50_ms"] - base["p50_ms"], 3)

    print(
        harness.table(
            rows,
            [
                ("c", "conc"),
                ("target", "target"),
                ("rps", "req/s"),
                ("x_baseline", "x base"),
                ("p50_ms", "p50 ms"),
                ("p50_delta_ms", "Δp50 ms"),
                ("p99_ms", "p99 ms"),
                ("cpu_ms_per_request", "CPU ms/req"),
                ("errors", "errors"),
            ],
        )
    )
    goals = ratios.get("16", {})
    if goals:
        print(
            f"\ngoals at 16: rest/baseline {goals.get('rest/baseline')} (≥ 0.8), rest Δp50 "
            f"{goals.get('rest_p50_delta_ms')} ms (≤ +1), grpc/baseline {goals.get('grpc/baseline')} (≥ 1.0)"
        )
    path = harness.write_result(
        "token",
        {
            "benchmark": "token",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds_per_run": args.seconds,
            "rounds": args.rounds,
            "observability": args.observability,
            "paths": PATHS,
            "ratios": ratios,
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
