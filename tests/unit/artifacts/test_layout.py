"""Which run or model a stored key belongs to, and how artifact URIs map to keys."""

from __future__ import annotations

import pytest

from services.artifacts.layout import key_of_uri, owner_of, stored_event
from services.artifacts.store import StoredFile

RUN = "0123456789abcdef0123456789abcdef"
SHA = "ab" * 32


def test_a_runs_file() -> None:
    owner = owner_of(f"3/{RUN}/artifacts/model/MLmodel")
    assert owner is not None
    assert (owner.experiment_id, owner.run_id, owner.model_id) == ("3", RUN, None)
    assert (owner.root, owner.path) == (f"3/{RUN}/artifacts", "model/MLmodel")


def test_a_logged_models_file() -> None:
    owner = owner_of("3/models/m-123/artifacts/MLmodel")
    assert owner is not None
    assert (owner.run_id, owner.model_id, owner.path) == (None, "m-123", "MLmodel")
    assert owner.root == "3/models/m-123/artifacts"


@pytest.mark.parametrize(
    "key",
    [
        "a.txt",
        f"3/{RUN}/artifacts",  # the root itself, not a file under it
        f"3/{RUN}/other/a.txt",
        "3/traces/tr-1/artifacts/traces.json",
        "3/models/artifacts/x",  # "models" is never a run id
        "3/models/m-1/artifacts",
        f"-3/{RUN}/artifacts/a",
    ],
)
def test_files_outside_run_and_model_roots_have_no_owner(key: str) -> None:
    assert owner_of(key) is None
    assert stored_event(key, StoredFile(1, SHA)) is None


def test_stored_event_carries_the_store_key() -> None:
    event = stored_event(f"1/{RUN}/artifacts/a/b.txt", StoredFile(5, SHA))
    assert event is not None
    assert (event.run_id, event.model_id, event.path) == (RUN, None, f"1/{RUN}/artifacts/a/b.txt")
    assert (event.size, event.sha256) == (5, SHA)
    assert event.aggregate_id() == RUN


@pytest.mark.parametrize(
    ("uri", "key"),
    [
        (f"mlflow-artifacts:/1/{RUN}/artifacts", f"1/{RUN}/artifacts"),
        (f"mlflow-artifacts://host:5000/1/{RUN}/artifacts", f"1/{RUN}/artifacts"),
        (
            f"http://h:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/{RUN}/artifacts",
            f"1/{RUN}/artifacts",
        ),
        ("s3://bucket/1/x/artifacts", None),
        ("file:///tmp/x", None),
        ("/tmp/x", None),
    ],
)
def test_artifact_uris(uri: str, key: str | None) -> None:
    assert key_of_uri(uri) == key
