"""Token read benchmark (issues 7, 17, 18): the three-process path against one-process baselines.

Starts SecantusDB, the vault, the connector service and the gateway on free loopback
ports (tests/support/stack.py), stores a valid non-expiring token for a GitHub
connection, starts `baseline_app.py` twice against the same database (once with its
API-key check switched off, once with it on), then at each concurrency runs, in
alternating rounds:

    baseline       wrk  GET /api/connections/{id}/token on the baseline app, no API-key check (issue 17)
    baseline_auth  wrk  the same on the baseline app that checks the API key (issue 7)
    rest           wrk  GET /api/connections/{id}/token through the gateway
    grpc           grpc_load.py ConnectionService.GetToken straight to the connector service
    connectors     wrk  GET /api/connectors through the gateway

Prints req/s, p50/p99 and CPU ms per request (summed over the processes on the
path, database included) and the ratios to both baselines; writes
benchmarks/results/token-<time>.json and token-latest.json.

    python benchmarks/token_bench.py [--seconds 5] [--rounds 2] [--concurrency 1,16,64]
                                     [--targets baseline,baseline_auth,rest,grpc,connectors] [--profile DIR]
                                     [--observability metrics|off|tracing]

`--observability` (issue 18) chooses what the three processes run with: `metrics` (the default
of a deployment: Prometheus metrics on, tracing off), `off` (no metrics: GATEWAY_METRICS_ENABLED
=false, metrics ports 0) or `tracing` (metrics on, every request traced to an in-memory span
exporter). `--compare-observability` starts one stack under each of the three modes (same
database process) and runs their `rest` targets (`rest@off`, `rest@metrics`, `rest@tracing`)
alternating per round like any other targets, then prints req/s with metrics ÷ off (goal ≥ 0.95)
and tracing ÷ off:

    python benchmarks/token_bench.py --compare-observability --seconds 5 --rounds 2 --concurrency 16
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import httpx

TARGETS = ("baseline", "baseline_auth", "rest", "grpc", "connectors")
BASELINES = ("baseline", "baseline_auth")
#: Which processes each target's requests run through (CPU is summed over these).
PATHS = {
    "baseline": ("baseline", "db"),
    "baseline_auth": ("baseline_auth", "db"),
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


def _start_baseline(stack: Any, mongo_url: str, *, check_keys: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = harness.free_port()
    name = "baseline_auth" if check_keys else "baseline"
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
            *([] if check_keys else ["--no-auth", "--tenant", "dev"]),
        ],
        stdout=(stack.logs / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    harness.wait_for_port(port, timeout=60)
    return proc, f"http://{harness.HOST}:{port}"


def _store_token(stack: Any) -> tuple[str, str]:
    """A valid non-expiring GitHub token stored through the gateway: (connection id, access token)."""
    with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=30) as client:
        stored = client.post(
            "/api/connections/token",
            json={"connectorId": "github", "workspaceId": "bench", "token": "gho_" + "b" * 36},
        )
        stored.raise_for_status()
        data = stored.json()["data"]
        connection_id = data["id"] if "id" in data else data["connection"]["id"]
        check = client.get(f"/api/connections/{connection_id}/token")
        check.raise_for_status()
    return connection_id, check.json()["data"]["accessToken"]


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


class _Target:
    """One measured target: how to drive it and which processes it runs through."""

    def __init__(self, name: str, kind: str, stack: Any, connection_id: str, pids: dict[str, int], url: str = ""):
        self.name, self.kind, self.stack, self.connection_id, self.url = name, kind, stack, connection_id, url
        self.pids = {process: pids[process] for process in PATHS[kind]}

    def run(self, concurrency: int, seconds: float, meter: bool = True) -> harness.Run:
        cpu = harness.CpuMeter(self.pids) if meter else None
        if self.kind == "grpc":
            return harness.grpc_load(
                self.stack.connector_address,
                "token",
                concurrency=concurrency,
                seconds=seconds,
                api_key=self.stack.api_key,
                connection_id=self.connection_id,
                target=self.name,
                meter=cpu,
            )
        return harness.wrk(
            self.url,
            concurrency=concurrency,
            seconds=seconds,
            headers=self.stack.auth_headers,
            target=self.name,
            meter=cpu,
        )


def main() -> None:
    args = _arguments()
    levels = [int(c) for c in args.concurrency.split(",")]
    if args.compare_observability:
        modes = list(OBSERVABILITY)
        wanted = [f"rest@{mode}" for mode in modes]
    else:
        modes = [args.observability]
        wanted = [t for t in args.targets.split(",") if t]
        unknown = set(wanted) - set(TARGETS)
        if unknown:
            raise SystemExit(f"unknown targets: {', '.join(sorted(unknown))} (choose from {', '.join(TARGETS)})")
    folder = Path(tempfile.mkdtemp(prefix="token-bench-"))
    baselines: list[subprocess.Popen[bytes]] = []
    with harness.database() as (mongo_url, db_pid), contextlib.ExitStack() as stacks:
        targets: dict[str, _Target] = {}
        try:
            for mode in modes:
                env = {"CONNECTOR_HEALTH_INTERVAL_SECONDS": "5", **OBSERVABILITY[mode]}
                stack = stacks.enter_context(harness.stack(folder / mode, mongo_url, env))
                connection_id, access_token = _store_token(stack)
                token_path = f"/api/connections/{connection_id}/token"
                pids = {name: stack.processes[name].pid for name in ("gateway", "connector", "vault")}
                pids["db"] = db_pid
                for name in wanted:
                    kind, _, at = name.partition("@")
                    if at not in ("", mode):
                        continue
                    url = {
                        "rest": stack.gateway_url + token_path,
                        "connectors": stack.gateway_url + "/api/connectors",
                    }.get(kind, "")
                    if kind in BASELINES:
                        proc, base_url = _start_baseline(stack, mongo_url, check_keys=kind == "baseline_auth")
                        baselines.append(proc)
                        pids[kind] = proc.pid
                        url = base_url + token_path
                        answer = httpx.get(url, headers=stack.auth_headers, timeout=30)
                        answer.raise_for_status()
                        assert answer.json()["data"]["accessToken"] == access_token
                    targets[name] = _Target(name, kind, stack, connection_id, pids, url)
            order = [name for name in wanted if name in targets]
            results: dict[str, dict[str, Any]] = {}
            for concurrency in levels:
                for name in order:  # warm pools, caches and JIT-less code paths alike
                    targets[name].run(concurrency, 1, meter=False)
                runs: dict[str, list[harness.Run]] = {t: [] for t in order}
                for round_no, name in harness.alternate(order, args.rounds):
                    spies = []
                    if args.profile and round_no == 0:
                        target = targets[name]
                        spies = _profile(
                            args.profile, target.pids, tuple(target.pids), f"{name}-c{concurrency}", args.seconds
                        )
                    runs[name].append(targets[name].run(concurrency, args.seconds))
                    for spy in spies:
                        spy.wait(timeout=60)
                results[str(concurrency)] = {t: harness.summarise(r) for t, r in runs.items()}
        finally:
            for proc in baselines:
                harness.stop(proc)

    if args.compare_observability:
        _report_observability(args, results)
    else:
        _report_targets(args, results)


def _ratio(value: float, reference: float) -> float | None:
    return round(value / reference, 3) if reference else None


def _report_targets(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    rows, ratios = [], {}
    for concurrency, by_target in results.items():
        base, auth = by_target.get("baseline"), by_target.get("baseline_auth")
        ratios[concurrency] = {}
        for target, summary in by_target.items():
            row = {
                "c": concurrency,
                "target": target,
                **{k: summary[k] for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "errors")},
            }
            if base and target != "baseline":
                row["x_baseline"] = _ratio(summary["rps"], base["rps"])
                row["p50_delta_ms"] = round(summary["p50_ms"] - base["p50_ms"], 3)
            if auth and target not in BASELINES:
                row["x_auth"] = _ratio(summary["rps"], auth["rps"])
                row["p50_delta_auth_ms"] = round(summary["p50_ms"] - auth["p50_ms"], 3)
            rows.append(row)
            if target in ("rest", "grpc"):
                for reference, name in ((base, "baseline"), (auth, "baseline_auth")):
                    if reference:
                        ratios[concurrency][f"{target}/{name}"] = _ratio(summary["rps"], reference["rps"])
                        ratios[concurrency][f"{target}_p50_delta_{name}_ms"] = round(
                            summary["p50_ms"] - reference["p50_ms"], 3
                        )

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
                ("x_auth", "x auth"),
                ("p50_delta_auth_ms", "Δp50 auth"),
                ("p99_ms", "p99 ms"),
                ("cpu_ms_per_request", "CPU ms/req"),
                ("errors", "errors"),
            ],
        )
    )
    print(
        "\nCPU ms/req by process: "
        + "; ".join(
            f"c={c} {t}: " + ", ".join(f"{p} {v:.2f}" for p, v in s["cpu_by_process_ms_per_request"].items())
            for c, by_target in results.items()
            for t, s in by_target.items()
        )
    )
    for concurrency, goal in (("16", 1.0), ("1", 0.6)):
        got = ratios.get(concurrency, {})
        if "rest/baseline" in got:
            line = f"goal at {concurrency} (issue 17): rest/baseline {got['rest/baseline']} (≥ {goal})"
            if concurrency == "16":
                line += f", rest Δp50 {got['rest_p50_delta_baseline_ms']} ms (≤ +1)"
            if "rest/baseline_auth" in got:
                line += f"; rest/baseline_auth {got['rest/baseline_auth']}"
            print(line)
    path = harness.write_result(
        "token",
        {
            "benchmark": "token",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "load_average": os.getloadavg(),
            "seconds_per_run": args.seconds,
            "rounds": args.rounds,
            "observability": args.observability,
            "paths": PATHS,
            "ratios": ratios,
            "results": results,
        },
    )
    print(f"wrote {path}")


def _report_observability(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    ratios: dict[str, dict[str, float | None]] = {}
    rows = []
    for concurrency, by_target in results.items():
        off = by_target["rest@off"]
        for target, summary in by_target.items():
            rows.append(
                {
                    "c": concurrency,
                    "target": target,
                    "x_off": _ratio(summary["rps"], off["rps"]),
                    "per_round": " ".join(f"{run['rps']:.0f}" for run in summary["runs"]),
                    **{k: summary[k] for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_request", "errors")},
                }
            )
        metrics, traced = by_target["rest@metrics"], by_target["rest@tracing"]
        ratios[concurrency] = {
            "metrics/off": _ratio(metrics["rps"], off["rps"]),
            "tracing/off": _ratio(traced["rps"], off["rps"]),
            "metrics/off_cpu": _ratio(metrics["cpu_ms_per_request"], off["cpu_ms_per_request"]),
        }
    print(
        harness.table(
            rows,
            [
                ("c", "conc"),
                ("target", "target"),
                ("rps", "req/s"),
                ("x_off", "x off"),
                ("per_round", "req/s by round"),
                ("p50_ms", "p50 ms"),
                ("p99_ms", "p99 ms"),
                ("cpu_ms_per_request", "CPU ms/req"),
                ("errors", "errors"),
            ],
        )
    )
    for concurrency, got in ratios.items():
        print(
            f"c={concurrency}: metrics/off {got['metrics/off']} (goal ≥ 0.95), tracing/off {got['tracing/off']}, "
            f"CPU per request metrics/off {got['metrics/off_cpu']}"
        )
    path = harness.write_result(
        "token-observability",
        {
            "benchmark": "token-observability",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "load_average": os.getloadavg(),
            "seconds_per_run": args.seconds,
            "rounds": args.rounds,
            "ratios": ratios,
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
