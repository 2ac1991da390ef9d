"""A Jira Cloud fake built from the REST API v3 reference.

Serves both ways in: OAuth 2.0 through the API gateway
(`/ex/jira/{cloudId}/rest/api/3/...`, bearer token) and API tokens against the
site (`/rest/api/3/...`, basic email:token). Strict where the real API is:
the removed `/rest/api/3/search` answers 410, `search/jql` refuses unbounded
JQL and unknown body keys ("Invalid request payload"), descriptions and
comment bodies must be ADF documents, `nextPageToken` is omitted on the
last page.

Dynamic webhooks (`/rest/api/3/webhook`, `/webhook/refresh`) answer only
OAuth apps through the gateway (API tokens on the site get 403 "Only apps can
access this resource."), validate the registration payload (known keys, a
non-empty `url` and `webhooks`, every webhook with supported `events` and a
`jqlFilter`; otherwise 400 "Invalid request payload"), report a `jqlFilter`
outside the supported subset (fields issueKey/project/issuetype/status/
assignee/reporter, operators = != IN NOT IN) in that webhook's `errors`, list
`{id, jqlFilter, events, expirationDate}` paged by startAt (URLs are not
listed), expire webhooks 30 days after registration or refresh, and delete
by `webhookIds` with 202 (ids that are not the app's are ignored).
Only a single URL per app may be registered: a registration with another URL
while the app has webhooks is refused with 400 and `SINGLE_URL`.
`delivery()` builds what Jira POSTs to a webhook: the JSON event and
`Authorization: Bearer <JWT>` signed HS256 with the app's client secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tests.fakes._provider import FakeProvider, atlassian_auth_failure, authed, bearer_token

CLOUD_ID = "11111111-2222-3333-4444-555555555555"
SITE_URL = "https://acme.atlassian.net"
OAUTH_TOKEN = "jira-oauth-access-token"
EMAIL, API_TOKEN = "dev@example.com", "jira-api-token"
_SEARCH_KEYS = {
    "jql",
    "nextPageToken",
    "maxResults",
    "fields",
    "expand",
    "properties",
    "fieldsByKeys",
    "failFast",
    "reconcileIssues",
}
WEBHOOK_EVENTS = {
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
}
_WEBHOOK_KEYS = {"events", "jqlFilter", "fieldIdsFilter", "issuePropertyKeysFilter"}
_WEBHOOK_LIFETIME = dt.timedelta(days=30)
_WEBHOOK_JQL_CLAUSE = re.compile(
    r"^(?P<field>issueKey|project|issuetype|status|assignee|reporter) (?P<op>=|!=|IN|NOT IN) (?P<value>.+)$"
)
_INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."
_JQL = re.compile(
    r'^project = "(?P<project>[^"]+)"(?: AND updated >= "(?P<since>\d{4}/\d{2}/\d{2} \d{2}:\d{2})")?'
    r"(?: ORDER BY (?P<order>.+))?$"
)


SINGLE_URL = "Only a single URL per app is allowed to be registered."


def jira_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def adf(text: str) -> dict[str, Any]:
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    return {"type": "doc", "version": 1, "content": [paragraph]}


def _errors(status: int, *messages: str, fields: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errorMessages": list(messages), "errors": fields or {}}, status)


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1


class FakeJira(FakeProvider):
    """Seeded with `projects` projects of `issues_per_project` issues, each with `comments_per_issue` comments."""

    def __init__(self, projects: int = 2, issues_per_project: int = 7, comments_per_issue: int = 3):
        self.site = ""
        self.me = {"accountId": "acc-1", "displayName": "Dev User", "emailAddress": EMAIL}
        self.projects = [
            {"id": str(10000 + n), "key": f"P{n}", "name": f"Project {n}", "projectTypeKey": "software"}
            for n in range(projects)
        ]
        self.issues: dict[str, dict[str, Any]] = {}
        #: dynamic webhooks by id: {id, url, events, jqlFilter, expires (datetime)}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self._webhook_ids = itertools.count(10000)
        self.comments: dict[str, list[dict[str, Any]]] = {}
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        for p in self.projects:
            for n in range(issues_per_project):
                issue = self._new_issue(
                    p,
                    f"Issue {n} of {p['key']}",
                    adf(f"Description {n}"),
                    "Task",
                    start + dt.timedelta(hours=len(self.issues)),
                )
                for c in range(comments_per_issue):
                    self._new_comment(issue["id"], adf(f"Comment {c}"))
        api = [
            Route("/search", self.removed_search, methods=["GET", "POST"]),
            Route("/search/jql", self.search_jql, methods=["GET", "POST"]),
            Route("/project/search", self.project_search),
            Route("/issue", self.create_issue, methods=["POST"]),
            Route("/issue/{key}", self.get_issue),
            Route("/issue/{key}/comment", self.comments_of, methods=["GET", "POST"]),
            Route("/myself", self.myself),
            Route("/serverInfo", self.server_info),
            Route("/webhook", self.webhook, methods=["GET", "POST", "DELETE"]),
            Route("/webhook/refresh", self.refresh_webhooks, methods=["PUT"]),
        ]
        app = Starlette(
            routes=[
                Mount("/ex/jira/{cloud_id}/rest/api/3", routes=api),
                Mount("/rest/api/3", routes=api),
                Route("/oauth/token/accessible-resources", self.accessible_resources),
            ]
        )
        super().__init__(app)

    def _new_issue(self, project: dict, summary: str, description: Any, issue_type: str, when: dt.datetime) -> dict:
        number = sum(1 for i in self.issues.values() if i["fields"]["project"]["id"] == project["id"]) + 1
        issue_id = str(20000 + len(self.issues))
        issue = {
            "id": issue_id,
            "key": f"{project['key']}-{number}",
            "fields": {
                "summary": summary,
                "description": description,
                "status": {"name": "To Do"},
                "reporter": self.me,
                "creator": self.me,
                "assignee": None,
                "created": jira_time(when),
                "updated": jira_time(when),
                "issuetype": {"name": issue_type},
                "priority": {"name": "Medium"},
                "labels": [],
                "project": {k: project[k] for k in ("id", "key", "name")},
            },
        }
        self.issues[issue_id] = issue
        self.comments[issue_id] = []
        return issue

    def _new_comment(self, issue_id: str, body: Any) -> dict:
        now = jira_time(dt.datetime(2024, 2, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=len(self.comments[issue_id])))
        comment = {
            "id": str(30000 + sum(len(c) for c in self.comments.values())),
            "author": self.me,
            "body": body,
            "created": now,
            "updated": now,
        }
        self.comments[issue_id].append(comment)
        return comment

    def unauthorized(self, request: Request) -> JSONResponse | None:
        site_failure = _errors(401, "Client must be authenticated to access this resource.")
        return atlassian_auth_failure(
            request, cloud_id=CLOUD_ID, token=OAUTH_TOKEN, email=EMAIL, api_token=API_TOKEN, site_failure=site_failure
        )

    def _issue_view(self, issue: dict, fields: list[str]) -> dict:
        base = self.base_url + "/rest/api/3/issue/" + issue["id"]
        wanted = issue["fields"] if "*all" in fields else {k: v for k, v in issue["fields"].items() if k in fields}
        return {"id": issue["id"], "key": issue["key"], "self": base, "fields": wanted}

    def _find(self, key: str) -> dict | None:
        return self.issues.get(key) or next((i for i in self.issues.values() if i["key"] == key), None)

    @authed
    async def removed_search(self, request: Request) -> JSONResponse:
        return _errors(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.")

    @authed
    async def search_jql(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.json()
            if not isinstance(body, dict) or set(body) - _SEARCH_KEYS:
                return _errors(400, "Invalid request payload. Refer to the REST API documentation and try again.")
        else:
            body = dict(request.query_params)
            if "fields" in body:
                body["fields"] = body["fields"].split(",")
        match = _JQL.match(str(body.get("jql", "")))
        if not match:
            return _errors(
                400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
            )
        project = next((p for p in self.projects if match["project"] in (p["id"], p["key"])), None)
        if project is None:
            return _errors(400, f"The value '{match['project']}' does not exist for the field 'project'.")
        found = [i for i in self.issues.values() if i["fields"]["project"]["id"] == project["id"]]
        if match["since"]:
            since = jira_time(dt.datetime.strptime(match["since"], "%Y/%m/%d %H:%M"))
            found = [i for i in found if i["fields"]["updated"] >= since]
        found.sort(key=lambda i: (i["fields"]["updated"], int(i["id"])))
        size = max(1, min(int(body.get("maxResults", 50)), 100))
        token = body.get("nextPageToken")
        try:
            start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
        except ValueError:
            return _errors(400, "The provided next page token is invalid or expired.")
        page = found[start : start + size]
        fields = body.get("fields") or ["id"]
        answer: dict[str, Any] = {
            "issues": [self._issue_view(i, fields) for i in page],
            "isLast": start + size >= len(found),
        }
        if not answer["isLast"]:
            answer["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return JSONResponse(answer)

    @authed
    async def project_search(self, request: Request) -> JSONResponse:
        start = int(request.query_params.get("startAt", 0))
        size = max(1, min(int(request.query_params.get("maxResults", 50)), 50))
        projects = sorted(self.projects, key=lambda p: p["key"])
        page = projects[start : start + size]
        return JSONResponse(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(projects),
                "isLast": start + size >= len(projects),
                "values": page,
            }
        )

    @authed
    async def get_issue(self, request: Request) -> JSONResponse:
        issue = self._find(request.path_params["key"])
        if issue is None:
            return _errors(404, "Issue does not exist or you do not have permission to see it.")
        fields = request.query_params.get("fields", "*all").split(",")
        return JSONResponse(self._issue_view(issue, fields))

    @authed
    async def create_issue(self, request: Request) -> JSONResponse:
        fields = (await request.json()).get("fields") or {}
        ref = fields.get("project") or {}
        project = next((p for p in self.projects if ref.get("id") == p["id"] or ref.get("key") == p["key"]), None)
        problems = {}
        if project is None:
            problems["project"] = "valid project is required"
        if not fields.get("summary"):
            problems["summary"] = "You must specify a summary of the issue."
        if "description" in fields and not _is_adf(fields["description"]):
            problems["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        if not (fields.get("issuetype") or {}).get("name") and not (fields.get("issuetype") or {}).get("id"):
            problems["issuetype"] = "Specify an issue type"
        if problems:
            return _errors(400, fields=problems)
        issue = self._new_issue(
            project,
            fields["summary"],
            fields.get("description"),
            fields["issuetype"].get("name", "Task"),
            dt.datetime.now(dt.UTC),
        )
        return JSONResponse({"id": issue["id"], "key": issue["key"], "self": self.base_url}, 201)

    @authed
    async def comments_of(self, request: Request) -> JSONResponse:
        issue = self._find(request.path_params["key"])
        if issue is None:
            return _errors(404, "Issue does not exist or you do not have permission to see it.")
        if request.method == "POST":
            body = (await request.json()).get("body")
            if not _is_adf(body):
                return _errors(400, fields={"comment": "Comment body is not valid!"})
            return JSONResponse(self._new_comment(issue["id"], body), 201)
        start = int(request.query_params.get("startAt", 0))
        size = max(1, min(int(request.query_params.get("maxResults", 100)), 100))
        comments = self.comments[issue["id"]]
        return JSONResponse(
            {"startAt": start, "maxResults": size, "total": len(comments), "comments": comments[start : start + size]}
        )

    async def accessible_resources(self, request: Request) -> JSONResponse:
        """The API gateway's list of sites an OAuth grant reaches (bearer only)."""
        if bearer_token(request.headers) != OAUTH_TOKEN:
            return JSONResponse({"code": 401, "message": "Unauthorized"}, 401)
        return JSONResponse(
            [
                {
                    "id": CLOUD_ID,
                    "url": SITE_URL,
                    "name": "acme",
                    "scopes": ["read:jira-work", "manage:jira-webhook"],
                    "avatarUrl": f"{SITE_URL}/avatar.png",
                }
            ]
        )

    @authed
    async def myself(self, request: Request) -> JSONResponse:
        return JSONResponse(self.me)

    @authed
    async def server_info(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "baseUrl": self.base_url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100,
                "serverTitle": "Jira",
            }
        )

    # Dynamic webhooks (OAuth 2.0 apps only).

    def _webhook_jql_errors(self, jql: str) -> list[str]:
        for clause in re.split(r" (?:AND|OR) ", jql.strip()):
            match = _WEBHOOK_JQL_CLAUSE.match(clause.strip())
            if not match:
                return [f"The JQL filter '{jql}' is not supported for webhooks."]
            if match["field"] == "project" and match["op"] == "=":
                ref = match["value"].strip('"')
                if not any(ref in (p["id"], p["key"]) for p in self.projects):
                    return [f"The value '{ref}' does not exist for the field 'project'."]
        return []

    @staticmethod
    def _ids_in(body: Any) -> list[int] | None:
        ids = body.get("webhookIds") if isinstance(body, dict) and set(body) == {"webhookIds"} else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            return None
        return ids

    @authed
    async def webhook(self, request: Request) -> Response:
        if "cloud_id" not in request.path_params:
            return _errors(403, "Only apps can access this resource.")
        if request.method == "GET":
            start = int(request.query_params.get("startAt", 0))
            size = max(1, min(int(request.query_params.get("maxResults", 100)), 100))
            hooks = sorted(self.webhooks.values(), key=lambda h: h["id"])
            page = hooks[start : start + size]
            return JSONResponse(
                {
                    "startAt": start,
                    "maxResults": size,
                    "total": len(hooks),
                    "isLast": start + size >= len(hooks),
                    "values": [
                        {
                            "id": h["id"],
                            "jqlFilter": h["jqlFilter"],
                            "events": h["events"],
                            "expirationDate": int(h["expires"].timestamp() * 1000),
                        }
                        for h in page
                    ],
                }
            )
        try:
            body = await request.json()
        except ValueError:
            return _errors(400, _INVALID_PAYLOAD)
        if request.method == "DELETE":
            ids = self._ids_in(body)
            if ids is None:
                return _errors(400, _INVALID_PAYLOAD)
            for webhook_id in ids:
                self.webhooks.pop(webhook_id, None)
            return Response(status_code=202)
        if (
            not isinstance(body, dict)
            or set(body) - {"url", "webhooks"}
            or not isinstance(body.get("url"), str)
            or not body["url"]
            or not isinstance(body.get("webhooks"), list)
            or not body["webhooks"]
        ):
            return _errors(400, _INVALID_PAYLOAD)
        for details in body["webhooks"]:
            events = details.get("events") if isinstance(details, dict) else None
            if (
                not isinstance(details, dict)
                or set(details) - _WEBHOOK_KEYS
                or not isinstance(events, list)
                or not events
                or any(e not in WEBHOOK_EVENTS for e in events)
                or not isinstance(details.get("jqlFilter"), str)
                or not details["jqlFilter"]
            ):
                return _errors(400, _INVALID_PAYLOAD)
        # Only a single URL per app may be registered (RegisterDynamicWebhooks): another URL while the
        # app has live webhooks is refused whole.
        if any(h["url"] != body["url"] for h in self.webhooks.values()):
            return _errors(400, SINGLE_URL)
        results = []
        for details in body["webhooks"]:
            problems = self._webhook_jql_errors(details["jqlFilter"])
            if problems:
                results.append({"errors": problems})
                continue
            webhook_id = next(self._webhook_ids)
            self.webhooks[webhook_id] = {
                "id": webhook_id,
                "url": body["url"],
                "events": list(details["events"]),
                "jqlFilter": details["jqlFilter"],
                "expires": dt.datetime.now(dt.UTC) + _WEBHOOK_LIFETIME,
            }
            results.append({"createdWebhookId": webhook_id})
        return JSONResponse({"webhookRegistrationResult": results})

    @authed
    async def refresh_webhooks(self, request: Request) -> JSONResponse:
        if "cloud_id" not in request.path_params:
            return _errors(403, "Only apps can access this resource.")
        try:
            ids = self._ids_in(await request.json())
        except ValueError:
            ids = None
        if ids is None:
            return _errors(400, _INVALID_PAYLOAD)
        expires = dt.datetime.now(dt.UTC) + _WEBHOOK_LIFETIME
        for webhook_id in ids:
            if webhook_id in self.webhooks:
                self.webhooks[webhook_id]["expires"] = expires
        return JSONResponse({"expirationDate": int(expires.timestamp() * 1000)})

    def delivery(
        self,
        webhook_id: int | list[int],
        event: str,
        client_secret: str,
        *,
        issue_id: str | None = None,
        when: dt.datetime | None = None,
        identifier: str | None = None,
        site: str = SITE_URL,
    ) -> tuple[dict[str, str], bytes]:
        """What Jira POSTs to a registered webhook's URL for `event` on an issue (the first one by default)."""
        issue = self.issues[issue_id] if issue_id else next(iter(self.issues.values()))
        moment = when or dt.datetime.now(dt.UTC)
        payload: dict[str, Any] = {
            "timestamp": int(moment.timestamp() * 1000),
            "webhookEvent": event,
            "user": self.me,
            "issue": {**self._issue_view(issue, ["*all"]), "self": f"{site}/rest/api/3/issue/{issue['id']}"},
            "matchedWebhookIds": webhook_id if isinstance(webhook_id, list) else [webhook_id],
        }
        if event.startswith("jira:issue_"):
            payload["issue_event_type_name"] = event.removeprefix("jira:")
        if event.startswith("comment_"):
            payload["comment"] = (self.comments[issue["id"]] or [{}])[-1]
        body = json.dumps(payload).encode()
        return {
            "Authorization": "Bearer "
            + jwt_hs256(client_secret, {"iat": int(time.time()), "exp": int(time.time()) + 300}),
            "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4()),
            "Content-Type": "application/json",
        }, body


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_hs256(secret: str, claims: dict[str, Any]) -> str:
    """A compact JWT signed HS256 (what Jira sends OAuth 2.0 apps' webhooks)."""
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64url(json.dumps(claims).encode())
    return head + "." + _b64url(hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest())
