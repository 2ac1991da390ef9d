"""gRPC load client, run as its own process by the benchmarks.

It opens one channel, warms it up, prints `ready`, waits for a `go` line on stdin,
then keeps `--concurrency` calls in flight for `--seconds` and prints one JSON line:
`{requests, errors, seconds, p50_ms, p99_ms}`. Methods: `token`
(ConnectionService.GetToken) and `connectors` (ConnectorService.ListConnectors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import grpc
from ucf.connector.v1 import (
    connections_pb2,
    connections_pb2_grpc,
    connectors_pb2,
    connectors_pb2_grpc,
)


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--method", choices=("token", "connectors"), required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--connection-id", default="")
    args = parser.parse_args()

    metadata = (("authorization", f"Bearer {args.api_key}"),)
    async with grpc.aio.insecure_channel(args.address) as channel:
        if args.method == "token":
            call = connections_pb2_grpc.ConnectionServiceStub(channel).GetToken
            request = connections_pb2.GetTokenRequest(connection_id=args.connection_id)
        else:
            call = connectors_pb2_grpc.ConnectorServiceStub(channel).ListConnectors
            request = connectors_pb2.ListConnectorsRequest()

        for _ in range(20):  # warm-up; a failure here is a setup error, not a data point
            await call(request, metadata=metadata, timeout=10)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        latencies: list[float] = []
        errors = 0
        started = time.perf_counter()
        deadline = started + args.seconds

        async def worker() -> None:
            nonlocal errors
            clock = time.perf_counter
            while clock() < deadline:
                begin = clock()
                try:
                    await call(request, metadata=metadata, timeout=10)
                except grpc.RpcError:
                    errors += 1
                    continue
                latencies.append(clock() - begin)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors,
                "seconds": round(elapsed, 6),
                "p50_ms": round(1000 * _percentile(latencies, 50), 3),
                "p99_ms": round(1000 * _percentile(latencies, 99), 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
