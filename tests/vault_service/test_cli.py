"""`python -m vault_service ...` as an operator runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.fernet import Fernet
from grpc_health.v1 import health_pb2
from ucf_common.health_probe import check
from vault_service.keyring import KeyRing

from tests.support.ports import free_port
from tests.vault_service.harness import RunningVault, new_key_text, running_vault
from tests.vault_service.process import vault_cli as _cli
from tests.vault_service.seeding import seed_secrets


def _env_for(vault: RunningVault, mongo_url: str, db_name: str) -> dict[str, str]:
    return {
        "VAULT_HOST": "127.0.0.1",
        "VAULT_PORT": str(vault.port),
        "VAULT_CLIENT_TOKEN": vault.token,
        "VAULT_MONGODB_URL": mongo_url,
        "VAULT_MONGODB_DB": db_name,
    }


async def test_keygen_prints_a_usable_entry() -> None:
    code, out, _ = await _cli("keygen", "--id", "k2026")
    assert code == 0
    key_id, _, key = out.strip().partition(":")
    assert key_id == "k2026"
    Fernet(key.encode())
    assert KeyRing.from_text(out).primary_id == "k2026"


async def test_certs_writes_a_ca_and_the_three_identities(tmp_path: Path) -> None:
    code, _, _ = await _cli("certs", "--out", str(tmp_path))
    assert code == 0
    for name in ("vault", "connector-service", "vault-admin"):
        cert = x509.load_pem_x509_certificate((tmp_path / f"{name}.crt").read_bytes())
        assert cert.subject.rfc4514_string() == f"CN={name}"
        assert (tmp_path / f"{name}.key").stat().st_mode & 0o077 == 0
    code, _, err = await _cli("certs", "--out", str(tmp_path))
    assert code == 1 and "--force" in err


async def test_status_rewrap_retire_and_verify_audit(mongo_url: str, db_suffix: str) -> None:
    db_name, old, new = f"ucf_vault_{db_suffix}", new_key_text("old"), new_key_text("new")
    async with running_vault(mongo_url, db_name, f"{new},{old}") as vault:
        await seed_secrets(vault.db, KeyRing.from_text(old), 250)
        env = _env_for(vault, mongo_url, db_name)

        code, out, _ = await _cli("status", env=env)
        assert code == 0
        assert [line.split() for line in out.splitlines()[1:]] == [["new", "primary", "0"], ["old", "active", "250"]]

        code, _, err = await _cli("retire", "old", env=env)
        assert code == 1 and "FAILED_PRECONDITION" in err and "250 secrets" in err

        code, out, _ = await _cli("rewrap", "--batch-size", "100", env=env)
        assert code == 0
        assert "[##############################] 100% 250/250" in out
        assert "rewrapped 250 secrets under new; 0 remaining" in out

        code, out, _ = await _cli("retire", "old", env=env)
        assert code == 0 and "retired" in out
        code, _, err = await _cli("status", env={**env, "VAULT_CLIENT_TOKEN": "wrong"})
        assert code == 1 and "PERMISSION_DENIED" in err

        code, out, _ = await _cli("verify-audit", env=env)
        assert code == 0 and out.startswith("audit chain intact:")
        await vault.db["vault_audit"].update_one({"_id": 2}, {"$set": {"caller": "someone-else"}})
        code, out, _ = await _cli("verify-audit", env=env)
        assert code == 1 and "BROKEN at record 2" in out


def test_serve_refuses_to_start_without_a_key_ring(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vault_service", "serve"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env={**os.environ, "VAULT_KEYS": "", "VAULT_KEYS_FILE": "", "VAULT_CLIENT_TOKEN": "t" * 32},
    )
    assert result.returncode == 2
    assert "no key ring configured" in result.stderr


def test_serve_runs_until_sigterm(mongo_url: str, db_suffix: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "VAULT_PORT": str(port),
        "VAULT_HOST": "127.0.0.1",
        "VAULT_MONGODB_URL": mongo_url,
        "VAULT_MONGODB_DB": f"ucf_vault_{db_suffix}",
        "VAULT_KEYS": new_key_text("k1"),
        "VAULT_CLIENT_TOKEN": "t" * 32,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "vault_service", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = None
        for _ in range(200):
            try:
                status = check(f"127.0.0.1:{port}", timeout=1)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        assert status == health_pb2.HealthCheckResponse.ServingStatus.Name(health_pb2.HealthCheckResponse.SERVING)
        code = subprocess.run(
            [sys.executable, "-m", "vault_service", "healthcheck"], env=env, cwd=tmp_path, timeout=30, check=False
        ).returncode
        assert code == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "t" * 32 not in (process.stderr.read() if process.stderr else "")
