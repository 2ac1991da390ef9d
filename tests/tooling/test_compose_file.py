"""docker-compose.yml is the production deployment; no Docker engine runs here, so these
tests validate the file (Debian's docker-compose `config` needs no engine) and check what
an operator relies on: the vault's network is private, everything waits for healthy
dependencies, and every variable is documented in .env.example.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
VAULT_SIDE = {"vault", "vault-mongo"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def documented() -> set[str]:
    """Variables .env.example sets or shows commented out with their default."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def _networks(service: dict) -> set[str]:
    nets = service.get("networks", ["default"])
    return set(nets) if isinstance(nets, list | dict) else set()


@pytest.fixture(scope="module")
def docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is not installed: .ci/run must install it")
        pytest.skip("docker-compose not installed (apt-get install --no-install-recommends docker-compose)")
    return binary


def _config(binary: str, env_file: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_docker_compose_accepts_the_file(docker_compose: str) -> None:
    result = _config(docker_compose, ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_start_without_the_secrets(docker_compose: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _config(docker_compose, empty, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert result.returncode != 0
    assert re.search(r"(MONGO_ROOT|VAULT_KEYS|UCF_PUBLIC_URL)", result.stderr), result.stderr


def test_only_the_connector_service_shares_a_network_with_the_vault(compose: dict) -> None:
    services = compose["services"]
    vault_networks = _networks(services["vault"]) | _networks(services["vault-mongo"])
    neighbours = {name for name, svc in services.items() if _networks(svc) & vault_networks}
    assert neighbours == VAULT_SIDE | {"connector-service", "prometheus"}
    # Prometheus (the optional observability profile) reaches the vault on `vault-metrics` alone.
    assert _networks(services["prometheus"]) & vault_networks == {"vault-metrics"}
    assert {name for name, svc in services.items() if "vault-metrics" in _networks(svc)} == {"vault", "prometheus"}
    assert not _networks(services["gateway"]) & vault_networks
    for name in vault_networks:
        assert compose["networks"][name].get("internal") is True, f"network {name} must not reach outside"
    assert "ports" not in services["vault"] and "ports" not in services["vault-mongo"]


def test_two_official_mongodb_instances_with_separate_credentials_and_volumes(compose: dict) -> None:
    mongo, vault_mongo = compose["services"]["mongo"], compose["services"]["vault-mongo"]
    assert mongo["image"].split(":")[0] == vault_mongo["image"].split(":")[0] == "mongo"
    password = "MONGO_INITDB_ROOT_PASSWORD"
    assert mongo["environment"][password] != vault_mongo["environment"][password]
    assert set(mongo["volumes"]).isdisjoint(vault_mongo["volumes"])
    vault_env = compose["services"]["vault"]["environment"]
    connector_env = compose["services"]["connector-service"]["environment"]
    assert "@vault-mongo:" in vault_env["VAULT_MONGODB_URL"]
    assert "@mongo:" in connector_env["MONGODB_URL"]


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies(compose: dict) -> None:
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must name a condition"
        for dependency, rule in depends.items():
            assert rule.get("condition") == "service_healthy", f"{name} → {dependency}"
    assert set(compose["services"]["gateway"]["depends_on"]) == {"connector-service"}
    assert set(compose["services"]["connector-service"]["depends_on"]) == {"mongo", "vault"}


def test_connector_service_and_vault_use_mutual_tls(compose: dict) -> None:
    vault = compose["services"]["vault"]["environment"]
    connector = compose["services"]["connector-service"]["environment"]
    mounted = {
        name: {v.split(":")[1]: v.split(":")[0] for v in compose["services"][name]["volumes"]}
        for name in ("vault", "connector-service")
    }
    for name, env, keys in (
        ("vault", vault, ("VAULT_TLS_CERT_FILE", "VAULT_TLS_KEY_FILE", "VAULT_TLS_CLIENT_CA_FILE")),
        ("connector-service", connector, ("VAULT_CA_FILE", "VAULT_CLIENT_CERT_FILE", "VAULT_CLIENT_KEY_FILE")),
    ):
        for key in keys:
            assert mounted[name].get(env[key], "").startswith("./certs/"), f"{name}: {key} is not mounted from ./certs"
    assert "VAULT_CLIENT_TOKEN" not in connector and "VAULT_CLIENT_TOKEN" not in vault
    assert not any("vault.key" in src for src in mounted["connector-service"].values())


def test_every_variable_used_by_the_compose_file_is_documented(documented: set[str]) -> None:
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert used, "the compose file takes nothing from .env?"
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"


def test_every_configuration_variable_of_the_design_is_documented(documented: set[str]) -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    section = design.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    variables = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})`", section))
    assert {"VAULT_KEYS", "MONGODB_URL", "GATEWAY_PORT"} <= variables
    assert variables <= documented, f"not in .env.example: {sorted(variables - documented)}"


@pytest.mark.parametrize(
    "dockerfile",
    [
        "services/vault_service/Dockerfile",
        "services/connector_service/Dockerfile",
        "gateway/Dockerfile",
    ],
)
def test_each_process_image_runs_as_a_non_root_user(compose: dict, dockerfile: str) -> None:
    built = {svc["build"]["dockerfile"] for svc in compose["services"].values() if "build" in svc}
    assert dockerfile in built
    text = (ROOT / dockerfile).read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, f"{dockerfile} runs as root"
