"""Artifact path safety: the one place that decides whether a client's path may become a key.

A key is a relative POSIX path below the artifact root: non-empty segments separated by "/",
none of them "." or "..". A path from a request is percent-decoded until it no longer changes
(as MLflow's `validate_path_is_safe` does, so `%252e%252e` is caught as `..`); every stage of
decoding must pass, and the fully decoded form is the key. Refused, whatever the encoding:
`..` and `.` segments, empty segments (`a//b`, a trailing `/`), backslashes, absolute paths
(`/etc`, `C:/x`, `\\\\server`), NUL and other control characters, and `#` (MLflow refuses it).

The stores check every key again with `check_key` before touching anything, and the local store
also refuses a key whose real location (after symlinks) is outside its root.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

INVALID_PATH = "Invalid path"
"""MLflow's message for an unsafe path (INVALID_PARAMETER_VALUE); ours adds the reason."""

MAX_KEY_BYTES = 1024
"""S3's limit on an object key; the local store keeps to it too so both accept the same keys."""

MAX_SEGMENT_BYTES = 255
"""The usual file name limit of local file systems (NAME_MAX)."""

_MAX_DECODINGS = 10
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")


class UnsafePath(ValueError):
    """A path that must not become an artifact key; ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{INVALID_PATH}: {reason}")
        self.path = path
        self.reason = reason

    @property
    def message(self) -> str:
        return f"{INVALID_PATH}: {self.reason}"


def _reason(path: str) -> str | None:
    """Why ``path`` (one decoding stage) is not a safe relative key, or None if it is."""
    if not path:
        return "the path is empty"
    if _CONTROL.search(path):
        return "control characters (such as NUL) are not allowed"
    if "\\" in path:
        return "backslashes are not allowed"
    if path.startswith("/") or _WINDOWS_DRIVE.match(path):
        return "absolute paths are not allowed"
    if "#" in path:
        return "'#' is not allowed"
    segments = path.split("/")
    if ".." in segments:
        return "'..' segments are not allowed"
    if "." in segments:
        return "'.' segments are not allowed"
    if "" in segments:
        return "empty segments ('//' or a trailing '/') are not allowed"
    if len(path.encode()) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if any(len(s.encode()) > MAX_SEGMENT_BYTES for s in segments):
        return f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def check_key(key: str) -> str:
    """``key`` itself (no decoding) if it is a safe relative key; else raise `UnsafePath`."""
    reason = _reason(key)
    if reason is not None:
        raise UnsafePath(key, reason)
    return key


def _decoded_stages(path: str) -> list[str]:
    stages = [path]
    for _ in range(_MAX_DECODINGS):
        decoded = unquote(stages[-1], errors="strict")
        if decoded == stages[-1]:
            return stages
        stages.append(decoded)
    raise UnsafePath(path, f"still percent-encoded after {_MAX_DECODINGS} decodings")


def artifact_key(path: str) -> str:
    """The key for a file path taken from a request (already URL-decoded once by the server)."""
    try:
        stages = _decoded_stages(path)
    except UnicodeDecodeError:
        raise UnsafePath(path, "percent-encoding that is not UTF-8") from None
    for stage in stages:
        reason = _reason(stage)
        if reason is not None:
            raise UnsafePath(path, reason)
    return stages[-1]


def directory_key(path: str | None) -> str:
    """The key of a directory to list: "" is the root; one trailing "/" is allowed."""
    if path is None or path == "":
        return ""
    return artifact_key(path[:-1] if path.endswith("/") and len(path) > 1 else path)


def join_key(*parts: str) -> str:
    """Join keys or key prefixes ("" is the root) with "/"."""
    return "/".join(p for p in parts if p)
