"""Confluence connector against the Confluence v2 fake."""

from __future__ import annotations

import datetime as dt

import pytest
from connector_service.connectors.auth import BasicCredential, OAuth2Credential
from connector_service.connectors.confluence import ConfluenceConnector
from connector_service.connectors.models import Body, ItemDraft
from connector_service.oauth.tokens import TokenSet
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.connectors._support import collect
from tests.fakes.confluence_server import (
    API_TOKEN,
    CLOUD_ID,
    EMAIL,
    OAUTH_TOKEN,
    FakeConfluence,
)


@pytest.fixture(scope="module")
def wiki():
    with FakeConfluence(spaces=3, pages_per_space=7, comments_per_page=4).serve() as fake:
        yield fake


@pytest.fixture
def ctx(wiki, make_ctx):
    def build(token: str = OAUTH_TOKEN, **kw):
        return make_ctx(
            "confluence",
            OAuth2Credential(TokenSet(token)),
            base_url=wiki.base_url,
            metadata={"cloud_id": CLOUD_ID, "site_url": "https://acme.atlassian.net"},
            **kw,
        )

    return build


async def test_pages_follow_the_v2_cursor_across_pages(wiki, ctx):
    space = wiki.spaces[1]
    before = wiki.calls(f"/spaces/{space['id']}/pages")
    items, pages = await collect(
        lambda **kw: ConfluenceConnector().list_items(ctx(), space["id"], updated_since=None, **kw), limit=3
    )
    assert pages == 3 and wiki.calls(f"/spaces/{space['id']}/pages") - before == 3
    in_space = [p["id"] for p in wiki.pages.values() if p["spaceId"] == space["id"]]
    assert [i.id for i in items] == sorted(in_space, key=int)
    assert items[0].body.format == "storage"
    assert items[0].body.text == "Hello page 0\n\n- one\n- two"
    assert items[0].url.startswith("https://acme.atlassian.net/wiki/spaces/")
    assert all("/ex/confluence/" + CLOUD_ID in s.path for s in wiki.seen if "/pages" in s.path)


async def test_updated_since_stops_at_the_first_older_page(wiki, ctx):
    space = wiki.spaces[0]
    mine = sorted(
        (p for p in wiki.pages.values() if p["spaceId"] == space["id"]), key=lambda p: p["version"]["createdAt"]
    )
    since = dt.datetime.fromisoformat(mine[3]["version"]["createdAt"])
    items, _ = await collect(
        lambda **kw: ConfluenceConnector().list_items(ctx(), space["id"], updated_since=since, **kw), limit=2
    )
    assert sorted(i.id for i in items) == sorted(p["id"] for p in mine[3:])


async def test_spaces_and_comments_page(wiki, ctx):
    spaces, pages = await collect(lambda **kw: ConfluenceConnector().list_containers(ctx(), **kw), limit=1)
    assert pages == 3 and [s.key for s in spaces] == ["S0", "S1", "S2"]
    page_id = next(iter(wiki.pages))
    comments, pages = await collect(lambda **kw: ConfluenceConnector().list_comments(ctx(), "", page_id, **kw), limit=1)
    assert pages == 4 and [c.body.text for c in comments] == [f"Comment {n}" for n in range(4)]
    assert comments[0].author.id == "acc-9"


async def test_rate_limit_then_success(wiki, ctx, recorder):
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    wiki.fail(
        429,
        {"errors": [{"status": 429, "code": "TOO_MANY_REQUESTS", "title": "Too Many Requests"}]},
        headers={"Retry-After": when},
        path_contains="/api/v2/spaces",
    )
    page = await ConfluenceConnector().list_containers(ctx(), cursor=None, limit=5)
    assert len(page.items) == 3
    assert len(recorder.waits) == 1 and 3 <= recorder.waits[0] <= 6


async def test_rejected_token_marks_connection_invalid(wiki, ctx, recorder):
    with pytest.raises(UcfError) as err:
        await ConfluenceConnector().list_containers(ctx(token="expired"), cursor=None, limit=5)
    assert err.value.code is ErrorCode.FAILED_PRECONDITION and recorder.unauthorized == 1


async def test_create_page_and_comment_convert_text_to_storage(wiki, ctx):
    space = wiki.spaces[2]
    item = await ConfluenceConnector().create_item(ctx(), space["id"], ItemDraft("Runbook", Body("Step <1>\nStep 2")))
    assert wiki.pages[item.id]["body"]["storage"]["value"] == "<p>Step &lt;1&gt;<br/>Step 2</p>"
    assert item.title == "Runbook" and item.body.text == "Step <1>\nStep 2"
    comment = await ConfluenceConnector().create_comment(
        ctx(), space["id"], item.id, Body("<p>Looks <em>good</em></p>", "storage")
    )
    assert comment.body.text == "Looks good" and comment.item_id == item.id
    assert wiki.comments[item.id][-1]["body"]["storage"]["value"] == "<p>Looks <em>good</em></p>"


async def test_api_token_probe_against_the_site(wiki, make_ctx):
    basic = make_ctx(
        "confluence", BasicCredential({"email": EMAIL, "api_token": API_TOKEN}), metadata={"site_url": wiki.base_url}
    )
    probe = await ConfluenceConnector().probe(basic)
    assert probe.instance["user"] == "Wiki Writer" and probe.instance["site"] == wiki.base_url + "/wiki"


async def test_tampered_cursor_is_refused(wiki, ctx):
    with pytest.raises(UcfError) as err:
        await ConfluenceConnector().list_containers(ctx(), cursor="%%%not-a-cursor", limit=5)
    assert err.value.code is ErrorCode.INVALID_REQUEST
