"""What README.md promises about commands and configuration holds."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_exactly_the_test_command_of_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    two_commands = readme.split("## Two commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    test_command = next(line.split("#")[0].strip() for line in _commands(two_commands) if "test" in line)
    assert _commands((ROOT / ".ci" / "run").read_text())[-1] == test_command


def test_readme_documents_every_variable_of_env_example() -> None:
    variables = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    table = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    in_table = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert variables <= in_table, f"missing from the README's table: {sorted(variables - in_table)}"


def test_readme_links_point_to_existing_files() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(((?!https?://)[^)#]+)\)", readme)
    assert targets
    assert not [t for t in targets if not (ROOT / t).exists()]


def test_every_setting_of_every_process_is_in_env_example() -> None:
    """A variable a process reads but .env.example does not mention is one an operator never finds."""
    from connector_service.app.settings import Settings as ConnectorSettings
    from gateway.settings import GatewaySettings
    from vault_service.settings import Settings as VaultSettings

    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    read = {
        (field.alias or name).upper()
        for cls in (ConnectorSettings, VaultSettings, GatewaySettings)
        for name, field in cls.model_fields.items()
    }
    assert read <= documented, f"missing from .env.example: {sorted(read - documented)}"
