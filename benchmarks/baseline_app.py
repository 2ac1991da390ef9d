"""The comparison point of the token benchmark: the simplest one-process design.

One FastAPI app (uvicorn on uvloop + httptools, like the gateway) that serves
`GET /api/connections/{id}/token` by authenticating the bearer key (an in-process
cache in front of `api_keys`, as the connector service does), reading the encrypted
`secrets` document straight from the vault's MongoDB database and decrypting it with
the same Fernet keys, checking the identity the ciphertext is bound to, and answering
the same envelope. No gRPC hops, no audit records, no connection record.

    python benchmarks/baseline_app.py --port 8123 --mongodb-url ... --db ucf --vault-db ucf_vault \
        --keys-file .../vault-keys [--no-auth [--tenant dev]]

`--no-auth` switches the API-key check off (issue 17's reference: the simplest monolith, no
API-key check and no audit): every request is served as `--tenant`, and the secret is still
read by (tenant, owner), so it uses the same index as the authenticated reads.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import uvicorn
from cryptography.fernet import Fernet, InvalidToken
from fastapi import FastAPI, Request
from pymongo import AsyncMongoClient
from starlette.responses import Response


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"ok": False, "error": {"code": code, "message": message, "details": {}}})


def create_app(
    mongodb_url: str, db: str, vault_db: str, keys: dict[str, Fernet], *, no_auth_tenant: str | None = None
) -> FastAPI:
    state: dict[str, Any] = {}
    principals: dict[str, str] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client: AsyncMongoClient = AsyncMongoClient(mongodb_url, tz_aware=True)
        state["api_keys"] = client[db]["api_keys"]
        state["secrets"] = client[vault_db]["secrets"]
        await client[vault_db].command("ping")
        try:
            yield
        finally:
            await client.close()

    app = FastAPI(lifespan=lifespan)

    async def tenant_of(request: Request) -> str | None:
        if no_auth_tenant is not None:
            return no_auth_tenant
        scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        tenant = principals.get(digest)
        if tenant is None:
            _, key_id, secret = key.split("_", 2) if key.count("_") >= 2 else ("", "", "")
            doc = await state["api_keys"].find_one({"_id": key_id})
            if (
                doc is None
                or doc.get("revoked")
                or not hmac.compare_digest(doc["secret_hash"], hashlib.sha256(secret.encode()).hexdigest())
            ):
                return None
            tenant = principals[digest] = doc["tenant_id"]
        return tenant

    @app.get("/api/connections/{connection_id}/token")
    async def get_token(connection_id: str, request: Request) -> Response:
        tenant = await tenant_of(request)
        if tenant is None:
            return _error(401, "unauthenticated", "unknown or missing API key")
        doc = await state["secrets"].find_one({"tenant_id": tenant, "owner_id": connection_id})
        if doc is None:
            return _error(404, "not_found", "connection not found")
        fernet = keys.get(doc["key_id"])
        try:
            envelope = json.loads(fernet.decrypt(doc["ciphertext"].encode())) if fernet else None
        except InvalidToken:
            envelope = None
        bound = {"tenant": tenant, "owner": connection_id, "kind": doc["kind"], "version": doc["version"]}
        if not envelope or envelope.get("id") != bound:
            return _error(500, "internal", "integrity check failed")
        payload = envelope["payload"]
        return _json(
            200,
            {
                "ok": True,
                "data": {
                    "connectionId": connection_id,
                    "kind": "oauth2",
                    "accessToken": payload.get("accessToken", ""),
                    "tokenType": payload.get("tokenType", ""),
                    "scope": payload.get("scope", ""),
                    "refreshed": False,
                },
            },
        )

    return app


def _keys(path: str) -> dict[str, Fernet]:
    ring = {}
    with open(path) as handle:
        for line in handle.read().replace(",", "\n").splitlines():
            if line.strip():
                key_id, _, key = line.strip().partition(":")
                ring[key_id] = Fernet(key.encode())
    return ring


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mongodb-url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--vault-db", required=True)
    parser.add_argument("--keys-file", required=True)
    parser.add_argument("--no-auth", action="store_true", help="skip the API-key check; serve every call as --tenant")
    parser.add_argument("--tenant", default="dev", help="the tenant of every call under --no-auth")
    args = parser.parse_args()
    app = create_app(
        args.mongodb_url,
        args.db,
        args.vault_db,
        _keys(args.keys_file),
        no_auth_tenant=args.tenant if args.no_auth else None,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
