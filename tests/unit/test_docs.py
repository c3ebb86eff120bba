"""The README stays true: the two commands come first and the configuration table is complete."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pydantic_settings import BaseSettings

from services.artifacts.settings import ArtifactSettings
from services.bi.settings import BiSettings
from services.gateway.actor import AuthSettings
from services.gateway.settings import GatewaySettings
from services.projector.settings import ProjectorSettings
from services.settings import CoreSettings, KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS: tuple[type[BaseSettings], ...] = (
    CoreSettings,
    GatewaySettings,
    ProjectorSettings,
    KafkaSettings,
    ArtifactSettings,
    AuthSettings,
    BiSettings,
)


def documented() -> dict[str, str]:
    rows = re.findall(r"^\| `(LEDGERFLOW_[A-Z0-9_]+)` \| ([^|]+) \|", README, re.M)
    return {name: default.strip().strip("`") for name, default in rows}


def declared() -> dict[str, str]:
    found = {}
    for cls in SETTINGS:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            default = "unset" if field.default is None else str(field.default)
            found[f"{prefix}{name}".upper()] = default
    return found


def test_configuration_table_lists_every_setting_with_its_default() -> None:
    assert documented() == declared()


def test_every_setting_has_a_description() -> None:
    for cls in SETTINGS:
        for name, field in cls.model_fields.items():
            assert field.description, f"{cls.__name__}.{name} needs a docstring"


def test_the_two_commands_come_first_and_exist() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split()[1] for line in first_block.strip().splitlines()] == ["run", "test"]
    for target in ("run", "test", "lint"):
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0, dry.stderr


def test_ci_runs_lint_and_test() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make lint" in ci and "make test" in ci
