"""The optional authenticator: users and tokens files, verification, the 401 envelope, and the
actor a request is attributed to with and without it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path

import bcrypt
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.gateway.actor import (
    AuthConfigError,
    AuthenticationMiddleware,
    Authenticator,
    AuthSettings,
    actor_of,
)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def auth_files(tmp_path: Path) -> AuthSettings:
    users = tmp_path / "users"
    alice = bcrypt.hashpw(b"wonderland", bcrypt.gensalt(rounds=4)).decode()
    # htpasswd -B writes $2y$; bcrypt reads it as $2b$
    bob = "$2y$" + bcrypt.hashpw(b"builder", bcrypt.gensalt(rounds=4)).decode()[4:]
    ci = hashlib.sha256(b"long-random-secret").hexdigest()
    users.write_text(f"# users\nalice:{alice}\n\nbob:{bob}\nci:sha256:{ci}\n")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{hashlib.sha256(b'tok-123').hexdigest()}:deploy-bot\n")
    return AuthSettings(users_file=users, tokens_file=tokens)


class Client:
    """Requests to the app in process (httpx's ASGI transport), synchronously for the tests."""

    def __init__(self, asgi: Starlette) -> None:
        self.asgi = asgi

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.asgi)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get(url, headers=headers)

        return asyncio.run(send())


def app(authenticator: Authenticator | None) -> Client:
    async def who(request: Request) -> JSONResponse:
        actor = actor_of(request, request.query_params.get("user"))
        return JSONResponse({"name": actor.name, "kind": actor.kind})

    return Client(
        Starlette(
            routes=[Route("/who", who)],
            middleware=[Middleware(AuthenticationMiddleware, authenticator=authenticator)],
        )
    )


def test_off_by_default_everything_is_self_reported() -> None:
    assert Authenticator.from_settings(AuthSettings(users_file=None, tokens_file=None)) is None
    client = app(None)
    assert client.get("/who", headers=basic("mallory", "x")).json() == {
        "name": "mallory",
        "kind": "self_reported",
    }
    assert client.get("/who?user=carol").json() == {"name": "carol", "kind": "self_reported"}
    assert client.get("/who").json() == {"name": "anonymous", "kind": "anonymous"}
    token = client.get("/who", headers={"Authorization": "Bearer abc"}).json()
    assert token["kind"] == "self_reported" and token["name"].startswith("token:")


def test_verified_credentials_are_authenticated(auth_files: AuthSettings) -> None:
    client = app(Authenticator.from_settings(auth_files))
    for user, password in [
        ("alice", "wonderland"),
        ("bob", "builder"),
        ("ci", "long-random-secret"),
    ]:
        found = client.get("/who", headers=basic(user, password)).json()
        assert found == {"name": user, "kind": "authenticated"}
    bearer = client.get("/who", headers={"Authorization": "Bearer tok-123"}).json()
    assert bearer == {"name": "deploy-bot", "kind": "authenticated"}
    # the cached path answers the same
    assert (
        client.get("/who", headers=basic("alice", "wonderland")).json()["kind"] == "authenticated"
    )
    # no credentials: still served, self-reported as before
    assert client.get("/who?user=carol").json() == {"name": "carol", "kind": "self_reported"}


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong"),
        basic("nobody", "wonderland"),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer tok-999"},
        {"Authorization": "Digest abc"},
    ],
)
def test_wrong_credentials_are_401_in_mlflow_envelope(
    auth_files: AuthSettings, headers: dict[str, str]
) -> None:
    response = app(Authenticator.from_settings(auth_files)).get("/who", headers=headers)
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert response.json()["message"].startswith("Authentication failed")
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("users", "problem"),
    [
        ("alice\n", "expected user:hash"),
        ("alice:$apr1$abc$def\n", "unsupported password hash"),
        ("alice:md5:abc\n", "unsupported password hash"),
    ],
)
def test_unusable_files_stop_the_start(tmp_path: Path, users: str, problem: str) -> None:
    path = tmp_path / "users"
    path.write_text(users)
    with pytest.raises(AuthConfigError, match=problem):
        Authenticator.from_settings(AuthSettings(users_file=path))
    with pytest.raises(AuthConfigError, match="cannot read"):
        Authenticator.from_settings(AuthSettings(tokens_file=tmp_path / "missing"))
    bad_tokens = tmp_path / "tokens"
    bad_tokens.write_text("not-a-digest:bot\n")
    with pytest.raises(AuthConfigError, match="sha256 hex"):
        Authenticator.from_settings(AuthSettings(tokens_file=bad_tokens))
