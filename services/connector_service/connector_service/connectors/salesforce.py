"""Salesforce: sObjects as containers, records as items through SOQL, case and feed comments.

The REST base is the token response's `instance_url`. Records come from
`/query` with `nextRecordsUrl` paging; Salesforce batches hold 200–2000
records (`Sforce-Query-Options: batchSize`), so a client page smaller than a
batch is served by re-reading the batch and skipping (see `fetch_page`).
`updatedSince` is `SystemModstamp >= …`. Every object and field name in SOQL
comes from the object's describe, never from the request; record ids are
checked against Salesforce's 15/18-character id shape.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.auth import OAuth2Credential
from connector_service.connectors.base import Capability, Connector, ProbeResult
from connector_service.connectors.context import ConnectorContext
from connector_service.connectors.http import Upstream, segment
from connector_service.connectors.models import (
    Body,
    Comment,
    Container,
    Item,
    ItemDraft,
    Person,
    parse_time,
)
from connector_service.connectors.paging import (
    NextUrlPaging,
    Page,
    decode_cursor,
    encode_cursor,
    fetch_page,
)
from connector_service.platform import destinations

API_VERSION = "v62.0"
_VERSION = re.compile(r"^v\d{2,3}\.\d$")
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_ITEM_FIELDS = (
    "Id",
    "Subject",
    "Description",
    "Status",
    "OwnerId",
    "CreatedById",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
)
# Where an object's comments live: (object, parent field, body field).
_CASE_COMMENTS = ("CaseComment", "ParentId", "CommentBody")
_FEED_COMMENTS = ("FeedItem", "ParentId", "Body")


def _version(ctx: ConnectorContext) -> str:
    """The REST API version: the caller's `api_version` metadata (`v62.0`), else ours."""
    chosen = ctx.user_metadata.get("api_version")
    if chosen in (None, ""):
        return API_VERSION
    if not isinstance(chosen, str) or not _VERSION.match(chosen):
        raise UcfError(
            ErrorCode.INVALID_REQUEST, "metadata.api_version must look like v62.0", {"field": "metadata.api_version"}
        )
    return chosen


def _api(ctx: ConnectorContext) -> Upstream:
    credential = ctx.credential
    instance = ctx.setting("instance_url") or ctx.base_url
    if not isinstance(credential, OAuth2Credential) or not credential.access_token or not instance:
        raise UcfError(ErrorCode.FAILED_PRECONDITION, "salesforce connection has no access token or instanceUrl")
    destinations.http_url(str(instance), "instanceUrl")
    return Upstream(
        ctx, "salesforce", str(instance), {"Accept": "application/json", **credential.request_auth().headers}
    )


def _record_id(value: str, field: str) -> str:
    if not _ID.match(value or ""):
        raise UcfError(ErrorCode.INVALID_REQUEST, f"{field} is not a Salesforce id", {"field": field})
    return value


