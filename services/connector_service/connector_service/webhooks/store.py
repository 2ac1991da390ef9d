"""Webhook registrations (`webhooks`), deliveries (`webhook_deliveries`), the digests
of accepted signed bodies (`webhook_bodies`) and dead letters (`webhook_dead_letters`).

A registration holds ids and settings only; the provider signing secret and
the tenant callback secret live in the vault (kind WEBHOOK_SIGNING_SECRET,
owner = webhook id). A delivery is unique per (webhook, provider delivery
id): inserting it is how a delivery is processed exactly once. A delivery
with a callback carries its forwarding state (`forward`), claimed by the
forwarder with a lease like jobs are, so forwards survive restarts.

A signed body is accepted once per webhook, whatever delivery id comes with it:
its digest is claimed by a unique insert and kept (TTL index) for as long as the
body could still pass the staleness check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from ucf.vault.v1 import vault_pb2
from ucf_common.errors import not_found

from connector_service.platform import wire

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
#: Vault kind of `{providerSecret, callbackSecret}`, owner = webhook id.
SECRET_KIND = vault_pb2.SECRET_KIND_WEBHOOK_SIGNING_SECRET
#: Ids of shared (one URL per app) receivers, `webhook_apps`.
APP_PREFIX = "wha_"


class WebhookStore:
    def __init__(self, db: AsyncDatabase):
        self._hooks = db["webhooks"]
        self._deliveries = db["webhook_deliveries"]
        self._dead = db["webhook_dead_letters"]
        self._bodies = db["webhook_bodies"]
        self._apps = db["webhook_apps"]

    async def create_indexes(self) -> None:
        await self._hooks.create_index([("tenant_id", 1), ("connection_id", 1)])
        await self._hooks.create_index([("expires_at", 1)])
        await self._hooks.create_index([("tenant_id", 1), ("connector_id", 1), ("upstream_id", 1)])
        await self._apps.create_index([("tenant_id", 1), ("connector_id", 1)], unique=True)
        await self._deliveries.create_index([("webhook_id", 1), ("delivery_id", 1)], unique=True)
        await self._deliveries.create_index([("forward.status", 1), ("forward.next_at", 1)])
        await self._dead.create_index([("tenant_id", 1), ("webhook_id", 1), ("_id", 1)])
        await self._bodies.create_index([("tenant_id", 1), ("webhook_id", 1), ("digest", 1)], unique=True)
        await self._bodies.create_index([("expires_at", 1)], expireAfterSeconds=0)

    async def add(self, doc: dict[str, Any]) -> None:
        await self._hooks.insert_one(doc)

    async def get(self, tenant_id: str, webhook_id: str) -> dict[str, Any]:
        doc = await self._hooks.find_one({"_id": webhook_id, "tenant_id": tenant_id}) if webhook_id else None
        if doc is None:
            raise not_found("webhook", webhook_id)
        return doc

    async def locate(self, webhook_id: str) -> dict[str, Any] | None:
        """The registration a public delivery URL names; the tenant comes from it."""
        return await self._hooks.find_one({"_id": webhook_id}) if webhook_id else None

    async def app_receiver(self, tenant_id: str, connector_id: str) -> str:
        """The one receiver id of a (tenant, connector) app whose provider allows one URL per app;
        created on first use, the same for every replica afterwards."""
        for _ in range(2):
            try:
                doc = await self._apps.find_one_and_update(
                    {"tenant_id": tenant_id, "connector_id": connector_id},
                    {"$setOnInsert": {"_id": wire.new_id("wha"), "created_at": wire.now()}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                return doc["_id"]
            except DuplicateKeyError:  # two replicas created it at once: the other one won
                continue
        raise RuntimeError("webhook app receiver could not be created")

    async def locate_app(self, app_id: str) -> dict[str, Any] | None:
        """The (tenant, connector) app a shared receiver URL names."""
        return await self._apps.find_one({"_id": app_id}) if app_id.startswith(APP_PREFIX) else None

    async def matching(self, tenant_id: str, connector_id: str, upstream_ids: tuple[str, ...]) -> list[dict[str, Any]]:
        """The tenant's registrations of `connector_id` whose upstream id a delivery names."""
        if not upstream_ids:
            return []
        cursor = self._hooks.find(
            {"tenant_id": tenant_id, "connector_id": connector_id, "upstream_id": {"$in": list(upstream_ids)}}
        ).sort("_id", 1)
        return await cursor.to_list(len(upstream_ids) * 10)

    async def claim_expiring(self, before: datetime, retry: timedelta) -> dict[str, Any] | None:
        """A registration expiring by `before` that no one is refreshing, claimed for `retry`."""
        moment = wire.now()
        return await self._hooks.find_one_and_update(
            {"expires_at": {"$lte": before}, "refresh_after": {"$lte": moment}},
            {"$set": {"refresh_after": moment + retry}},
            sort=[("expires_at", 1)],
            return_document=ReturnDocument.AFTER,
        )

    async def refreshed(self, hook: dict[str, Any], expires_at: datetime | None) -> None:
        await self._hooks.update_one(
            {"_id": hook["_id"], "tenant_id": hook["tenant_id"]},
            {
                "$set": {"expires_at": expires_at, "refreshed_at": wire.now(), "refresh_after": wire.now()},
                "$unset": {"refresh_error": ""},
            },
        )

    async def refresh_failed(self, hook: dict[str, Any], error: str) -> None:
        await self._hooks.update_one(
            {"_id": hook["_id"], "tenant_id": hook["tenant_id"]}, {"$set": {"refresh_error": error[:500]}}
        )

    async def remove(self, tenant_id: str, webhook_id: str) -> None:
        await self._hooks.delete_one({"_id": webhook_id, "tenant_id": tenant_id})

    async def record_delivery(
        self, hook: dict[str, Any], delivery_id: str, kind: str, forward: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Stores a delivery; None when this delivery id was already processed."""
        doc = {
            "_id": wire.new_id("dlv"),
            "tenant_id": hook["tenant_id"],
            "webhook_id": hook["_id"],
            "connection_id": hook["connection_id"],
            "delivery_id": delivery_id,
            "kind": kind,
            "received_at": wire.now(),
            "forward": forward,
        }
        try:
            await self._deliveries.insert_one(doc)
        except DuplicateKeyError:
            return None
        return doc

    async def claim_body(self, hook: dict[str, Any], digest: str, keep_until: datetime) -> bool:
        """Claims a signed body's digest for this webhook; False when it was accepted before."""
        try:
            await self._bodies.insert_one(
                {
                    "_id": wire.new_id("bod"),
                    "tenant_id": hook["tenant_id"],
                    "webhook_id": hook["_id"],
                    "digest": digest,
                    "expires_at": keep_until,
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_body(self, hook: dict[str, Any], digest: str) -> None:
        """Gives a claimed digest back (the delivery could not be stored), so a retry is accepted."""
        await self._bodies.delete_one({"tenant_id": hook["tenant_id"], "webhook_id": hook["_id"], "digest": digest})

    async def claim_forward(self, worker: str, lease: timedelta) -> dict[str, Any] | None:
        moment = wire.now()
        return await self._deliveries.find_one_and_update(
            {"forward.status": PENDING, "forward.next_at": {"$lte": moment}},
            {"$set": {"forward.next_at": moment + lease, "forward.worker": worker}},
            sort=[("forward.next_at", 1)],
            return_document=ReturnDocument.AFTER,
        )

    async def forward_failed(
        self, delivery: dict[str, Any], worker: str, error: str, retry_at: datetime | None
    ) -> None:
        attempts = delivery["forward"]["attempts"] + 1
        fields: dict[str, Any] = {"forward.attempts": attempts, "forward.last_error": error}
        if retry_at is None:
            fields["forward.status"] = DEAD
        else:
            fields["forward.next_at"] = retry_at
        result = await self._deliveries.update_one({"_id": delivery["_id"], "forward.worker": worker}, {"$set": fields})
        if retry_at is None and result.matched_count:
            await self._dead.insert_one(
                {
                    "_id": wire.new_id("dlq"),
                    "tenant_id": delivery["tenant_id"],
                    "webhook_id": delivery["webhook_id"],
                    "delivery_id": delivery["delivery_id"],
                    "callback_url": delivery["forward"]["callback_url"],
                    "attempts": attempts,
                    "last_error": error,
                    "created_at": wire.now(),
                }
            )

    async def forward_delivered(self, delivery: dict[str, Any], worker: str) -> None:
        await self._deliveries.update_one(
            {"_id": delivery["_id"], "forward.worker": worker},
            {
                "$set": {"forward.status": DELIVERED, "forward.delivered_at": wire.now()},
                "$inc": {"forward.attempts": 1},
            },
        )

    async def dead_letters(
        self, tenant_id: str, webhook_id: str, cursor: str, limit: int
    ) -> tuple[list[dict[str, Any]], str]:
        query: dict[str, Any] = {"tenant_id": tenant_id}
        if webhook_id:
            query["webhook_id"] = webhook_id
        return await wire.find_page(self._dead, query, cursor, limit)
