"""The two owners of a connection's metadata.

*System* metadata holds provider-derived facts: the Salesforce `instance_url` a token
response names, the Atlassian `cloud_id` / `site_url` found after consent, anything a
catalog entry's `connection_metadata` or `token_response_metadata` declares. It decides
where the connection's credential is sent, so only onboarding and token refresh write it.

*User* metadata is the caller's own JSON object. The connection write changes it as a
JSON merge patch (RFC 7396): keys absent from the patch are kept, `null` deletes a key,
objects merge recursively. A patch that names a system key is refused with a 400 naming
the key — moving a connection to another host means onboarding it again.
"""

from __future__ import annotations

import json
from typing import Any

from ucf_common.errors import invalid

from connector_service.catalog.providers import ProviderSpec

#: Facts every connector treats as system-owned, whatever its catalog entry declares.
ALWAYS_SYSTEM = frozenset({"instance_url", "cloud_id", "site_url", "site_name"})
MAX_BYTES = 16 * 1024
_MAX_KEY = 128


def system_keys(spec: ProviderSpec | None) -> frozenset[str]:
    """The metadata keys only onboarding and refresh may write for this provider."""
    if spec is None:
        return ALWAYS_SYSTEM
    declared = set(spec.token_response_metadata)
    declared.update(param.name for param in spec.connect_params)
    if spec.connection_metadata is not None:
        declared.update(spec.connection_metadata.fields)
    return ALWAYS_SYSTEM | declared


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: `patch` applied to `target` (neither is modified)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def checked_user_patch(patch: dict[str, Any], system: frozenset[str]) -> dict[str, Any]:
    """`patch` when it may be applied to the user metadata; `invalid` naming the first bad key."""
    for key in patch:
        if key in system:
            raise invalid(
                f"metadata.{key} is system metadata, set only by onboarding and token refresh; "
                "onboard the connection again to change it",
                field=f"metadata.{key}",
            )
    _check_keys(patch, "metadata")
    return patch


def checked_user_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The merged user metadata, refused when it grows past `MAX_BYTES` of JSON."""
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > MAX_BYTES:
        raise invalid(f"metadata is larger than {MAX_BYTES // 1024} KiB of JSON", field="metadata")
    return metadata


def _check_keys(value: Any, path: str) -> None:
    """Keys MongoDB can store as field names: non-empty, no '.', not starting with '$'."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not key or len(key) > _MAX_KEY or "." in key or key.startswith("$") or not key.isprintable():
                raise invalid(f"{path} has a key that is empty, too long, or contains '.' or a leading '$'", field=path)
            _check_keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            _check_keys(inner, path)
