"""A Confluence Cloud fake built from the REST v2 reference.

OAuth through `/ex/confluence/{cloudId}/wiki/...` (bearer) or basic auth on
the site. Lists use an opaque `cursor` announced both in the `Link` header
and `_links.next`; `limit` outside 1–250, unknown `sort` or `body-format`
values answer 400 in v2's `{"errors": [...]}` shape.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tests.fakes._provider import FakeProvider, atlassian_auth_failure, authed

CLOUD_ID = "99999999-8888-7777-6666-555555555555"
OAUTH_TOKEN = "confluence-oauth-access-token"
EMAIL, API_TOKEN = "writer@example.com", "confluence-api-token"
BODY_FORMATS = {"storage", "atlas_doc_format", "view"}
SORTS = {
    "id",
    "-id",
    "key",
    "-key",
    "name",
    "-name",
    "title",
    "-title",
    "created-date",
    "-created-date",
    "modified-date",
    "-modified-date",
}


def _error(status: int, code: str, title: str, detail: str | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"status": status, "code": code, "title": title, "detail": detail}]}, status)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class FakeConfluence(FakeProvider):
    def __init__(self, spaces: int = 3, pages_per_space: int = 7, comments_per_page: int = 4):
        self.account = {"type": "known", "accountId": "acc-9", "displayName": "Wiki Writer", "email": EMAIL}
        self.spaces = [
            {
                "id": str(100 + n),
                "key": f"S{n}",
                "name": f"Space {n}",
                "type": "global",
                "status": "current",
                "_links": {"webui": f"/spaces/S{n}"},
            }
            for n in range(spaces)
        ]
        self.pages: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
        for s in self.spaces:
            for n in range(pages_per_space):
                page = self._new_page(
                    s["id"],
                    f"Page {n} in {s['key']}",
                    f"<p>Hello <strong>page {n}</strong></p><ul><li>one</li><li>two</li></ul>",
                    start + dt.timedelta(hours=len(self.pages)),
                )
                for c in range(comments_per_page):
                    self._new_comment(page["id"], f"<p>Comment {c}</p>")
        wiki = [
            Route("/api/v2/spaces", self.list_spaces),
            Route("/api/v2/spaces/{space_id}/pages", self.list_pages),
            Route("/api/v2/pages", self.create_page, methods=["POST"]),
            Route("/api/v2/pages/{page_id}", self.get_page),
            Route("/api/v2/pages/{page_id}/footer-comments", self.list_comments),
            Route("/api/v2/footer-comments", self.create_comment, methods=["POST"]),
            Route("/rest/api/user/current", self.current_user),
        ]
        super().__init__(
            Starlette(routes=[Mount("/ex/confluence/{cloud_id}/wiki", routes=wiki), Mount("/wiki", routes=wiki)])
        )

    def unauthorized(self, request: Request) -> JSONResponse | None:
        return atlassian_auth_failure(
            request,
            cloud_id=CLOUD_ID,
            token=OAUTH_TOKEN,
            email=EMAIL,
            api_token=API_TOKEN,
            site_failure=_error(401, "UNAUTHORIZED", "Unauthorized"),
        )

    def _new_page(
        self, space_id: str, title: str, storage: str, when: dt.datetime, parent_id: str | None = None
    ) -> dict:
        page_id = str(5000 + len(self.pages))
        page = {
            "id": page_id,
            "status": "current",
            "title": title,
            "spaceId": space_id,
            "parentId": parent_id,
            "authorId": self.account["accountId"],
            "createdAt": _iso(when),
            "version": {"number": 1, "createdAt": _iso(when), "authorId": self.account["accountId"]},
            "body": {"storage": {"representation": "storage", "value": storage}},
            "_links": {"webui": f"/spaces/S/pages/{page_id}"},
        }
        self.pages[page_id] = page
        self.comments[page_id] = []
        return page

    def _new_comment(self, page_id: str, storage: str) -> dict:
        when = _iso(dt.datetime(2024, 4, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=len(self.comments[page_id])))
        comment = {
            "id": str(9000 + sum(len(c) for c in self.comments.values())),
            "status": "current",
            "title": "Re: page",
            "pageId": page_id,
            "version": {"number": 1, "createdAt": when, "authorId": self.account["accountId"]},
            "body": {"storage": {"representation": "storage", "value": storage}},
        }
        self.comments[page_id].append(comment)
        return comment

    def _page(self, request: Request, everything: list[dict], view) -> JSONResponse:
        """One cursor page of `everything`, with v2's Link header and `_links`."""
        q = request.query_params
        try:
            limit = int(q.get("limit", 25))
            start = int(base64.urlsafe_b64decode(q["cursor"]).decode()) if "cursor" in q else 0
        except (ValueError, KeyError):
            return _error(400, "INVALID_REQUEST_PARAMETER", "Invalid cursor or limit")
        if not 1 <= limit <= 250:
            return _error(400, "INVALID_REQUEST_PARAMETER", "limit must be between 1 and 250")
        if q.get("body-format", "storage") not in BODY_FORMATS or q.get("sort", "id") not in SORTS:
            return _error(400, "INVALID_REQUEST_PARAMETER", "Invalid value for body-format or sort")
        body: dict[str, Any] = {
            "results": [view(x) for x in everything[start : start + limit]],
            "_links": {"base": self.base_url + "/wiki"},
        }
        headers = {}
        if start + limit < len(everything):
            rest = {k: v for k, v in q.items() if k != "cursor"}
            nxt = request.url.path.split("/wiki", 1)[1]
            cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            nxt = "/wiki" + nxt + "?" + urlencode({**rest, "cursor": cursor})
            body["_links"]["next"] = nxt
            headers["Link"] = f'<{nxt}>; rel="next", <{self.base_url}/wiki>; rel="base"'
        return JSONResponse(body, headers=headers)

    @staticmethod
    def _sorted(pages: list[dict], sort: str) -> list[dict]:
        key = {
            "id": lambda p: int(p["id"]),
            "modified-date": lambda p: p["version"]["createdAt"],
            "title": lambda p: p["title"],
            "created-date": lambda p: p["createdAt"],
        }.get(sort.lstrip("-"))
        return sorted(pages, key=key or (lambda p: int(p["id"])), reverse=sort.startswith("-"))

    def _with_body(self, request: Request):
        wants_body = request.query_params.get("body-format") == "storage"
        return lambda x: x if wants_body else {k: v for k, v in x.items() if k != "body"}

    @authed
    async def list_spaces(self, request: Request) -> JSONResponse:
        return self._page(request, sorted(self.spaces, key=lambda s: s["key"]), lambda s: s)

    @authed
    async def list_pages(self, request: Request) -> JSONResponse:
        if not any(s["id"] == request.path_params["space_id"] for s in self.spaces):
            return _error(404, "NOT_FOUND", "Not Found")
        pages = [p for p in self.pages.values() if p["spaceId"] == request.path_params["space_id"]]
        ordered = self._sorted(pages, request.query_params.get("sort", "id"))
        return self._page(request, ordered, self._with_body(request))

    @authed
    async def get_page(self, request: Request) -> JSONResponse:
        page = self.pages.get(request.path_params["page_id"])
        return JSONResponse(self._with_body(request)(page)) if page else _error(404, "NOT_FOUND", "Not Found")

    @authed
    async def list_comments(self, request: Request) -> JSONResponse:
        if request.path_params["page_id"] not in self.pages:
            return _error(404, "NOT_FOUND", "Not Found")
        return self._page(request, self.comments[request.path_params["page_id"]], self._with_body(request))

    @staticmethod
    def _storage_body(body: Any) -> str | None:
        ok = isinstance(body, dict) and body.get("representation") == "storage" and isinstance(body.get("value"), str)
        return body["value"] if ok else None

    @authed
    async def create_page(self, request: Request) -> JSONResponse:
        data = await request.json()
        storage = self._storage_body(data.get("body"))
        if not any(s["id"] == data.get("spaceId") for s in self.spaces) or not data.get("title") or storage is None:
            return _error(400, "INVALID_REQUEST_PARAMETER", "spaceId, title and a storage body are required")
        page = self._new_page(data["spaceId"], data["title"], storage, dt.datetime.now(dt.UTC), data.get("parentId"))
        return JSONResponse(page)

    @authed
    async def create_comment(self, request: Request) -> JSONResponse:
        data = await request.json()
        storage = self._storage_body(data.get("body"))
        if data.get("pageId") not in self.pages or storage is None:
            return _error(400, "INVALID_REQUEST_PARAMETER", "pageId and a storage body are required")
        return JSONResponse(self._new_comment(data["pageId"], storage), 201)

    @authed
    async def current_user(self, request: Request) -> JSONResponse:
        return JSONResponse(self.account)
