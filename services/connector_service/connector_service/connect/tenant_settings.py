"""Per-tenant settings of the hosted Connect page (`tenant_settings`, one document per tenant):
display name, logo URL, primary color, and the origins a connect session's `returnUrl` (and a
page embedding the Connect page) may have. A tenant without a document has no allowed origin,
so a `returnUrl` is refused until the tenant lists its app's origin."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from ucf_common.errors import invalid

from connector_service.platform import destinations, wire

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_MAX_ORIGINS = 20


@dataclass(frozen=True)
class TenantSettings:
    name: str = ""
    logo_url: str = ""
    primary_color: str = ""
    allowed_return_origins: tuple[str, ...] = field(default_factory=tuple)
    updated_at: datetime | None = None


def origin_of(url: str, field_name: str) -> str:
    """`scheme://host[:port]` of an absolute http(s) URL (lowercase), else invalid_request."""
    parts = destinations.http_url(url, field_name)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def check_origin(value: str) -> str:
    origin = origin_of(value, "allowedReturnOrigins")
    parts = urlsplit(value.strip())
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise invalid(
            "allowedReturnOrigins entries are origins such as https://app.example.com", field="allowedReturnOrigins"
        )
    return origin


def check_color(value: str) -> str:
    if value and not _COLOR.match(value):
        raise invalid("primaryColor must be a hex color such as #1e5aa8", field="primaryColor")
    return value.lower()


def check_logo(value: str) -> str:
    if value and not value.startswith("/"):
        destinations.http_url(value, "logoUrl")
        if not value.startswith("https://"):
            raise invalid("logoUrl must be an https URL", field="logoUrl")
    return value


class TenantSettingsStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]):
        self._col = db["tenant_settings"]

    async def create_indexes(self) -> None:
        """`_id` is the tenant id: one document per tenant."""

    async def get(self, tenant_id: str) -> TenantSettings:
        return _settings(await self._col.find_one({"_id": tenant_id}))

    async def update(self, tenant_id: str, changes: dict[str, Any]) -> TenantSettings:
        doc = await self._col.find_one_and_update(
            {"_id": tenant_id},
            {"$set": {**changes, "updated_at": wire.now()}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return _settings(doc)

    @staticmethod
    def checked(name: str | None, logo_url: str | None, color: str | None, origins: list[str] | None) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if name is not None:
            if len(name) > 100 or not name.isprintable():
                raise invalid("name must be at most 100 printable characters", field="name")
            changes["name"] = name
        if logo_url is not None:
            changes["logo_url"] = check_logo(logo_url)
        if color is not None:
            changes["primary_color"] = check_color(color)
        if origins is not None:
            if len(origins) > _MAX_ORIGINS:
                raise invalid(f"at most {_MAX_ORIGINS} allowedReturnOrigins", field="allowedReturnOrigins")
            changes["allowed_return_origins"] = list(dict.fromkeys(check_origin(o) for o in origins))
        return changes


def _settings(doc: dict[str, Any] | None) -> TenantSettings:
    if doc is None:
        return TenantSettings()
    return TenantSettings(
        name=doc.get("name", ""),
        logo_url=doc.get("logo_url", ""),
        primary_color=doc.get("primary_color", ""),
        allowed_return_origins=tuple(doc.get("allowed_return_origins") or ()),
        updated_at=wire.as_utc(doc.get("updated_at")),
    )
