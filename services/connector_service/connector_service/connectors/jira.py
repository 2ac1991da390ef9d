"""Jira Cloud: projects, issues (enhanced JQL search), comments, create issue and comment.

Issues are read with `POST /rest/api/3/search/jql` and its `nextPageToken`
(the old `/rest/api/3/search` was removed). JQL compares dates in the
user's time zone at minute precision, so `updatedSince` widens the JQL bound
by the largest zone offset and then filters on the exact `updated` instant:
a page can therefore be shorter than the limit without being the last.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ucf_common.errors import ErrorCode, UcfError

from connector_service.connectors.adf import adf_to_text, text_to_adf
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
from connector_service.connectors.paging import (
    OffsetPaging,
    Page,
    TokenPaging,
    fetch_page,
)

API = "/rest/api/3"
ISSUE_FIELDS = ["summary", "description", "status", "reporter", "creator", "assignee", "created", "updated",
                "issuetype", "priority", "labels", "project"]
_JQL_ZONE_SLACK = dt.timedelta(hours=14, minutes=1)


def _person(user: Any) -> Person | None:
    if not isinstance(user, dict):
        return None
    return Person(id=user.get("accountId", ""), name=user.get("displayName", ""), email=user.get("emailAddress", ""))


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _adf_body(body: Body) -> dict[str, Any]:
    """ADF for a request body: `format` "adf" means `text` is an ADF JSON document."""
    if body.format != "adf":
        return text_to_adf(body.text)
    try:
        doc = json.loads(body.text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is not an ADF document", {"field": "body"})
    return doc


class JiraConnector(Connector):
    id = "jira"
    display_name = "Jira Cloud"
    capabilities = frozenset({Capability.VALIDATE, Capability.PROBE, Capability.CONTAINERS, Capability.ITEMS,
                              Capability.COMMENTS, Capability.CREATE_ITEM, Capability.CREATE_COMMENT})

    projects_paging = OffsetPaging(max_size=50)
    issues_paging = TokenPaging(max_size=100)
    comments_paging = OffsetPaging(max_size=100)

    async def validate(self, ctx: ConnectorContext) -> None:
        await atlassian_upstream(ctx, "jira").get(f"{API}/myself")

    async def probe(self, ctx: ConnectorContext) -> ProbeResult:
        api = atlassian_upstream(ctx, "jira")
        info = await api.get(f"{API}/serverInfo")
        me = await api.get(f"{API}/myself")
        instance = {
            "site": info.get("baseUrl") or site_url(ctx),
            "version": info.get("version", ""),
            "deploymentType": info.get("deploymentType", ""),
            "user": me.get("displayName", ""),
            "accountId": me.get("accountId", ""),
        }
        return ProbeResult(instance, tuple(sorted(c.value for c in self.capabilities)), granted_scopes(ctx))

    async def list_containers(self, ctx, *, cursor, limit, parent_id=None) -> Page[Container]:
        api = atlassian_upstream(ctx, "jira")
        found, nxt = await fetch_page(api, self.projects_paging, f"{API}/project/search", cursor=cursor,
                                      limit=limit, records="values", params={"orderBy": "key"})
        site = site_url(ctx)
        return Page([
            Container(id=str(p["id"]), name=p.get("name", ""), key=p.get("key", ""), type="project",
                      url=f"{site}/browse/{p.get('key', '')}" if site else "",
                      raw=p if ctx.extra_details else None)
            for p in found
        ], nxt)

    def _item(self, ctx: ConnectorContext, issue: dict[str, Any], container_id: str) -> Item:
        f = issue.get("fields") or {}
        site = site_url(ctx)
        assignee = _person(f.get("assignee"))
        extras = {
            "key": issue.get("key", ""),
            "issueType": (f.get("issuetype") or {}).get("name", ""),
            "priority": (f.get("priority") or {}).get("name", ""),
            "labels": f.get("labels") or [],
        }
        return Item(
            id=str(issue["id"]),
            container_id=str((f.get("project") or {}).get("id") or container_id),
            title=f.get("summary") or "",
            body=Body(adf_to_text(f.get("description")), "adf"),
            status=(f.get("status") or {}).get("name", ""),
            author=_person(f.get("reporter")) or _person(f.get("creator")),
            assignees=(assignee,) if assignee else (),
            created_at=parse_time(f.get("created")),
            updated_at=parse_time(f.get("updated")),
            url=f"{site}/browse/{issue.get('key', '')}" if site else "",
            fields=extras,
            raw=issue if ctx.extra_details else None,
        )

    async def list_items(self, ctx, container_id, *, updated_since, cursor, limit) -> Page[Item]:
        if not container_id:
            raise UcfError(ErrorCode.INVALID_REQUEST, "containerId (a Jira project) is required")
        jql = f"project = {_jql_string(container_id)}"
        if updated_since is not None:
            bound = (updated_since.astimezone(dt.UTC) - _JQL_ZONE_SLACK).strftime("%Y/%m/%d %H:%M")
            jql += f' AND updated >= "{bound}"'
        body = {"jql": jql + " ORDER BY updated ASC, key ASC", "fields": ISSUE_FIELDS}
        found, nxt = await fetch_page(atlassian_upstream(ctx, "jira"), self.issues_paging, f"{API}/search/jql",
                                      cursor=cursor, limit=limit, records="issues", body=body)
        items = [self._item(ctx, issue, container_id) for issue in found]
        if updated_since is not None:
            items = [i for i in items if i.updated_at is None or i.updated_at >= updated_since]
        return Page(items, nxt)

    async def get_item(self, ctx, container_id, item_id) -> Item:
        issue = await atlassian_upstream(ctx, "jira").get(
            f"{API}/issue/{segment(item_id, 'itemId')}", fields=",".join(ISSUE_FIELDS))
        return self._item(ctx, issue, container_id)

    async def list_comments(self, ctx, container_id, item_id, *, cursor, limit) -> Page[Comment]:
        path = f"{API}/issue/{segment(item_id, 'itemId')}/comment"
        found, nxt = await fetch_page(atlassian_upstream(ctx, "jira"), self.comments_paging, path, cursor=cursor,
                                      limit=limit, records="comments", params={"orderBy": "created"})
        return Page([self._comment(ctx, c, item_id) for c in found], nxt)

    def _comment(self, ctx: ConnectorContext, c: dict[str, Any], item_id: str) -> Comment:
        return Comment(
            id=str(c["id"]),
            item_id=item_id,
            author=_person(c.get("author")),
            body=Body(adf_to_text(c.get("body")), "adf"),
            created_at=parse_time(c.get("created")),
            updated_at=parse_time(c.get("updated")),
            raw=c if ctx.extra_details else None,
        )

    async def create_item(self, ctx, container_id, draft: ItemDraft) -> Item:
        if not draft.title:
            raise UcfError(ErrorCode.INVALID_REQUEST, "title is required", {"field": "title"})
        issue_type = draft.fields.get("issueType") or "Task"
        fields: dict[str, Any] = {
            "project": {"id": container_id} if container_id.isdigit() else {"key": container_id},
            "summary": draft.title,
            "issuetype": {"name": issue_type},
        }
        if draft.body.text:
            fields["description"] = _adf_body(draft.body)
        if draft.fields.get("labels"):
            fields["labels"] = list(draft.fields["labels"])
        api = atlassian_upstream(ctx, "jira")
        created = await api.post(f"{API}/issue", {"fields": fields})
        return await self.get_item(ctx, container_id, str(created["id"]))

    async def create_comment(self, ctx, container_id, item_id, body: Body) -> Comment:
        if not body.text:
            raise UcfError(ErrorCode.INVALID_REQUEST, "body.text is required", {"field": "body"})
        api = atlassian_upstream(ctx, "jira")
        c = await api.post(f"{API}/issue/{segment(item_id, 'itemId')}/comment", {"body": _adf_body(body)})
        return self._comment(ctx, c, item_id)
