"""The vault's own Prometheus metrics (RPC counts and latency are `ucf_common.metrics`').

Served on `VAULT_METRICS_PORT` (`server.serve`). Key ids are operator-chosen names of the key
ring, never secrets; no label holds a tenant, owner or kind.

- `ucf_vault_primary_key_info{key_id}` is 1 for the primary key (a new primary shows at once);
- `ucf_vault_secrets{key_id}` counts secrets sealed under each key, and
  `ucf_vault_rewrap_remaining` those not yet under the primary (0 once a rewrap is done) —
  one aggregation every `KEYRING_POLL_SECONDS` (`KeyRingGauges`);
- `ucf_vault_audit_append_duration_seconds` times each hash-chained audit append.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Gauge, Histogram
from ucf_common.metrics import LATENCY_BUCKETS, Periodic

if TYPE_CHECKING:
    from vault_service.store import SecretStore

KEYRING_POLL_SECONDS = 15.0

PRIMARY_KEY = Gauge("ucf_vault_primary_key_info", "1 for the key ring's primary key.", ["key_id"])
KEYS = Gauge("ucf_vault_keys", "Keys in the key ring, retired ones included.")
SECRETS = Gauge("ucf_vault_secrets", "Secrets sealed under each key.", ["key_id"])
REWRAP_REMAINING = Gauge("ucf_vault_rewrap_remaining", "Secrets not yet sealed under the primary key.")
AUDIT_APPEND_SECONDS = Histogram(
    "ucf_vault_audit_append_duration_seconds", "Time of one audit-chain append.", buckets=LATENCY_BUCKETS
)


class KeyRingGauges(Periodic):
    def __init__(self, store: SecretStore, interval: float = KEYRING_POLL_SECONDS) -> None:
        super().__init__(self._update, interval)
        self._store = store

    async def _update(self) -> None:
        ring = self._store.keyring
        PRIMARY_KEY.clear()
        PRIMARY_KEY.labels(ring.primary_id).set(1)
        KEYS.set(len(ring.key_ids))
        counts = await self._store.key_counts()
        for key_id in {*ring.key_ids, *counts}:
            SECRETS.labels(key_id).set(counts.get(key_id, 0))
        REWRAP_REMAINING.set(sum(n for key_id, n in counts.items() if key_id != ring.primary_id))
