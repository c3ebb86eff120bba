"""Download headers as MLflow's server sends them: a guessed Content-Type, an attachment
Content-Disposition (never rendered inline on the server's origin) and `nosniff`."""

from __future__ import annotations

import mimetypes
import posixpath
import re
import unicodedata
from urllib.parse import quote

TEXT_EXTENSIONS = frozenset(
    (
        *("txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon"),
        *("toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst"),
        *("ipynb", "MLmodel", "MLproject"),
    )
)
"""Served as text/plain, as MLflow's `get_text_extensions` (MLmodel and MLproject by name)."""

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")


def guess_mime_type(name: str) -> str:
    filename = posixpath.basename(name)
    extension = posixpath.splitext(filename)[1].lstrip(".") or filename
    if extension in TEXT_EXTENSIONS:
        return "text/plain"
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def _quoted(value: str) -> str:
    if _TOKEN.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def content_disposition(filename: str) -> str:
    """`attachment; filename=...`, with an RFC 5987 `filename*` for non-ASCII names."""
    if filename.isascii():
        return f"attachment; filename={_quoted(filename)}"
    fallback = (
        unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "download"
    )
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"attachment; filename={_quoted(fallback)}; filename*=UTF-8''{encoded}"


def download_headers(key: str, size: int) -> dict[str, str]:
    return {
        "Content-Type": guess_mime_type(key),
        "Content-Disposition": content_disposition(posixpath.basename(key)),
        "X-Content-Type-Options": "nosniff",
        "Content-Length": str(size),
    }