def _soql_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SalesforceConnector(Connector):
    id = "salesforce"
    display_name = "Salesforce"
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

    def _data(self, ctx: ConnectorContext) -> str:
        return f"/services/data/{_version(ctx)}"

    def _paging(self, ctx: ConnectorContext) -> NextUrlPaging:
        return NextUrlPaging("nextRecordsUrl", prefix=f"{self._data(ctx)}/query/")

    async def validate(self, ctx: ConnectorContext) -> None:
        await _api(ctx).get(f"{self._data(ctx)}/limits")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        api = _api(ctx)
        versions = await api.get("/services/data/")
        limits = await api.get(f"{self._data(ctx)}/limits")
        daily = limits.get("DailyApiRequests") or {}
        instance = {
            "instanceUrl": api.base_url,
            "apiVersion": _version(ctx),
            "latestVersion": (versions[-1] if versions else {}).get("version", ""),
            "dailyApiRequestsRemaining": daily.get("Remaining", 0),
            "dailyApiRequestsMax": daily.get("Max", 0),
        }
        scopes = ctx.credential.scopes if isinstance(ctx.credential, OAuth2Credential) else ()
        return ProbeResult(instance, tuple(sorted(c.value for c in self.capabilities)), scopes)

    async def list_containers(
        self, ctx: ConnectorContext, *, cursor: str | None, limit: int, parent_id: str | None = None
    ) -> Page[Container]:
        """Queryable objects from the global describe (one unpaged answer, sliced here)."""
        offset = (decode_cursor(cursor) or {}).get("o", 0)
        if not isinstance(offset, int) or offset < 0:
            raise UcfError(ErrorCode.INVALID_REQUEST, "cursor is not valid", {"field": "cursor"})
        api = _api(ctx)
        described = await api.get(f"{self._data(ctx)}/sobjects")
        objects = [o for o in described.get("sobjects") or [] if o.get("queryable")]
        chunk = objects[offset : offset + limit]
        containers = [
            Container(
                id=o["name"],
                name=o.get("label", o["name"]),
                key=o.get("keyPrefix") or "",
                type="custom_object" if o.get("custom") else "object",
                url=f"{api.base_url}/lightning/o/{o['name']}/list",
                raw=o if ctx.extra_details else None,
            )
            for o in chunk
        ]
        more = offset + limit < len(objects)
        return Page(containers, encode_cursor({"o": offset + limit}) if more else None)

    async def _describe(self, api: Upstream, ctx: ConnectorContext, name: str) -> dict[str, Any]:
        described: dict[str, Any] = await api.get(f"{self._data(ctx)}/sobjects/{segment(name, 'containerId')}/describe")
        return described

    @staticmethod
    def _title_field(describe: dict[str, Any]) -> str:
        fields = {f["name"]: f for f in describe.get("fields") or []}
        named = next((f["name"] for f in fields.values() if f.get("nameField")), "")
        if named and fields[named].get("createable", True) and not fields[named].get("autoNumber"):
            return named
        return "Subject" if "Subject" in fields else named

    def _selected(self, describe: dict[str, Any]) -> list[str]:
        names = {f["name"] for f in describe.get("fields") or []}
        title = self._title_field(describe)
        return [f for f in dict.fromkeys([*_ITEM_FIELDS[:1], title, *_ITEM_FIELDS[1:]]) if f and f in names]

    def _item(self, ctx: ConnectorContext, api: Upstream, describe: dict[str, Any], record: dict[str, Any]) -> Item:
        values = {k: v for k, v in record.items() if k != "attributes"}
        title_field = self._title_field(describe)
        return Item(
            id=str(record["Id"]),
            container_id=describe["name"],
            title=str(values.get(title_field) or values.get("Subject") or ""),
            body=Body(str(values.get("Description") or ""), "plain"),
            status=str(values.get("Status") or ""),
            author=Person(id=values["CreatedById"]) if values.get("CreatedById") else None,
            assignees=(Person(id=values["OwnerId"]),) if values.get("OwnerId") else (),
            created_at=parse_time(values.get("CreatedDate")),
            updated_at=parse_time(values.get("LastModifiedDate") or values.get("SystemModstamp")),
            url=f"{api.base_url}/{record['Id']}",
            fields=values,
            raw=record if ctx.extra_details else None,
        )

    async def _query(
        self, ctx: ConnectorContext, api: Upstream, soql: str, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        return await fetch_page(
            api,
            self._paging(ctx),
            f"{self._data(ctx)}/query",
            cursor=cursor,
            limit=limit,
            records="records",
            params={"q": soql},
            headers={"Sforce-Query-Options": f"batchSize={max(200, limit)}"},
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
        api = _api(ctx)
        describe = await self._describe(api, ctx, container_id)
        soql = f"SELECT {', '.join(self._selected(describe))} FROM {describe['name']}"
        if updated_since is not None:
            soql += f" WHERE SystemModstamp >= {_soql_time(updated_since)}"
        found, nxt = await self._query(ctx, api, soql + " ORDER BY SystemModstamp ASC, Id ASC", cursor, limit)
        return Page([self._item(ctx, api, describe, r) for r in found], nxt)

    async def get_item(self, ctx: ConnectorContext, container_id: str, item_id: str) -> Item:
        api = _api(ctx)
        describe = await self._describe(api, ctx, container_id)
        record = await api.get(
            f"{self._data(ctx)}/sobjects/{describe['name']}/{_record_id(item_id, 'itemId')}",
            fields=",".join(self._selected(describe)),
        )
        return self._item(ctx, api, describe, record)

    @staticmethod
    def _comment_source(describe: dict[str, Any]) -> tuple[str, str, str]:
        if describe["name"] == "Case":
            return _CASE_COMMENTS
        if describe.get("feedEnabled"):
            return _FEED_COMMENTS
        raise UcfError(ErrorCode.FAILED_PRECONDITION, f"salesforce object {describe['name']} has no comments")

    def _comment(self, ctx: ConnectorContext, record: dict[str, Any], body_field: str, item_id: str) -> Comment:
        return Comment(
            id=str(record["Id"]),
            item_id=item_id,
            body=Body(str(record.get(body_field) or ""), "plain"),
            author=Person(id=record["CreatedById"]) if record.get("CreatedById") else None,
            created_at=parse_time(record.get("CreatedDate")),
            updated_at=parse_time(record.get("LastModifiedDate")),
            raw=record if ctx.extra_details else None,
        )

    async def list_comments(
        self, ctx: ConnectorContext, container_id: str, item_id: str, *, cursor: str | None, limit: int
    ) -> Page[Comment]:
        api = _api(ctx)
        obj, parent, body_field = self._comment_source(await self._describe(api, ctx, container_id))
        soql = (
            f"SELECT Id, {body_field}, CreatedById, CreatedDate, LastModifiedDate FROM {obj}"
            f" WHERE {parent} = '{_record_id(item_id, 'itemId')}' ORDER BY CreatedDate ASC, Id ASC"
        )
        found, nxt = await self._query(ctx, api, soql, cursor, limit)
        return Page([self._comment(ctx, r, body_field, item_id) for r in found], nxt)

    async def create_item(self, ctx: ConnectorContext, container_id: str, draft: ItemDraft) -> Item:
        api = _api(ctx)
        describe = await self._describe(api, ctx, container_id)
        names = {f["name"] for f in describe.get("fields") or []}
        record: dict[str, Any] = {**draft.fields, self._title_field(describe): draft.title}
        if draft.body.text and "Description" in names:
            record["Description"] = draft.body.text
        created = await api.post(f"{self._data(ctx)}/sobjects/{describe['name']}", record)
        return await self.get_item(ctx, describe["name"], str(created["id"]))

    async def create_comment(self, ctx: ConnectorContext, container_id: str, item_id: str, body: Body) -> Comment:
        if not body.text:
            raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is required", {"field": "body"})
        api = _api(ctx)
        obj, parent, body_field = self._comment_source(await self._describe(api, ctx, container_id))
        created = await api.post(
            f"{self._data(ctx)}/sobjects/{obj}", {parent: _record_id(item_id, "itemId"), body_field: body.text}
        )
        record = await api.get(f"{self._data(ctx)}/sobjects/{obj}/{created['id']}")
        return self._comment(ctx, record, body_field, item_id)
