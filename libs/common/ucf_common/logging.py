"""JSON (or plain) log lines that carry the request id and never a credential.

Masking happens on the fully formatted line, tracebacks included, so a secret
that slips into an exception message is still caught.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from ucf_common.request_context import request_id_var

_MASK = "***"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # before the key=value rule, which would otherwise take "Bearer" for the value
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}"), r"\1 " + _MASK),
    # key=value / "key": "value" pairs whose key names a credential
    (
        re.compile(
            r"(?i)(\\?[\"']?(?:authorization|password|passwd|secret|client_secret|token|access_token"
            r"|refresh_token|id_token|api[_-]?key|apikey|code_verifier|private_key)\\?[\"']?\s*[:=]\s*\\?[\"']?)"
            r"(?!\*\*\*)([^\s\"'\\,;&}]+)"
        ),
        r"\1" + _MASK,
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), _MASK),  # JWT
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}"), _MASK),  # Fernet token
    (re.compile(r"\b(?:gh[pousr]_|github_pat_|xox[abpr]-|sk_live_|ucf_)[A-Za-z0-9_\-]{8,}"), _MASK),
    (re.compile(r"(?i)(postgres(?:ql)?|mysql|mongodb(?:\+srv)?)://([^:/\s]+):([^@\s]+)@"), r"\1://\2:" + _MASK + "@"),
)


# What each rule above cannot match without (lower case): most lines (access lines,
# lifecycle messages) contain none, and a few substring searches cost a small part
# of running the six expressions; the key=value rule, the costly one, also needs
# `:` or `=` right after its key word.
_TRIGGERS: tuple[tuple[str, ...], ...] = (
    ("bearer", "basic"),
    (
        "authorization",
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "api-key",
        "apikey",
        "code_verifier",
        "private_key",
    ),
    ("eyj",),
    ("gaaaaa",),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xoxa-", "xoxb-", "xoxp-", "xoxr-", "sk_live_", "ucf_"),
    ("postgres", "mysql", "mongodb"),
)
_KEY_VALUE_RULE = 1
_KEY_VALUE_TAIL = re.compile(r"\\?[\"']?\s*[:=]")


def _may_match(rule: int, lowered: str) -> bool:
    for word in _TRIGGERS[rule]:
        at = lowered.find(word)
        if rule != _KEY_VALUE_RULE:
            if at >= 0:
                return True
            continue
        while at >= 0:
            if _KEY_VALUE_TAIL.match(lowered, at + len(word)):
                return True
            at = lowered.find(word, at + 1)
    return False


def mask_secrets(text: str) -> str:
    # Masking never creates a trigger word, so deciding on the original text is exact.
    lowered = text.lower()
    for rule, (pattern, replacement) in enumerate(_PATTERNS):
        if _may_match(rule, lowered):
            text = pattern.sub(replacement, text)
    return text


def _no_trace_id() -> str:
    return "-"


#: The current trace id, or `-`; `ucf_common.tracing` replaces it once tracing is on.
_trace_id: Callable[[], str] = _no_trace_id


def set_trace_id_source(source: Callable[[], str]) -> None:
    global _trace_id
    _trace_id = source


def _dumps(entry: dict[str, object]) -> str:
    return json.dumps(entry, default=str)


try:  # optional: the gateway depends on orjson; ucf_common itself does not (the vault stays small)
    import orjson
except ImportError:  # pragma: no cover - depends on the installation
    pass  # `_dumps` stays json's
else:
    # values as json.dumps(default=str) renders them: datetimes and dataclasses through str()
    _ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def _dumps(entry: dict[str, object]) -> str:
        try:
            return orjson.dumps(entry, default=str, option=_ORJSON_OPTIONS).decode()
        except TypeError:  # e.g. an int beyond 64 bits: the standard library takes anything
            return json.dumps(entry, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, request_id, trace_id, msg, then the
    record's `fields` and `exc`. Uses orjson when installed (same keys and values, compact
    separators), and formats the timestamp's second once per second."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "request_id": record.request_id if hasattr(record, "request_id") else request_id_var.get(),
            "trace_id": _trace_id(),
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return mask_secrets(_dumps(entry))


class PlainFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__("%(asctime)s %(levelname)s " + service + " [%(request_id)s]%(trace)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        trace_id = _trace_id()
        record.trace = "" if trace_id == "-" else f" trace_id={trace_id}"
        fields = getattr(record, "fields", None)
        line = super().format(record)
        if fields:
            line += " " + json.dumps(fields, default=str)
        return mask_secrets(line)


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger (ours, grpc, uvicorn) through one masked handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json_lines else PlainFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The drivers' debug output can include connection strings and payloads.
    for name in ("pymongo", "httpx", "httpcore", "grpc"):
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Neither formatter prints the caller's file, line or function, nor thread or process:
    # skip gathering them for every record (the logging HOWTO's "Optimization" switches).
    # The access line of every request is on the hot path.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def log_fields(**fields: object) -> dict[str, dict[str, object]]:
    """`logger.info("msg", extra=log_fields(connection_id=...))` adds structured fields."""
    return {"fields": fields}
