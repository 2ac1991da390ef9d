"""What one stored document costs SecantusDB, with and without a secondary index (issue 17).

Inserts `--docs` documents shaped like a synced record (a 40-character string `_id`, a
record key, about 350 bytes of JSON), in ordered batches of 1000, into a fresh collection
per variant, alternating variants for `--rounds` rounds, and reports the database's CPU
time per document (user + system, from /proc, so the figure holds on a loaded machine
better than a rate does):

    no index       `_id` only (the old layout wrote two of these per synced row)
    key index      plus an ascending index on the record key string
    sparse key     the same index, sparse (records.py's current-state index)
    int index      an index on an integer (a sequence number) instead
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import harness
from pymongo import ASCENDING, MongoClient

VARIANTS: dict[str, dict[str, Any] | None] = {
    "no index": None,
    "key index": {"keys": [("key", ASCENDING)]},
    "sparse key": {"keys": [("key", ASCENDING)], "sparse": True},
    "int index": {"keys": [("seq", ASCENDING)]},
}
_BATCH = 1000


def _documents(start: int) -> list[dict[str, Any]]:
    return [
        {
            "_id": f"tenant|con_1|items|{n:015d}",
            "seq": n,
            "key": f"tenant|con_1|items|public.tickets|{n}",
            "record_id": str(n),
            "action": "added",
            "json": "x" * 350,
            "container_id": "public.tickets",
            "hash": "h" * 64,
            "deleted": False,
        }
        for n in range(start, start + _BATCH)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    batches = [_documents(start) for start in range(0, args.docs, _BATCH)]
    costs: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with harness.database() as (url, pid), MongoClient(url) as mongo:
        for round_no, name in harness.alternate(tuple(VARIANTS), args.rounds):
            collection = mongo["bench_insert"][f"v{round_no}_{list(VARIANTS).index(name)}"]
            index = VARIANTS[name]
            if index is not None:
                collection.create_index(index["keys"], sparse=bool(index.get("sparse")))
            before = harness.cpu_seconds(pid)
            for batch in batches:
                collection.insert_many(batch, ordered=True)
            costs[name].append(1e6 * (harness.cpu_seconds(pid) - before) / (len(batches) * _BATCH))
            mongo["bench_insert"].drop_collection(collection.name)
    rows = [
        {"variant": n, "us": round(statistics.median(c)), "all": " ".join(f"{v:.0f}" for v in c)}
        for n, c in costs.items()
    ]
    print(harness.table(rows, [("variant", "variant"), ("us", "µs CPU/doc (median)"), ("all", "per round")]))
    harness.write_result(
        "insert_cost", {"benchmark": "insert_cost", "docs": args.docs, "rounds": args.rounds, "results": rows}
    )


if __name__ == "__main__":
    main()
