"""Path safety: every traversal spelling is refused, ordinary names pass, keys stay in the root."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.artifacts.paths import (
    INVALID_PATH,
    UnsafePath,
    artifact_key,
    check_key,
    directory_key,
    join_key,
)

TRAVERSALS = [
    "..",
    "../secret",
    "a/../../secret",
    "a/..",
    "%2e%2e/secret",
    "%2E%2E/secret",
    "a/%2e%2e/%2e%2e/secret",
    "%252e%252e/secret",  # double encoding
    "%25252e%25252e/secret",  # triple
    "..%2fsecret",
    "..%2Fsecret",
    "a%2f..%2f..%2fsecret",
    "%2e%2e%2fsecret",
    "..%252fsecret",
    "..\\secret",
    "a\\..\\..\\secret",
    "%5c..%5csecret",
    "/etc/passwd",
    "%2fetc/passwd",
    "%252fetc/passwd",
    "//server/share",
    "C:/Windows/win.ini",
    "c:\\Windows",
    "a\x00b",
    "a%00b",
    "a%2500b",
    "a\nb",
    "a//b",
    "a/",
    "./a",
    "a/./b",
    "",
    "a#b",
    "file:///etc/passwd",
    "%ff%fe",  # not UTF-8
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_unsafe_paths_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath) as caught:
        artifact_key(path)
    assert caught.value.message.startswith(f"{INVALID_PATH}: ")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("a.txt", "a.txt"),
        ("0/abc/artifacts/model/MLmodel", "0/abc/artifacts/model/MLmodel"),
        ("dir/with space/ü.bin", "dir/with space/ü.bin"),
        ("with%20space.txt", "with space.txt"),  # decoded, as MLflow decodes
        ("100%.txt", "100%.txt"),  # not an escape: left alone
        ("..a/b..", "..a/b.."),  # dots inside names are names
        ("...", "..."),
        ("a:b", "a:b"),
    ],
)
def test_safe_paths_become_keys(path: str, key: str) -> None:
    assert artifact_key(path) == key


def test_reason_names_the_problem() -> None:
    with pytest.raises(UnsafePath, match=r"'\.\.' segments"):
        artifact_key("%252e%252e/x")
    with pytest.raises(UnsafePath, match="backslashes"):
        artifact_key("a\\b")
    with pytest.raises(UnsafePath, match="absolute"):
        artifact_key("/a")
    with pytest.raises(UnsafePath, match="control characters"):
        artifact_key("a%00")


def test_too_deep_encoding_is_refused() -> None:
    path = "a"
    for _ in range(12):
        path = path.replace("%", "%25") if "%" in path else "%61"
    with pytest.raises(UnsafePath, match="percent-encoded"):
        artifact_key(path)


def test_length_limits() -> None:
    assert artifact_key("a" * 255)
    with pytest.raises(UnsafePath, match="segment"):
        artifact_key("a" * 256)
    with pytest.raises(UnsafePath, match="1024"):
        artifact_key("/".join(["a" * 200] * 6))


def test_check_key_does_not_decode() -> None:
    assert check_key("a%2e%2e") == "a%2e%2e"  # a literal name; never decoded by a store
    with pytest.raises(UnsafePath):
        check_key("a/../b")


def test_directory_keys() -> None:
    assert directory_key(None) == ""
    assert directory_key("") == ""
    assert directory_key("a/b/") == "a/b"
    for bad in ("/", "a//", "..", "../", "%2e%2e/"):
        with pytest.raises(UnsafePath):
            directory_key(bad)


def test_join_key_skips_the_root() -> None:
    assert join_key("", "a", "", "b") == "a/b"
    assert join_key() == ""


segment = st.text(alphabet=st.sampled_from(list("ab./\\%25fe0:\x00 #")), min_size=0, max_size=12)


@given(st.lists(segment, min_size=1, max_size=5).map("/".join))
def test_accepted_keys_never_leave_the_root(path: str) -> None:
    try:
        key = artifact_key(path)
    except UnsafePath:
        return
    joined = posixpath.normpath(posixpath.join("/root", key))
    assert joined.startswith("/root/")
    assert joined == f"/root/{key}", "a key is already normal: nothing to collapse"
    assert "\\" not in key and "\x00" not in key
