"""The installable package carries its data: migrations, event schemas and the UI's files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_migration_and_schema(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    wheel = next(tmp_path.glob("ledgerflow-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = [
        path.relative_to(ROOT).as_posix()
        for pattern in (
            "services/store/migrations/*/*.sql",
            "schemas/json/**/*.json",
            "services/gateway/ui/*.sql",
            "services/gateway/ui/static/**/*.*",
        )
        for path in ROOT.glob(pattern)
    ]
    assert expected
    missing = [name for name in expected if name not in names]
    assert not missing, f"not packaged: {missing}"
