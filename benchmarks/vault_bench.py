"""Vault benchmark: what the gRPC hop, auth and audit cost on reads, and what
binding checks and compare-and-swap cost on rewrap.

1. Secret reads: GetSecret over gRPC (token auth, audit append, integrity
   check) vs the same `find_one` + Fernet decrypt done in-process.
2. Rewrap: the vault's Rewrap RPC vs a raw loop of find + `MultiFernet.rotate`
   + `bulk_write` on a copy of the same data.

Starts its own SecantusDB on a free port; prints a table and writes JSON to
benchmarks/results/vault-<time>.json and vault-latest.json (`BENCH_RESULTS_DIR` moves them).
Run: `.venv/bin/python benchmarks/vault_bench.py [--secrets N --reads N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

import grpc
import harness
from cryptography.fernet import Fernet, MultiFernet
from pymongo import AsyncMongoClient, UpdateOne
from ucf.vault.v1 import vault_pb2, vault_pb2_grpc
from vault_service.keyring import KeyRing, SecretIdentity
from vault_service.server import create_server
from vault_service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support.ports import free_port, wait_for_port  # noqa: E402 - importable only after the sys.path insert
from tests.vault_service.seeding import seed_secrets  # noqa: E402 - importable only after the sys.path insert


def _keys(*ids: str) -> str:
    return ",".join(f"{key_id}:{Fernet.generate_key().decode()}" for key_id in ids)


async def _grpc_reads(
    stub: vault_pb2_grpc.VaultServiceStub, token: str, owners: list[str], n: int, concurrency: int
) -> float:
    md = (("authorization", f"Bearer {token}"),)
    picks = [random.choice(owners) for _ in range(n)]

    async def worker(chunk: list[str]) -> None:
        for owner in chunk:
            await stub.GetSecret(
                vault_pb2.GetSecretRequest(
                    ref=vault_pb2.SecretRef(tenant_id="acme", owner_id=owner, kind=vault_pb2.SECRET_KIND_API_KEY)
                ),
                metadata=md,
                timeout=10,
            )

    start = time.perf_counter()
    await asyncio.gather(*(worker(picks[i::concurrency]) for i in range(concurrency)))
    return n / (time.perf_counter() - start)


async def _direct_reads(db, fernets: dict[str, Fernet], owners: list[str], n: int, concurrency: int) -> float:
    picks = [random.choice(owners) for _ in range(n)]

    async def worker(chunk: list[str]) -> None:
        for owner in chunk:
            doc = await db["secrets"].find_one({"tenant_id": "acme", "owner_id": owner, "kind": "api_key"})
            json.loads(fernets[doc["key_id"]].decrypt(doc["ciphertext"].encode()))

    start = time.perf_counter()
    await asyncio.gather(*(worker(picks[i::concurrency]) for i in range(concurrency)))
    return n / (time.perf_counter() - start)


async def _grpc_rewrap(stub: vault_pb2_grpc.VaultServiceStub, token: str, batch: int) -> tuple[float, int]:
    start = time.perf_counter()
    last = None
    async for progress in stub.Rewrap(
        vault_pb2.RewrapRequest(batch_size=batch), metadata=(("authorization", f"Bearer {token}"),)
    ):
        last = progress
    assert last is not None and last.remaining == 0
    return last.rewrapped / (time.perf_counter() - start), last.rewrapped


async def _raw_rewrap(db, multi: MultiFernet, primary: str, batch: int) -> tuple[float, int]:
    start, done = time.perf_counter(), 0
    while True:
        docs = await db["secrets"].find({"key_id": {"$ne": primary}}, limit=batch).to_list()
        if not docs:
            break
        await db["secrets"].bulk_write(
            [
                UpdateOne(
                    {"_id": d["_id"]},
                    {"$set": {"key_id": primary, "ciphertext": multi.rotate(d["ciphertext"].encode()).decode()}},
                )
                for d in docs
            ]
        )
        done += len(docs)
    return done / (time.perf_counter() - start), done


async def run(url: str, n_secrets: int, n_reads: int, concurrency: int, batch: int) -> dict:
    old, new = _keys("old"), _keys("new")
    client: AsyncMongoClient = AsyncMongoClient(url, tz_aware=True)
    vault_db, raw_db = client["bench_vault"], client["bench_raw"]
    token = secrets.token_urlsafe(32)
    settings = Settings(_env_file=None, vault_host="127.0.0.1", vault_port=0, vault_client_token=token)
    ring = KeyRing.from_text(f"{new},{old}")
    vault, port = await create_server(settings, vault_db, ring)
    await vault.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = vault_pb2_grpc.VaultServiceStub(channel)
    try:
        old_ring = KeyRing.from_text(old)
        owners = await seed_secrets(vault_db, old_ring, n_secrets)
        await seed_secrets(raw_db, old_ring, n_secrets)
        await raw_db["secrets"].create_index([("tenant_id", 1), ("owner_id", 1), ("kind", 1)], unique=True)
        fernets = {
            key_id: Fernet(key.encode()) for key_id, key in (entry.split(":", 1) for entry in f"{new},{old}".split(","))
        }

        await _grpc_reads(stub, token, owners, min(200, n_reads), concurrency)  # warm-up
        grpc_rps = await _grpc_reads(stub, token, owners, n_reads, concurrency)
        direct_rps = await _direct_reads(raw_db, fernets, owners, n_reads, concurrency)
        grpc_rewrap, n1 = await _grpc_rewrap(stub, token, batch)
        raw_rewrap, n2 = await _raw_rewrap(raw_db, MultiFernet([fernets["new"], fernets["old"]]), "new", batch)
        doc = await vault_db["secrets"].find_one({"owner_id": owners[0]})
        ring.open(SecretIdentity("acme", owners[0], "api_key", 1), doc["key_id"], doc["ciphertext"])
    finally:
        await channel.close()
        await vault.stop(None)
        await client.close()
    return {
        "secrets": n_secrets,
        "reads": n_reads,
        "concurrency": concurrency,
        "batch_size": batch,
        "reads_per_s": {
            "grpc": round(grpc_rps, 1),
            "in_process": round(direct_rps, 1),
            "ratio_in_process_over_grpc": round(direct_rps / grpc_rps, 2),
        },
        "rewrap_per_s": {
            "vault_rpc": round(grpc_rewrap, 1),
            "raw_loop": round(raw_rewrap, 1),
            "ratio_raw_over_vault": round(raw_rewrap / grpc_rewrap, 2),
            "rewrapped": [n1, n2],
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=int, default=5000)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    port = free_port()
    mongo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "secantus",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        result = asyncio.run(
            run(
                f"mongodb://127.0.0.1:{port}/?directConnection=true",
                args.secrets,
                args.reads,
                args.concurrency,
                args.batch_size,
            )
        )
    finally:
        mongo.terminate()
        mongo.wait(timeout=15)
    reads, rewrap = result["reads_per_s"], result["rewrap_per_s"]
    print(f"{'measure':<34} {'vault (gRPC)':>14} {'raw in-process':>16} {'ratio':>7}")
    print(
        f"{'secret reads / s':<34} {reads['grpc']:>14} {reads['in_process']:>16} "
        f"{reads['ratio_in_process_over_grpc']:>6}x"
    )
    print(
        f"{'rewrap secrets / s':<34} {rewrap['vault_rpc']:>14} {rewrap['raw_loop']:>16} "
        f"{rewrap['ratio_raw_over_vault']:>6}x"
    )
    print(f"wrote {harness.write_result('vault', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
