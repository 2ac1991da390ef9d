"""GitHub connector against the GitHub fake."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from connector_service.connectors.auth import ApiKeyCredential
from connector_service.connectors.github import GitHubConnector
from connector_service.connectors.models import Body, ItemDraft
from ucf_common.errors import ErrorCode, UcfError

from tests.connector_service.connectors._support import collect
from tests.fakes.github_server import TOKEN, FakeGitHub


@pytest.fixture(scope="module")
def gh():
    with FakeGitHub(repos=4, issues_per_repo=9, pulls_per_repo=2, comments_per_issue=3).serve() as fake:
        yield fake


@pytest.fixture
def ctx(gh, make_ctx):
    def build(token: str = TOKEN, **kw):
        return make_ctx("github", ApiKeyCredential(token), base_url=gh.base_url, **kw)

    return build


async def test_issues_follow_link_headers_and_leave_pull_requests_out(gh, ctx):
    before = gh.calls("/repos/octo/repo1/issues")
    items, pages = await collect(
        lambda **kw: GitHubConnector().list_items(ctx(), "octo/repo1", updated_since=None, **kw), limit=4
    )
    assert pages == 3 and gh.calls("/repos/octo/repo1/issues") - before == 3
    assert [i.id for i in items] == [str(n) for n in range(1, 10)]
    assert items[0].body == Body("Body **0**", "markdown") and items[0].author.name == "octo"
    assert all("pullRequest" not in i.fields for i in items)


async def test_updated_since_is_sent_as_since(gh, ctx):
    since = dt.datetime(2024, 5, 1, 6, tzinfo=dt.UTC)
    items, _ = await collect(
        lambda **kw: GitHubConnector().list_items(ctx(), "octo/repo2", updated_since=since, **kw), limit=100
    )
    assert [i.id for i in items] == [str(n) for n in range(7, 10)]


async def test_repositories_and_comments_page(gh, ctx):
    repos, pages = await collect(lambda **kw: GitHubConnector().list_containers(ctx(), **kw), limit=1)
    assert pages == 4 and [r.id for r in repos] == [f"octo/repo{n}" for n in range(4)]
    assert repos[0].type == "repository" and repos[0].parent_id == "octo"
    comments, pages = await collect(
        lambda **kw: GitHubConnector().list_comments(ctx(), "octo/repo0", "2", **kw), limit=1
    )
    assert pages == 3 and [c.body.text for c in comments] == ["comment 0", "comment 1", "comment 2"]


async def test_secondary_rate_limit_then_success(gh, ctx, recorder):
    gh.fail(
        429,
        {"message": "You have exceeded a secondary rate limit."},
        headers={"retry-after": "2"},
        path_contains="/user/repos",
    )
    page = await GitHubConnector().list_containers(ctx(), cursor=None, limit=10)
    assert len(page.items) == 4 and len(recorder.waits) == 1 and 2 <= recorder.waits[0] <= 2.2


async def test_exhausted_primary_limit_reports_when_to_come_back(gh, ctx, recorder):
    reset = int(dt.datetime.now().timestamp()) + 600
    gh.fail(
        403,
        {"message": "API rate limit exceeded"},
        path_contains="/user",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(UcfError) as err:
        await GitHubConnector().validate(ctx())
    assert err.value.code is ErrorCode.RATE_LIMITED and 590 <= err.value.details["retryAfter"] <= 600


async def test_bad_credentials_mark_connection_invalid(gh, ctx, recorder):
    with pytest.raises(UcfError) as err:
        await GitHubConnector().list_items(
            ctx(token="ghp_revoked"), "octo/repo0", updated_since=None, cursor=None, limit=5
        )
    assert err.value.code is ErrorCode.FAILED_PRECONDITION and recorder.unauthorized == 1
    assert "ghp_revoked" not in err.value.message


async def test_create_issue_and_comment(gh, ctx):
    draft = ItemDraft("Crash on start", Body("Steps:\n1. run"), {"labels": ["bug"]})
    item = await GitHubConnector().create_item(ctx(), "octo/repo3", draft)
    assert item.title == "Crash on start" and item.fields["labels"] == ["bug"]
    assert gh.issues["octo/repo3"][-1]["body"] == "Steps:\n1. run"
    comment = await GitHubConnector().create_comment(ctx(), "octo/repo3", item.id, Body("On it"))
    assert comment.body.text == "On it" and gh.comments[("octo/repo3", int(item.id))][-1]["body"] == "On it"


async def test_missing_repository_and_bad_ids(gh, ctx):
    with pytest.raises(UcfError) as err:
        await GitHubConnector().get_item(ctx(), "octo/nope", "1")
    assert err.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(UcfError) as err:
        await GitHubConnector().get_item(ctx(), "octo/../../user", "1")
    assert err.value.code is ErrorCode.INVALID_REQUEST


async def test_webhook_register_verify_parse_unregister(gh, ctx):
    connector = GitHubConnector()
    reg = await connector.register_webhook(ctx(), "octo/repo0", "https://ucf.example/hooks/1", ("issues",), "s3cret")
    assert gh.hooks[int(reg.upstream_id)]["config"]["secret"] == "s3cret"
    body = json.dumps({"action": "opened", "issue": {"number": 5}, "repository": {"full_name": "octo/repo0"}}).encode()
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    headers = {"x-hub-signature-256": signature, "x-github-event": "issues", "x-github-delivery": "d-1"}
    assert connector.verify_webhook(headers, body, "s3cret")
    assert not connector.verify_webhook(headers, body + b" ", "s3cret")
    event = connector.parse_webhook(headers, body)
    assert (event.kind, event.container_id, event.item_id, event.delivery_id) == (
        "issues.opened",
        "octo/repo0",
        "5",
        "d-1",
    )
    await connector.unregister_webhook(ctx(), "octo/repo0", reg.upstream_id)
    await connector.unregister_webhook(ctx(), "octo/repo0", reg.upstream_id)
    assert int(reg.upstream_id) not in gh.hooks


async def test_probe_reports_user_and_scopes(gh, ctx):
    probe = await GitHubConnector().probe(ctx())
    assert probe.instance["user"] == "octo" and probe.scopes == ("repo", "read:user")
    assert "webhooks" in probe.capabilities
