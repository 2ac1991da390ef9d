"""Log lines carry the request id and never a credential."""

from __future__ import annotations

import io
import json
import logging

import pytest
from ucf_common.logging import JsonFormatter, PlainFormatter, mask_secrets
from ucf_common.request_context import accept_request_id, request_id_var


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        pytest.param("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678", id="bearer"),
        pytest.param('{"access_token": "tok-123456789"}', "tok-123456789", id="json-access-token"),
        pytest.param("refresh_token=rt_998877665544&x=1", "rt_998877665544", id="form-refresh-token"),
        pytest.param("client_secret='s3cr3t-value'", "s3cr3t-value", id="client-secret"),
        pytest.param("password: hunter2hunter2", "hunter2hunter2", id="password"),
        pytest.param("got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "eyJzdWIiOiIxIn0", id="jwt"),
        pytest.param("key ucf_k1a2b3c4_SECRETSECRETSECRET", "SECRETSECRETSECRET", id="ucf-api-key"),
        pytest.param("ghp_abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrstuvwxyz0123", id="github-pat"),
        pytest.param("postgresql://app:pa55word@db:5432/x", "pa55word", id="dsn-password"),
        pytest.param("cipher gAAAAABl" + "x" * 40, "x" * 40, id="fernet-token"),
    ],
)
def test_credentials_are_masked(text: str, secret: str) -> None:
    assert secret not in mask_secrets(text)


def test_harmless_text_is_kept() -> None:
    text = "connection 6b06e4 synced 120 items for tenant acme"
    assert mask_secrets(text) == text


def _emit(formatter: logging.Formatter, msg: str, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("ucf.test.logging")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info(msg, *args)
    return stream.getvalue().strip()


def test_json_line_carries_request_id_and_masks() -> None:
    token = request_id_var.set("req-42")
    try:
        line = _emit(JsonFormatter("vault"), "stored %s", "access_token=abcdef123456")
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["request_id"] == "req-42"
    assert entry["service"] == "vault"
    assert "abcdef123456" not in line


def test_plain_line_carries_request_id() -> None:
    token = request_id_var.set("abc")
    try:
        line = _emit(PlainFormatter("gateway"), "hello")
    finally:
        request_id_var.reset(token)
    assert "[abc]" in line


@pytest.mark.parametrize(
    ("candidate", "kept"),
    [
        pytest.param("abc", True, id="simple"),
        pytest.param("2f1c-aa:01.x_y", True, id="punctuation"),
        pytest.param("has space", False, id="space"),
        pytest.param("x" * 129, False, id="too-long"),
        pytest.param("evil\nInjected: header", False, id="newline"),
        pytest.param(None, False, id="missing"),
    ],
)
def test_request_id_acceptance(candidate: str | None, kept: bool) -> None:
    rid = accept_request_id(candidate)
    assert (rid == candidate) is kept
    assert rid
