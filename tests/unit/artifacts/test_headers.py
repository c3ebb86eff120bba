"""Download headers match what MLflow's server sends."""

from __future__ import annotations

import pytest

from services.artifacts.headers import content_disposition, download_headers, guess_mime_type


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("a/MLmodel", "text/plain"),
        ("conda.yaml", "text/plain"),
        ("x.json", "text/plain"),
        ("model.pkl", "application/octet-stream"),
        ("plot.png", "image/png"),
        ("page.html", "text/html"),
        ("noext", "application/octet-stream"),
    ],
)
def test_mime_types(name: str, mime: str) -> None:
    assert guess_mime_type(name) == mime


def test_content_disposition_is_an_attachment() -> None:
    assert content_disposition("a.txt") == "attachment; filename=a.txt"
    assert content_disposition("a b.txt") == 'attachment; filename="a b.txt"'
    assert content_disposition('q"uote.txt') == 'attachment; filename="q\\"uote.txt"'
    assert (
        content_disposition("modèle.bin")
        == "attachment; filename=modele.bin; filename*=UTF-8''mod%C3%A8le.bin"
    )
    assert content_disposition("日本").startswith("attachment; filename=download; filename*=")


def test_download_headers() -> None:
    headers = download_headers("1/r/artifacts/plot.png", 42)
    assert headers == {
        "Content-Type": "image/png",
        "Content-Disposition": "attachment; filename=plot.png",
        "X-Content-Type-Options": "nosniff",
        "Content-Length": "42",
    }
