"""Command line: `python -m connector_service serve | api-keys create|list|revoke|ensure`.

API-key commands talk to MongoDB directly (MONGODB_URL / MONGODB_DB), so an
operator can bootstrap the first key before any server runs. `create` prints
the new key on its last line and nowhere else; `ensure` writes it to the key
file (mode 0600) instead of printing it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pymongo import AsyncMongoClient
from ucf_common.errors import UcfError

from connector_service.app.settings import Settings
from connector_service.auth.api_keys import ApiKeyStore
from connector_service.catalog.providers import CatalogError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m connector_service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the gRPC server")
    keys = commands.add_parser("api-keys", help="manage API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key; prints it on the last line")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated scopes, or 'all'")
    create.add_argument("--name", default="")
    listing = keys.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--tenant")
    revoke = keys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    ensure = keys.add_parser("ensure", help="register the key in --key-file, or create one and write it there")
    ensure.add_argument("--tenant", required=True)
    ensure.add_argument("--scopes", required=True)
    ensure.add_argument("--key-file", required=True, type=Path)
    ensure.add_argument("--name", default="")
    return parser


def _describe(doc: dict[str, Any]) -> str:
    return json.dumps(
        {
            "keyId": doc["_id"],
            "tenant": doc["tenant_id"],
            "scopes": doc["scopes"],
            "name": doc.get("name", ""),
            "revoked": doc.get("revoked", False),
            "createdAt": doc["created_at"].isoformat(),
        }
    )


def _write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")


async def _api_keys(args: argparse.Namespace, settings: Settings) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=10000
    )
    try:
        store = ApiKeyStore(client[settings.mongodb_db])
        await store.create_indexes()
        if args.action == "create":
            key, doc = await store.create(args.tenant, args.scopes, args.name)
            print(_describe(doc))
            print(key)
        elif args.action == "list":
            for doc in await store.list(args.tenant):
                print(_describe(doc))
        elif args.action == "revoke":
            print(_describe(await store.revoke(args.key_id)))
        elif args.key_file.exists() and args.key_file.read_text().strip():
            doc, inserted = await store.ensure(args.key_file.read_text().strip(), args.tenant, args.scopes, args.name)
            print(("registered " if inserted else "already registered ") + _describe(doc))
        else:
            key, doc = await store.create(args.tenant, args.scopes, args.name)
            _write_key(args.key_file, key)
            print(f"created and wrote to {args.key_file} " + _describe(doc))
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid configuration: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    if args.command == "serve":
        import uvloop

        from connector_service.app.server import serve

        try:
            uvloop.run(serve(settings))
        except CatalogError as err:
            print(f"error: invalid provider catalog: {err}", file=sys.stderr)
            return 2
        return 0
    try:
        asyncio.run(_api_keys(args, settings))
    except UcfError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    return 0
