"""A bad setting stops a command with the variable at fault named, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import BaseModel, ValidationError

from services.projector.settings import ProjectorSettings
from services.settings import settings_error


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        (
            {"LEDGERFLOW_LOG_BACKEND": "kafka", "LEDGERFLOW_PROJECTOR_FETCH_MAX_WAIT_MS": "0"},
            "LEDGERFLOW_PROJECTOR_FETCH_MAX_WAIT_MS=0: Input should be greater than 0",
        ),
        (
            {"LEDGERFLOW_LOG_BACKEND": "kafka", "LEDGERFLOW_PROJECTOR_MAX_BATCH": "many"},
            "LEDGERFLOW_PROJECTOR_MAX_BATCH=many: Input should be a valid integer",
        ),
        ({"LEDGERFLOW_LOG_BACKEND": "kafkax"}, "LEDGERFLOW_LOG_BACKEND=kafkax: Input should be"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], shown: str) -> None:
    result = run_cli("projector", **env)
    assert result.returncode == 2, result.stderr
    assert "invalid configuration:" in result.stderr
    assert shown in result.stderr
    assert "Traceback" not in result.stderr


def test_other_validation_errors_are_not_taken_for_settings() -> None:
    class Payload(BaseModel):
        size: int

    with pytest.raises(ValidationError) as caught:
        Payload(size="big")  # type: ignore[arg-type]
    assert settings_error(caught.value) is None
    with pytest.raises(ValidationError) as caught:
        ProjectorSettings(max_batch=0)
    assert settings_error(caught.value) == (
        "invalid configuration:\n  LEDGERFLOW_PROJECTOR_MAX_BATCH=0: Input should be greater than 0"
    )
