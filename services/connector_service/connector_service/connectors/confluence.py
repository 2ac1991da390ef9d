"""Confluence Cloud (REST v2): spaces, pages by space, footer comments, create page and comment.

Lists follow the v2 cursor in the `Link` header (or `_links.next`). v2 has no
"modified since" filter for pages, so `updatedSince` lists the space's pages
newest-modified first and ends the listing at the first page older than the
bound. Authors are account ids only: v2 does not expand users.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.atlassian import (
    atlassian_upstream,
    granted_scopes,
    site_url,
)
from connector_service.connectors.base import Capability, Connector, ProbeResult
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import segment
from connector_service.connectors.models import (
    Body,
    Comment,
    Container,
    Item,
    ItemDraft,
    Person,
    parse_time,
)
from connector_service.connectors.paging import LinkPaging, Page, fetch_page
from connector_service.connectors.storage import storage_to_text, text_to_storage

API = "/wiki/api/v2"


def _storage(body: Body) -> dict[str, str]:
    """A v2 request body: `format` "storage" is sent as is, anything else is treated as plain text."""
    value = body.text if body.format == "storage" else text_to_storage(body.text)
    return {"representation": "storage", "value": value}


def _text(doc: dict[str, Any]) -> Body:
    return Body(storage_to_text(((doc.get("body") or {}).get("storage") or {}).get("value")), "storage")


def _author(account_id: Any) -> Person | None:
    return Person(id=str(account_id)) if account_id else None


class ConfluenceConnector(Connector):
    id = "confluence"
    display_name = "Confluence Cloud"
    capabilities = frozenset(
        {
            Capability.VALIDATE,
            Capability.PROBE,
            Capability.CONTAINERS,
            Capability.ITEMS,
            Capability.COMMENTS,
            Capability.CREATE_ITEM,
            Capability.CREATE_COMMENT,
        }
    )

    paging = LinkPaging(size_param="limit", max_size=250, body_field="_links.next")

    def _link(self, ctx: ConnectorContext, webui: Any) -> str:
        site = site_url(ctx)
        return f"{site}/wiki{webui}" if site and isinstance(webui, str) and webui else ""

    async def validate(self, ctx: ConnectorContext) -> None:
        await atlassian_upstream(ctx, "confluence").get("/wiki/rest/api/user/current")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        api = atlassian_upstream(ctx, "confluence")
        me = await api.get("/wiki/rest/api/user/current")
        spaces = await api.get(f"{API}/spaces", limit=1)
        instance = {
            "site": (spaces.get("_links") or {}).get("base") or site_url(ctx),
            "apiVersion": "v2",
            "user": me.get("displayName") or me.get("publicName", ""),
            "accountId": me.get("accountId", ""),
        }
        return ProbeResult(instance, tuple(sorted(c.value for c in self.capabilities)), granted_scopes(ctx))

    async def list_containers(
        self, ctx: ConnectorContext, *, cursor: str | None, limit: int, parent_id: str | None = None
    ) -> Page[Container]:
        found, nxt = await fetch_page(
            atlassian_upstream(ctx, "confluence"),
            self.paging,
            f"{API}/spaces",
            cursor=cursor,
            limit=limit,
            records="results",
            params={"sort": "key"},
        )
        return Page(
            [
                Container(
                    id=str(s["id"]),
                    name=s.get("name", ""),
                    key=s.get("key", ""),
                    type="space",
                    url=self._link(ctx, (s.get("_links") or {}).get("webui")),
                    raw=s if ctx.extra_details else None,
                )
                for s in found
            ],
            nxt,
        )

    def _item(self, ctx: ConnectorContext, page: dict[str, Any]) -> Item:
        version = page.get("version") or {}
        return Item(
            id=str(page["id"]),
            container_id=str(page.get("spaceId", "")),
            title=page.get("title", ""),
            body=_text(page),
            status=page.get("status", ""),
            author=_author(page.get("authorId")),
            created_at=parse_time(page.get("createdAt")),
            updated_at=parse_time(version.get("createdAt")) or parse_time(page.get("createdAt")),
            url=self._link(ctx, (page.get("_links") or {}).get("webui")),
            fields={"parentId": page.get("parentId") or "", "version": version.get("number", 0)},
            raw=page if ctx.extra_details else None,
        )

    async def list_items(
        self,
        ctx: ConnectorContext,
        container_id: str,
        *,
        updated_since: dt.datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Item]:
        path = f"{API}/spaces/{segment(container_id, 'containerId')}/pages"
        params = {"body-format": "storage", "sort": "-modified-date" if updated_since else "id"}
        found, nxt = await fetch_page(
            atlassian_upstream(ctx, "confluence"),
            self.paging,
            path,
            cursor=cursor,
            limit=limit,
            records="results",
            params=params,
        )
        items = [self._item(ctx, p) for p in found]
        if updated_since is not None:
            fresh = [i for i in items if i.updated_at is None or i.updated_at >= updated_since]
            if len(fresh) < len(items):
                return Page(fresh, None)
        return Page(items, nxt)

    async def get_item(self, ctx: ConnectorContext, container_id: str, item_id: str) -> Item:
        page = await atlassian_upstream(ctx, "confluence").get(
            f"{API}/pages/{segment(item_id, 'itemId')}", **{"body-format": "storage"}
        )
        return self._item(ctx, page)

    async def list_comments(
        self, ctx: ConnectorContext, container_id: str, item_id: str, *, cursor: str | None, limit: int
    ) -> Page[Comment]:
        path = f"{API}/pages/{segment(item_id, 'itemId')}/footer-comments"
        found, nxt = await fetch_page(
            atlassian_upstream(ctx, "confluence"),
            self.paging,
            path,
            cursor=cursor,
            limit=limit,
            records="results",
            params={"body-format": "storage"},
        )
        return Page([self._comment(ctx, c, item_id) for c in found], nxt)

    def _comment(self, ctx: ConnectorContext, c: dict[str, Any], item_id: str) -> Comment:
        version = c.get("version") or {}
        return Comment(
            id=str(c["id"]),
            item_id=str(c.get("pageId") or item_id),
            author=_author(version.get("authorId")),
            body=_text(c),
            created_at=parse_time(version.get("createdAt")),
            updated_at=parse_time(version.get("createdAt")),
            raw=c if ctx.extra_details else None,
        )

    async def create_item(self, ctx: ConnectorContext, container_id: str, draft: ItemDraft) -> Item:
        if not draft.title:
            raise UcfError(ErrorCode.INVALID_REQUEST, "title is required", {"field": "title"})
        request: dict[str, Any] = {
            "spaceId": container_id,
            "status": "current",
            "title": draft.title,
            "body": _storage(draft.body),
        }
        if draft.fields.get("parentId"):
            request["parentId"] = str(draft.fields["parentId"])
        page = await atlassian_upstream(ctx, "confluence").post(f"{API}/pages", request)
        return self._item(ctx, page)

    async def create_comment(self, ctx: ConnectorContext, container_id: str, item_id: str, body: Body) -> Comment:
        if not body.text:
            raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is required", {"field": "body"})
        c = await atlassian_upstream(ctx, "confluence").post(
            f"{API}/footer-comments", {"pageId": item_id, "body": _storage(body)}
        )
        return self._comment(ctx, c, item_id)
