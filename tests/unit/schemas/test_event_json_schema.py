"""The exported JSON Schema files match the models, and the export command keeps them so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import EVENT_TYPES
from schemas.export import JSON_DIR, out_of_date, render_all, write_all


def files_on_disk(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_exported_json_schema_is_not_stale() -> None:
    rendered, on_disk = render_all(), files_on_disk(JSON_DIR)

    stale = sorted(p for p in rendered.keys() | on_disk.keys() if rendered.get(p) != on_disk.get(p))
    assert not stale, f"schemas/json is out of date ({', '.join(stale)}): run `make schemas`"


def test_there_is_one_file_per_event_type_and_version_plus_the_envelope() -> None:
    expected = {f"events/{t}.v{cls.SCHEMA_VERSION}.json" for t, cls in EVENT_TYPES.items()}

    assert set(render_all()) == expected | {"envelope.json"}
    assert "events/experiment.created.v2.json" in expected


def test_rendering_is_deterministic_and_newline_terminated() -> None:
    first, second = render_all(), render_all()

    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n" == text


def test_payload_schemas_carry_type_version_stream_and_wire_names() -> None:
    files = render_all()
    metrics = json.loads(files["events/metrics.logged.v2.json"])
    inputs = json.loads(files["events/inputs.logged.v1.json"])

    assert metrics["x-ledgerflow-type"] == "metrics.logged"
    assert metrics["x-ledgerflow-stream"] == "data"
    assert metrics["x-ledgerflow-schema-version"] == 2
    assert metrics["properties"]["keys"]["maxItems"] == 1000
    assert {"enum": ["NaN", "Infinity", "-Infinity"]} in (
        metrics["properties"]["values"]["items"]["anyOf"]
    )
    assert "schema" in inputs["$defs"]["Dataset"]["properties"]
    assert metrics["additionalProperties"] is False


def test_write_all_creates_updates_and_removes_stale_files(tmp_path: Path) -> None:
    assert write_all(tmp_path) == sorted(render_all())
    assert out_of_date(tmp_path) == []
    (tmp_path / "events" / "run.created.v0.json").write_text("{}\n")
    (tmp_path / "envelope.json").write_text("{}\n")
    (tmp_path / "events" / "metrics.logged.v2.json").unlink()

    assert out_of_date(tmp_path) == [
        "envelope.json",
        "events/metrics.logged.v2.json",
        "events/run.created.v0.json",
    ]
    write_all(tmp_path)
    assert out_of_date(tmp_path) == []
    assert files_on_disk(tmp_path) == render_all()


def test_check_mode_names_the_differing_files_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from schemas import export

    monkeypatch.setattr(export, "JSON_DIR", tmp_path / "schemas" / "json")
    write_all(export.JSON_DIR)
    assert export.main(["--check"]) == 0

    (export.JSON_DIR / "events" / "run.created.v1.json").write_text("{}\n")
    assert export.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "schemas/json/events/run.created.v1.json" in err
    assert "make schemas" in err
