"""docker-compose.yml parses the way `docker compose config` parses it, with what we promise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / ".cache" / "compose-check"


def compose_config() -> str:
    """`docker compose config` where the plugin exists, else the same loader (compose-go)."""
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            result = subprocess.run(
                ["docker", "compose", "-f", "docker-compose.yml", "config"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            return result.stdout
    assert shutil.which("go"), "Go is missing: install Go to validate docker-compose.yml"
    source = ROOT / "deploy" / "compose-check"
    subprocess.run(
        ["go", "build", "-o", str(CHECKER), "."], cwd=source, check=True, capture_output=True
    )
    result = subprocess.run(
        [str(CHECKER), "docker-compose.yml"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_compose_file_is_valid_and_complete() -> None:
    project = yaml.safe_load(compose_config())
    services = project["services"]
    assert {"kafka", "postgres", "minio", "gateway", "projector"} <= set(services)
    for name in ("kafka", "postgres", "minio", "gateway", "projector"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    for name in ("kafka", "postgres", "minio"):
        assert services[name].get("volumes"), f"{name} keeps no volume"
    gateway_env = services["gateway"]["environment"]
    assert gateway_env["LEDGERFLOW_LOG_BACKEND"] == "kafka"
    assert services["projector"]["command"] == ["ledgerflow", "projector"]


def test_compose_check_rejects_an_invalid_file(tmp_path: Path) -> None:
    compose_config()  # builds the checker
    bad = tmp_path / "bad.yml"
    bad.write_text("services:\n  a:\n    image: x\n    ports: 12\n")
    if CHECKER.exists():
        result = subprocess.run([str(CHECKER), str(bad)], capture_output=True, text=True)
        assert result.returncode == 1 and "ports" in result.stderr
