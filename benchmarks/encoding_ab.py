"""Encoding A/B (issue 17): the cost of turning connector items into wire bytes and back.

In one process, for `--rows` synthetic PostgreSQL-like items (int, text, timestamptz, numeric,
bool, jsonb, text[]), measures encode + decode rows/s and CPU for:

    struct        Item messages with `fields` as google.protobuf.Struct (the old wire; ints become doubles)
    json_item     one orjson object per item in `repeated bytes items_json` (what we ship)
    json_batch    one orjson array per message in a single `bytes` field

Not a `*_bench.py`: it is quick and needs no stack; run `.venv/bin/python benchmarks/encoding_ab.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import time

import orjson
from connector_service.connectors.models import Body, Item, fill_item
from connector_service.resources.encoding import dumps, item_dict, item_json
from google.protobuf import json_format
from ucf.connector.v1 import resources_pb2


def items(n: int) -> list[Item]:
    t0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    return [
        Item(
            id=str(i),
            container_id="public.tickets",
            title=f"ticket {i}",
            body=Body(f"body of ticket {i}", "plain"),
            created_at=t0,
            updated_at=t0,
            fields={
                "id": i,
                "title": f"ticket {i}",
                "status": "open",
                "qty": i % 7,
                "price": decimal.Decimal("12.50"),
                "done": i % 2 == 0,
                "doc": {"n": i, "tags": ["a", "b"]},
                "labels": ["x", "y"],
                "updated_at": t0,
            },
        )
        for i in range(n)
    ]


def struct_path(batch: list[Item]) -> int:
    message = resources_pb2.ListItemsResponse()
    for item in batch:
        fill_item(message.items.add(), item)
    wire = message.SerializeToString()
    back = resources_pb2.ListItemsResponse.FromString(wire)
    return len([json_format.MessageToDict(i) for i in back.items])


def json_item_path(batch: list[Item]) -> int:
    wire = resources_pb2.ListItemsResponse(items_json=[item_json(i) for i in batch]).SerializeToString()
    back = resources_pb2.ListItemsResponse.FromString(wire)
    return len([orjson.loads(i) for i in back.items_json])


def json_batch_path(batch: list[Item]) -> int:
    wire = resources_pb2.GetItemResponse(item_json=dumps([item_dict(i) for i in batch])).SerializeToString()
    return len(orjson.loads(resources_pb2.GetItemResponse.FromString(wire).item_json))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    data = items(args.rows)
    batches = [data[i : i + args.batch] for i in range(0, len(data), args.batch)]
    for name, path in (("struct", struct_path), ("json_item", json_item_path), ("json_batch", json_batch_path)):
        started, cpu = time.perf_counter(), time.process_time()
        count = sum(path(b) for b in batches)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"{name:11} {count / seconds:>10,.0f} rows/s  {1e6 * cpu / count:>7.1f} µs CPU/row")


if __name__ == "__main__":
    main()
