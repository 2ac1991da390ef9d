"""A GitHub REST API fake built from the published reference (API version 2022-11-28).

Page-numbered lists with `per_page` capped at 100 and a `Link` header whose
next link goes through `/repositories/{id}/...` as GitHub's do; `since`
must be ISO 8601 and `state` one of open/closed/all (422 otherwise);
rate-limit headers on every answer; `{"message": "Bad credentials"}` 401.
The issues list mixes pull requests in, like the real endpoint.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes._provider import FakeProvider, authed, bearer_token

TOKEN = "ghp_fake_personal_access_token"
API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"


def _error(status: int, message: str, errors: list | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub(FakeProvider):
    def __init__(self, repos: int = 4, issues_per_repo: int = 9, pulls_per_repo: int = 2, comments_per_issue: int = 3):
        self.login = {"login": "octo", "id": 1, "name": "Octo Cat", "type": "User"}
        self.repos = [
            {
                "id": 700 + n,
                "name": f"repo{n}",
                "full_name": f"octo/repo{n}",
                "private": bool(n % 2),
                "html_url": f"https://github.example/octo/repo{n}",
                "owner": self.login,
            }
            for n in range(repos)
        ]
        self.issues: dict[str, list[dict[str, Any]]] = {r["full_name"]: [] for r in self.repos}
        self.comments: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.hooks: dict[int, dict[str, Any]] = {}
        start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        for r in self.repos:
            for n in range(issues_per_repo + pulls_per_repo):
                issue = self._new_issue(
                    r["full_name"],
                    f"Issue {n}",
                    f"Body **{n}**",
                    start + dt.timedelta(hours=n),
                    pull=n >= issues_per_repo,
                )
                for c in range(comments_per_issue):
                    self._new_comment(r["full_name"], issue["number"], f"comment {c}")
        super().__init__(
            Starlette(
                routes=[
                    Route("/user", self.user),
                    Route("/user/repos", self.user_repos),
                    Route("/repos/{owner}/{repo}/issues", self.repo_issues, methods=["GET", "POST"]),
                    Route("/repos/{owner}/{repo}/issues/{number:int}", self.get_issue),
                    Route(
                        "/repos/{owner}/{repo}/issues/{number:int}/comments",
                        self.issue_comments,
                        methods=["GET", "POST"],
                    ),
                    Route("/repos/{owner}/{repo}/hooks", self.create_hook, methods=["POST"]),
                    Route("/repos/{owner}/{repo}/hooks/{hook_id:int}", self.delete_hook, methods=["DELETE"]),
                ]
            )
        )

    def _new_issue(self, repo: str, title: str, body: str, when: dt.datetime, pull: bool = False) -> dict:
        number = len(self.issues[repo]) + 1
        issue = {
            "id": 90000 + sum(len(v) for v in self.issues.values()),
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "user": self.login,
            "assignees": [],
            "labels": [],
            "comments": 0,
            "created_at": _iso(when),
            "updated_at": _iso(when),
            "html_url": f"https://github.example/{repo}/issues/{number}",
        }
        if pull:
            issue["pull_request"] = {"url": f"https://github.example/{repo}/pull/{number}"}
        self.issues[repo].append(issue)
        self.comments[(repo, number)] = []
        return issue

    def _new_comment(self, repo: str, number: int, body: str) -> dict:
        comment = {
            "id": 40000 + sum(len(v) for v in self.comments.values()),
            "body": body,
            "user": self.login,
            "created_at": "2024-06-01T00:00:00Z",
            "updated_at": "2024-06-01T00:00:00Z",
        }
        self.comments[(repo, number)].append(comment)
        next(i for i in self.issues[repo] if i["number"] == number)["comments"] += 1
        return comment

    def unauthorized(self, request: Request) -> Response | None:
        if bearer_token(request.headers) != TOKEN:
            return _error(401, "Bad credentials")
        if request.headers.get("x-github-api-version", API_VERSION) != API_VERSION:
            return _error(400, "Unsupported API version")
        return None

    def _repo(self, request: Request) -> dict | None:
        name = f"{request.path_params['owner']}/{request.path_params['repo']}"
        return next((r for r in self.repos if r["full_name"] == name), None)

    def _listing(self, request: Request, everything: list[Any], link_path: str) -> Response:
        q = request.query_params
        try:
            per_page = min(int(q.get("per_page", 30)), 100)
            page = int(q.get("page", 1))
        except ValueError:
            return _error(422, "Validation Failed")
        chunk = everything[(page - 1) * per_page : page * per_page]
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(dt.datetime.now().timestamp()) + 3600),
        }
        last = max(1, -(-len(everything) // per_page))
        if page < last:
            query = {k: v for k, v in q.items() if k != "page"}

            def make(n: int) -> str:
                return f"{self.base_url}{link_path}?{urlencode({**query, 'page': n})}"

            headers["Link"] = f'<{make(page + 1)}>; rel="next", <{make(last)}>; rel="last"'
        return JSONResponse(chunk, headers=headers)

    @authed
    async def user(self, request: Request) -> Response:
        return JSONResponse(self.login, headers={"x-oauth-scopes": "repo, read:user", "x-ratelimit-remaining": "4999"})

    @authed
    async def user_repos(self, request: Request) -> Response:
        return self._listing(request, sorted(self.repos, key=lambda r: r["full_name"]), "/user/repos")

    @authed
    async def repo_issues(self, request: Request) -> Response:
        repo = self._repo(request)
        if repo is None:
            return _error(404, "Not Found")
        if request.method == "POST":
            data = await request.json()
            if not isinstance(data.get("title"), str) or not data["title"]:
                return _error(
                    422, "Validation Failed", [{"resource": "Issue", "code": "missing_field", "field": "title"}]
                )
            issue = self._new_issue(repo["full_name"], data["title"], data.get("body") or "", dt.datetime.now(dt.UTC))
            issue["labels"] = [{"name": n} for n in data.get("labels", [])]
            return JSONResponse(issue, 201)
        q = request.query_params
        if q.get("state", "open") not in ("open", "closed", "all"):
            return _error(422, "Validation Failed")
        issues = [i for i in self.issues[repo["full_name"]] if q.get("state", "open") in ("all", i["state"])]
        if "since" in q:
            try:
                since = dt.datetime.fromisoformat(q["since"])
            except ValueError:
                return _error(422, "Validation Failed", [{"field": "since", "code": "invalid"}])
            issues = [i for i in issues if dt.datetime.fromisoformat(i["updated_at"]) >= since]
        if q.get("sort") == "updated":
            issues.sort(key=lambda i: i["updated_at"], reverse=q.get("direction", "desc") == "desc")
        return self._listing(request, issues, f"/repositories/{repo['id']}/issues")

    def _issue(self, request: Request) -> dict | None:
        repo = self._repo(request)
        if repo is None:
            return None
        return next((i for i in self.issues[repo["full_name"]] if i["number"] == request.path_params["number"]), None)

    @authed
    async def get_issue(self, request: Request) -> Response:
        issue = self._issue(request)
        return JSONResponse(issue) if issue else _error(404, "Not Found")

    @authed
    async def issue_comments(self, request: Request) -> Response:
        issue = self._issue(request)
        if issue is None:
            return _error(404, "Not Found")
        key = (self._repo(request)["full_name"], issue["number"])
        if request.method == "POST":
            data = await request.json()
            if not isinstance(data.get("body"), str) or not data["body"]:
                return _error(
                    422, "Validation Failed", [{"resource": "IssueComment", "code": "missing_field", "field": "body"}]
                )
            return JSONResponse(self._new_comment(*key, data["body"]), 201)
        return self._listing(request, self.comments[key], f"/repositories/1/issues/{issue['number']}/comments")

    @authed
    async def create_hook(self, request: Request) -> Response:
        data = await request.json()
        config = data.get("config") or {}
        if self._repo(request) is None:
            return _error(404, "Not Found")
        if data.get("name", "web") != "web" or not str(config.get("url", "")).startswith(("http://", "https://")):
            return _error(
                422, "Validation Failed", [{"resource": "Hook", "code": "custom", "message": "url is invalid"}]
            )
        hook_id = 1000 + len(self.hooks) + 1
        self.hooks[hook_id] = {
            "id": hook_id,
            "name": "web",
            "active": data.get("active", True),
            "events": data.get("events") or ["push"],
            "config": config,
        }
        return JSONResponse({**self.hooks[hook_id], "config": {**config, "secret": "********"}}, 201)

    @authed
    async def delete_hook(self, request: Request) -> Response:
        if self.hooks.pop(request.path_params["hook_id"], None) is None:
            return _error(404, "Not Found")
        return Response(status_code=204)
