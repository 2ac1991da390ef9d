"""Salesforce connector against the Salesforce fake."""

from __future__ import annotations

import datetime as dt

import pytest
from connector_service.connectors.auth import OAuth2Credential
from connector_service.connectors.models import Body, ItemDraft
from connector_service.connectors.salesforce import SalesforceConnector
from connector_service.oauth.tokens import TokenSet
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.connectors._support import collect
from tests.fakes.salesforce_server import TOKEN, FakeSalesforce


@pytest.fixture(scope="module")
def sf():
    with FakeSalesforce(accounts=450, cases=5, comments_per_case=3).serve() as fake:
        yield fake


@pytest.fixture
def ctx(sf, make_ctx):
    def build(token: str = TOKEN, **kw):
        credential = OAuth2Credential(
            TokenSet(token, scope="api refresh_token", metadata={"instance_url": sf.base_url})
        )
        return make_ctx("salesforce", credential, **kw)

    return build


async def test_records_follow_next_records_url(sf, ctx):
    before = sf.calls("/query")
    items, pages = await collect(
        lambda **kw: SalesforceConnector().list_items(ctx(), "Account", updated_since=None, **kw), limit=200
    )
    assert pages == 3 and sf.calls("/query") - before == 3
    assert [i.id for i in items] == [r["Id"] for r in sf.records["Account"]]
    assert items[0].title == "Account 0" and items[0].body.text == "Customer 0"
    assert items[0].url == f"{sf.base_url}/{items[0].id}"


async def test_pages_smaller_than_a_batch_hand_out_every_record_once(sf, ctx):
    items, pages = await collect(
        lambda **kw: SalesforceConnector().list_items(ctx(), "Account", updated_since=None, **kw), limit=150
    )
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids)) == 450 and pages == 5


async def test_updated_since_uses_system_modstamp(sf, ctx):
    since = dt.datetime(2024, 7, 1, 7, 20, tzinfo=dt.UTC)
    items, _ = await collect(
        lambda **kw: SalesforceConnector().list_items(ctx(), "Account", updated_since=since, **kw), limit=200
    )
    assert [i.title for i in items] == [f"Account {n}" for n in range(440, 450)]
    last_query = next(s.query for s in reversed(sf.seen) if s.path.endswith("/query"))
    assert "SystemModstamp+%3E%3D+2024-07-01T07%3A20%3A00Z" in last_query


async def test_case_comments_and_create(sf, ctx):
    case = sf.records["Case"][1]
    comments, _ = await collect(
        lambda **kw: SalesforceConnector().list_comments(ctx(), "Case", case["Id"], **kw), limit=10
    )
    assert [c.body.text for c in comments] == ["note 0", "note 1", "note 2"]
    draft = ItemDraft("Login fails", Body("SSO loop"), {"Status": "New"})
    item = await SalesforceConnector().create_item(ctx(), "Case", draft)
    assert item.title == "Login fails" and item.body.text == "SSO loop" and item.status == "New"
    comment = await SalesforceConnector().create_comment(ctx(), "Case", item.id, Body("Called customer"))
    assert comment.body.text == "Called customer" and sf.records["CaseComment"][-1]["ParentId"] == item.id


async def test_objects_without_comments_and_unknown_objects(sf, ctx):
    with pytest.raises(UcfError) as err:
        await SalesforceConnector().list_comments(ctx(), "Widget__c", "a00000000000000AAA", cursor=None, limit=10)
    assert err.value.code is ErrorCode.FAILED_PRECONDITION
    with pytest.raises(UcfError) as err:
        await SalesforceConnector().list_items(ctx(), "Nope", updated_since=None, cursor=None, limit=10)
    assert err.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(UcfError) as err:
        await SalesforceConnector().list_comments(ctx(), "Case", "x' OR Id != '", cursor=None, limit=10)
    assert err.value.code is ErrorCode.INVALID_REQUEST


async def test_rate_limit_then_success_and_expired_session(sf, ctx, recorder):
    sf.fail(
        429,
        [{"message": "busy", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        headers={"Retry-After": "1"},
        path_contains="/sobjects",
    )
    page = await SalesforceConnector().list_containers(ctx(), cursor=None, limit=2)
    assert [c.id for c in page.items] == ["Account", "Case"] and page.next and recorder.waits[0] >= 1
    with pytest.raises(UcfError) as err:
        await SalesforceConnector().validate(ctx(token="expired"))
    assert err.value.code is ErrorCode.FAILED_PRECONDITION and recorder.unauthorized == 1


async def test_probe(sf, ctx):
    probe = await SalesforceConnector().probe(ctx())
    assert probe.instance["latestVersion"] == "62.0" and probe.instance["dailyApiRequestsRemaining"] == 14990
    assert probe.scopes == ("api", "refresh_token")
