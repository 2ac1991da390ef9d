"""A Salesforce REST API fake built from the published reference (API v62.0).

SOQL `/query` understands the subset the connector sends (field list, one
object, `SystemModstamp >=` or `ParentId =` filters, ORDER BY) and refuses
unknown objects and fields with `INVALID_TYPE` / `INVALID_FIELD` 400s.
Batches honour `Sforce-Query-Options: batchSize` (200–2000, default 2000)
and continue through `nextRecordsUrl` query locators. 401 answers
`INVALID_SESSION_ID` like the real API.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes._provider import FakeProvider, authed, bearer_token

TOKEN = "00Dfake!salesforce-access-token"
VERSION = "v62.0"
_SOQL = re.compile(
    r"^SELECT (?P<fields>[\w, ]+) FROM (?P<obj>\w+)"
    r"(?: WHERE (?P<field>\w+) (?P<op>>=|=) (?P<value>\S+))?"
    r"(?: ORDER BY (?P<order>[\w, ]+))?$"
)
_OBJECTS = {
    "Account": {
        "nameField": "Name",
        "fields": [
            "Id",
            "Name",
            "Description",
            "OwnerId",
            "CreatedById",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
        ],
        "feedEnabled": True,
    },
    "Case": {
        "nameField": "CaseNumber",
        "fields": [
            "Id",
            "CaseNumber",
            "Subject",
            "Description",
            "Status",
            "OwnerId",
            "CreatedById",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
        ],
        "feedEnabled": True,
    },
    "Widget__c": {
        "nameField": "Name",
        "fields": ["Id", "Name", "CreatedById", "CreatedDate", "LastModifiedDate", "SystemModstamp"],
        "feedEnabled": False,
        "custom": True,
    },
    "CaseComment": {"fields": ["Id", "ParentId", "CommentBody", "CreatedById", "CreatedDate", "LastModifiedDate"]},
    "FeedItem": {"fields": ["Id", "ParentId", "Body", "CreatedById", "CreatedDate", "LastModifiedDate"]},
}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status)


def _sf_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class FakeSalesforce(FakeProvider):
    def __init__(self, accounts: int = 450, cases: int = 5, comments_per_case: int = 3):
        self.records: dict[str, list[dict[str, Any]]] = {name: [] for name in _OBJECTS}
        self.locators: dict[str, tuple[list[dict], int]] = {}
        start = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
        for n in range(accounts):
            self._insert(
                "Account", {"Name": f"Account {n}", "Description": f"Customer {n}"}, start + dt.timedelta(minutes=n)
            )
        for n in range(cases):
            case = self._insert(
                "Case",
                {"CaseNumber": f"{1000 + n:08d}", "Subject": f"Case {n}", "Status": "New", "Description": "It broke"},
                start + dt.timedelta(minutes=n),
            )
            for c in range(comments_per_case):
                self._insert(
                    "CaseComment", {"ParentId": case["Id"], "CommentBody": f"note {c}"}, start + dt.timedelta(minutes=c)
                )
        routes = [
            Route("/services/data/", self.versions),
            Route(f"/services/data/{VERSION}/limits", self.limits),
            Route(f"/services/data/{VERSION}/sobjects", self.global_describe),
            Route(f"/services/data/{VERSION}/sobjects/{{name}}/describe", self.describe),
            Route(f"/services/data/{VERSION}/sobjects/{{name}}", self.create, methods=["POST"]),
            Route(f"/services/data/{VERSION}/sobjects/{{name}}/{{record_id}}", self.retrieve),
            Route(f"/services/data/{VERSION}/query", self.query),
            Route(f"/services/data/{VERSION}/query/{{locator}}", self.query_more),
        ]
        super().__init__(Starlette(routes=routes))

    def _insert(self, obj: str, values: dict[str, Any], when: dt.datetime) -> dict:
        prefix = {"Account": "001", "Case": "500", "CaseComment": "00a", "FeedItem": "0D5", "Widget__c": "a00"}[obj]
        record = {
            "attributes": {"type": obj, "url": ""},
            "Id": f"{prefix}{len(self.records[obj]):012d}AAA",
            "OwnerId": "005000000000001AAA",
            "CreatedById": "005000000000001AAA",
            "CreatedDate": _sf_time(when),
            "LastModifiedDate": _sf_time(when),
            "SystemModstamp": _sf_time(when),
            **values,
        }
        record["attributes"]["url"] = f"/services/data/{VERSION}/sobjects/{obj}/{record['Id']}"
        self.records[obj].append(record)
        return record

    def unauthorized(self, request: Request) -> Response | None:
        if bearer_token(request.headers) == TOKEN:
            return None
        return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")

    async def versions(self, request: Request) -> Response:
        return JSONResponse(
            [
                {"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"},
                {"label": "Winter '25", "url": f"/services/data/{VERSION}", "version": "62.0"},
            ]
        )

    @authed
    async def limits(self, request: Request) -> Response:
        return JSONResponse({"DailyApiRequests": {"Max": 15000, "Remaining": 14990}})

    @authed
    async def global_describe(self, request: Request) -> Response:
        return JSONResponse(
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [
                    {
                        "name": n,
                        "label": n.replace("__c", ""),
                        "keyPrefix": None,
                        "queryable": True,
                        "custom": d.get("custom", False),
                    }
                    for n, d in _OBJECTS.items()
                ],
            }
        )

    @authed
    async def describe(self, request: Request) -> Response:
        spec = _OBJECTS.get(request.path_params["name"])
        if spec is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        fields = [
            {
                "name": f,
                "nameField": f == spec.get("nameField"),
                "autoNumber": f == "CaseNumber",
                "createable": f not in ("Id", "CaseNumber", "CreatedDate", "LastModifiedDate", "SystemModstamp"),
            }
            for f in spec["fields"]
        ]
        return JSONResponse(
            {"name": request.path_params["name"], "feedEnabled": spec.get("feedEnabled", False), "fields": fields}
        )

    @authed
    async def create(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _OBJECTS:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        values = await request.json()
        unknown = [k for k in values if k not in _OBJECTS[name]["fields"] or k in ("Id", "CaseNumber")]
        if unknown:
            return _error(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {name}")
        if name == "Case":
            values["CaseNumber"] = f"{1000 + len(self.records['Case']):08d}"
        record = self._insert(name, values, dt.datetime.now(dt.UTC))
        return JSONResponse({"id": record["Id"], "success": True, "errors": []}, 201)

    @authed
    async def retrieve(self, request: Request) -> Response:
        found = next(
            (
                r
                for r in self.records.get(request.path_params["name"], [])
                if r["Id"] == request.path_params["record_id"]
            ),
            None,
        )
        if found is None:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        wanted = request.query_params.get("fields")
        if not wanted:
            return JSONResponse(found)
        return JSONResponse({k: v for k, v in found.items() if k in wanted.split(",") + ["attributes"]})

    def _batch(self, request: Request, rows: list[dict], start: int) -> Response:
        option = request.headers.get("sforce-query-options", "batchSize=2000")
        size = int(option.split("=", 1)[1]) if option.startswith("batchSize=") else 2000
        if not 200 <= size <= 2000:
            return _error(400, "INVALID_QUERY_OPTIONS", "batchSize must be between 200 and 2000")
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": start + size >= len(rows),
            "records": rows[start : start + size],
        }
        if not body["done"]:
            locator = f"01g{uuid.uuid4().hex[:12]}-{start + size}"
            self.locators[locator] = (rows, start + size)
            body["nextRecordsUrl"] = f"/services/data/{VERSION}/query/{locator}"
        return JSONResponse(body)

    @authed
    async def query(self, request: Request) -> Response:
        match = _SOQL.match(request.query_params.get("q", ""))
        if not match:
            return _error(400, "MALFORMED_QUERY", "unexpected token")
        spec = _OBJECTS.get(match["obj"])
        if spec is None:
            return _error(400, "INVALID_TYPE", f"sObject type '{match['obj']}' is not supported.")
        fields = [f.strip() for f in match["fields"].split(",")]
        bad = [f for f in fields + ([match["field"]] if match["field"] else []) if f not in spec["fields"]]
        if bad:
            return _error(400, "INVALID_FIELD", f"No such column '{bad[0]}' on entity '{match['obj']}'.")
        rows = self.records[match["obj"]]
        if match["op"] == ">=":
            since = dt.datetime.fromisoformat(match["value"])
            rows = [r for r in rows if dt.datetime.fromisoformat(r[match["field"]]) >= since]
        elif match["op"] == "=":
            rows = [r for r in rows if r.get(match["field"]) == match["value"].strip("'")]
        order = [o.split()[0] for o in (match["order"] or "Id").split(",")]
        rows = sorted(rows, key=lambda r: tuple(r.get(o) or "" for o in order))
        return self._batch(request, [{k: r[k] for k in ["attributes", *fields]} for r in rows], 0)

    @authed
    async def query_more(self, request: Request) -> Response:
        entry = self.locators.get(request.path_params["locator"])
        if entry is None:
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._batch(request, *entry)
