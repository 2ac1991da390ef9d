"""End to end through REST: guessing keys is throttled with `429` and `Retry-After`
while a valid key from the same address keeps working, and a denied token read is
listed in the tenant's audit log with `outcome: denied`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.stack import LocalStack


@pytest.fixture(scope="module")
def stack(mongo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("auth-audit"), mongo_url) as running:
        yield running


def test_fifty_wrong_keys_then_429_with_retry_after_and_a_valid_key_still_works(stack: LocalStack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        statuses = []
        for i in range(50):
            answer = client.get("/api/connectors", headers={"Authorization": f"Bearer ucf_{i:016x}_{'z' * 43}"})
            statuses.append(answer.status_code)
        assert statuses[0] == 401
        assert statuses[-1] == 429
        assert set(statuses) == {401, 429} and statuses.index(429) == 20
        assert answer.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(answer.headers["retry-after"]) <= 60

        assert client.get("/api/connectors", headers=stack.auth_headers).status_code == 200


def test_a_denied_read_is_in_the_audit_log_as_denied(stack: LocalStack) -> None:
    with httpx.Client(base_url=stack.gateway_url, headers=stack.auth_headers, timeout=30) as client:
        stored = client.post(
            "/api/connections/token",
            json={"connectorId": "github", "workspaceId": "audit-e2e", "token": "audit-e2e-token-value"},
        )
        assert stored.status_code in (200, 201), stored.text
        cid = stored.json()["data"]["id"]
        assert client.post(f"/api/connections/{cid}/revoke").status_code == 200
        assert client.get(f"/api/connections/{cid}/token").status_code == 412
        logs = client.get("/api/audit-logs", params={"connectionId": cid}).json()["data"]["items"]
    newest = logs[0]
    assert (newest["action"], newest["outcome"], newest["details"]) == (
        "credential.export",
        "denied",
        {"reason": "revoked"},
    )
    assert {entry["outcome"] for entry in logs} <= {"success", "denied", "failed"}
