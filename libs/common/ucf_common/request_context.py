"""The request id: accepted or generated at the edge, carried as gRPC metadata
(`x-request-id`) through every hop, and stamped on every log line.
"""

from __future__ import annotations

import contextvars
import re
import uuid

REQUEST_ID_METADATA_KEY = "x-request-id"
# Caller-chosen ids are echoed into logs and headers: keep them short and inert.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """The caller's id when it is well-formed, otherwise a fresh one."""
    if candidate and _VALID_REQUEST_ID.match(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str:
    return request_id_var.get()


def outgoing_metadata(*extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """Metadata for an outgoing RPC: the current request id plus `extra`."""
    rid = request_id_var.get()
    if rid == "-":
        return tuple(extra)
    return ((REQUEST_ID_METADATA_KEY, rid), *extra)
