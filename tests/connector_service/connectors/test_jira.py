"""Jira connector against the Jira fake (OAuth through the gateway and API token against the site)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from connector_service.connectors.auth import BasicCredential, OAuth2Credential
from connector_service.connectors.http import CREDENTIAL_REJECTED
from connector_service.connectors.jira import JiraConnector
from connector_service.connectors.models import Body, ItemDraft
from connector_service.oauth.tokens import TokenSet
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.connectors._support import collect
from tests.fakes.jira_server import API_TOKEN, CLOUD_ID, EMAIL, OAUTH_TOKEN, FakeJira


@pytest.fixture(scope="module")
def jira():
    with FakeJira(projects=3, issues_per_project=7, comments_per_issue=5).serve() as fake:
        yield fake


@pytest.fixture
def oauth_ctx(jira, make_ctx):
    def build(token: str = OAUTH_TOKEN, **kw):
        credential = OAuth2Credential(TokenSet(token, scope="read:jira-work write:jira-work"))
        return make_ctx(
            "jira",
            credential,
            base_url=jira.base_url,
            metadata={"cloud_id": CLOUD_ID, "site_url": "https://acme.atlassian.net"},
            **kw,
        )

    return build


async def test_issues_page_through_enhanced_search_without_gaps(jira, oauth_ctx):
    connector, ctx = JiraConnector(), oauth_ctx()
    project = next(p for p in jira.projects if p["key"] == "P1")
    before = jira.calls("/search/jql")
    items, pages = await collect(
        lambda **kw: connector.list_items(ctx, project["id"], updated_since=None, **kw), limit=3
    )
    assert pages == 3
    assert jira.calls("/search/jql") - before == 3
    assert sorted(i.id for i in items) == sorted(
        i["id"] for i in jira.issues.values() if i["fields"]["project"]["id"] == project["id"]
    )
    first = items[0]
    assert first.title.startswith("Issue 0 of P1")
    assert first.body.text == "Description 0" and first.body.format == "adf"
    assert first.url == f"https://acme.atlassian.net/browse/{first.fields['key']}"
    assert first.raw is None
    assert jira.calls("/rest/api/3/search", method="GET") == 0


async def test_updated_since_keeps_only_issues_changed_at_or_after_it(jira, oauth_ctx):
    connector, ctx = JiraConnector(), oauth_ctx()
    project = jira.projects[0]
    mine = sorted(
        (i for i in jira.issues.values() if i["fields"]["project"]["id"] == project["id"]),
        key=lambda i: i["fields"]["updated"],
    )
    since = dt.datetime.fromisoformat(mine[4]["fields"]["updated"])
    items, _ = await collect(
        lambda **kw: connector.list_items(ctx, project["key"], updated_since=since, **kw), limit=50
    )
    assert [i.id for i in items] == [i["id"] for i in mine[4:]]


async def test_projects_page_by_offset(jira, oauth_ctx):
    containers, pages = await collect(lambda **kw: JiraConnector().list_containers(oauth_ctx(), **kw), limit=1)
    assert pages == 3
    assert [c.key for c in containers] == ["P0", "P1", "P2"]
    assert containers[0].type == "project" and containers[0].url == "https://acme.atlassian.net/browse/P0"


async def test_rate_limit_is_waited_out_as_the_provider_asks(jira, oauth_ctx, recorder):
    jira.fail(
        429,
        {"errorMessages": ["Rate limit exceeded"]},
        headers={"Retry-After": "3"},
        path_contains="/project/search",
        times=2,
    )
    page = await JiraConnector().list_containers(oauth_ctx(), cursor=None, limit=10)
    assert len(page.items) == 3
    assert len(recorder.waits) == 2 and all(3 <= w <= 3.3 for w in recorder.waits)


async def test_rate_limit_longer_than_we_wait_answers_rate_limited(jira, oauth_ctx, recorder):
    jira.fail(429, {"errorMessages": ["Rate limit exceeded"]}, headers={"Retry-After": "120"}, path_contains="/myself")
    with pytest.raises(UcfError) as err:
        await JiraConnector().validate(oauth_ctx())
    assert err.value.code is ErrorCode.RATE_LIMITED and err.value.details["retryAfter"] == 120
    assert recorder.waits == []


async def test_rejected_token_marks_connection_invalid(jira, oauth_ctx, recorder):
    with pytest.raises(UcfError) as err:
        await JiraConnector().validate(oauth_ctx(token="revoked-token"))
    assert err.value.code is ErrorCode.FAILED_PRECONDITION and err.value.message == CREDENTIAL_REJECTED
    assert "revoked-token" not in str(err.value.details)
    assert recorder.unauthorized == 1


async def test_api_token_calls_the_site_with_basic_auth(jira, make_ctx):
    ctx = make_ctx(
        "jira", BasicCredential({"email": EMAIL, "api_token": API_TOKEN}), metadata={"site_url": jira.base_url}
    )
    before = jira.calls("/ex/jira/")
    probe = await JiraConnector().probe(ctx)
    assert probe.instance["user"] == "Dev User" and probe.instance["deploymentType"] == "Cloud"
    assert "create_item" in probe.capabilities
    assert jira.calls("/ex/jira/") == before


async def test_comments_are_adf_converted_and_paged(jira, oauth_ctx):
    issue_id = next(iter(jira.issues))
    comments, pages = await collect(
        lambda **kw: JiraConnector().list_comments(oauth_ctx(), "", issue_id, **kw), limit=2
    )
    assert pages == 3
    assert [c.body.text for c in comments] == [f"Comment {n}" for n in range(5)]
    assert comments[0].author.name == "Dev User"


async def test_create_issue_sends_adf_and_returns_the_stored_issue(jira, oauth_ctx):
    project = jira.projects[2]
    item = await JiraConnector().create_item(
        oauth_ctx(extra_details=True),
        project["id"],
        ItemDraft("Printer on fire", Body("Second floor.\nNow.\n\nPlease hurry."), {"issueType": "Bug"}),
    )
    stored = jira.issues[item.id]
    assert stored["fields"]["description"]["type"] == "doc"
    assert item.title == "Printer on fire" and item.fields["issueType"] == "Bug"
    assert item.body.text == "Second floor.\nNow.\n\nPlease hurry."
    assert item.raw["key"] == stored["key"]


async def test_adf_body_passes_through_and_garbage_is_refused(jira, oauth_ctx):
    issue_id = next(iter(jira.issues))
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "ship it"}]}],
                    }
                ],
            }
        ],
    }
    comment = await JiraConnector().create_comment(oauth_ctx(), "", issue_id, Body(json.dumps(doc), "adf"))
    assert comment.body.text == "- ship it"
    assert jira.comments[issue_id][-1]["body"] == doc
    with pytest.raises(UcfError) as err:
        await JiraConnector().create_comment(oauth_ctx(), "", issue_id, Body("not json", "adf"))
    assert err.value.code is ErrorCode.INVALID_REQUEST


async def test_unknown_issue_is_not_found(jira, oauth_ctx):
    with pytest.raises(UcfError) as err:
        await JiraConnector().get_item(oauth_ctx(), "", "NOPE-1")
    assert err.value.code is ErrorCode.NOT_FOUND
