"""JSON Schema export of the envelope and every payload: `python -m schemas.export [--check]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.catalog import EVENT_TYPES
from schemas.envelope import Envelope
from schemas.payload import Payload

JSON_DIR = Path(__file__).resolve().parent / "json"
"""Where the exported files live; render_all() keys are relative to it."""

EVENTS_SUBDIR = "events"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_schema_path(type_str: str, version: int) -> str:
    """Where one event type's payload schema is written, relative to JSON_DIR."""
    return f"{EVENTS_SUBDIR}/{type_str}.v{version}.json"


def _render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema()
    schema["$schema"] = DIALECT
    schema["x-ledgerflow-events"] = {
        type_str: {
            "schema": event_schema_path(type_str, cls.SCHEMA_VERSION),
            "schema_version": cls.SCHEMA_VERSION,
            "stream": cls.STREAM,
        }
        for type_str, cls in EVENT_TYPES.items()
    }
    return schema


def _payload_schema(cls: type[Payload]) -> dict[str, Any]:
    schema = cls.model_json_schema()
    schema["$schema"] = DIALECT
    schema["x-ledgerflow-type"] = cls.TYPE
    schema["x-ledgerflow-schema-version"] = cls.SCHEMA_VERSION
    schema["x-ledgerflow-stream"] = cls.STREAM
    return schema


def render_all() -> dict[str, str]:
    """Every exported file: path relative to JSON_DIR -> its exact text."""
    files = {"envelope.json": _render(_envelope_schema())}
    for type_str, cls in EVENT_TYPES.items():
        files[event_schema_path(type_str, cls.SCHEMA_VERSION)] = _render(_payload_schema(cls))
    return files


def _on_disk(root: Path) -> dict[str, str]:
    paths = [root / "envelope.json", *sorted((root / EVENTS_SUBDIR).glob("*"))]
    return {
        path.relative_to(root).as_posix(): path.read_bytes().decode("utf-8", errors="replace")
        for path in paths
        if path.is_file()
    }


def out_of_date(root: Path = JSON_DIR) -> list[str]:
    """Relative paths that differ from render_all(): changed, missing or stale."""
    wanted, present = render_all(), _on_disk(root)
    return sorted(
        path for path in wanted.keys() | present.keys() if wanted.get(path) != present.get(path)
    )


def write_all(root: Path = JSON_DIR) -> list[str]:
    """Bring the files under `root` up to date; returns the relative paths written or removed."""
    wanted = render_all()
    touched = out_of_date(root)
    for rel in touched:
        path = root / rel
        if rel in wanted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wanted[rel].encode("utf-8"))
        else:
            path.unlink()
    return touched


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the files on disk are not up to date"
    )
    args = parser.parse_args(argv)
    shown = JSON_DIR.relative_to(JSON_DIR.parents[1])
    if args.check:
        stale = out_of_date(JSON_DIR)
        for rel in stale:
            print(f"out of date: {shown / rel}", file=sys.stderr)
        if stale:
            print("run `make schemas` to regenerate", file=sys.stderr)
        return 1 if stale else 0
    for rel in write_all(JSON_DIR):
        print(f"updated {shown / rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
