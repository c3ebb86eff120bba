"""Who is acting, and how far the name can be trusted: the optional authenticator and the actor.

Without an authenticator (the default) nothing is verified: the Basic username, a Bearer token's
fingerprint, or the client's mlflow.user are recorded as *self-reported* names, never as
authenticated principals. With a users file and/or a tokens file configured (``AuthSettings``),
credentials a request carries must verify, or it is answered 401 UNAUTHENTICATED in MLflow's
envelope; verified credentials make the actor an *authenticated* principal. A request without
credentials is still served, attributed to its self-reported user as before.

Users file: ``user:hash`` lines as htpasswd writes them with bcrypt (``htpasswd -nbB user pw``,
``$2y$``/``$2b$``/``$2a$``), or ``user:sha256:<hex>`` (the hex SHA-256 of the password: fast,
unsalted, for machine accounts with long random passwords). Tokens file: ``<sha256 hex of the
token>:user`` lines. ``#`` starts a comment. Both are read at start.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas import Actor
from services.gateway.errors import MlflowError, error_response

PRINCIPAL_SCOPE_KEY = "ledgerflow.principal"
"""Where the authentication middleware leaves the verified Actor in the ASGI scope."""

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_CACHE_SIZE = 1024


class AuthSettings(BaseSettings):
    """Optional authentication of the credentials MLflow clients send (Basic or Bearer)."""

    model_config = SettingsConfigDict(
        env_prefix="LEDGERFLOW_AUTH_", frozen=True, extra="ignore", use_attribute_docstrings=True
    )

    users_file: Path | None = None
    """Basic credentials: `user:bcrypt-hash` (htpasswd -B) or `user:sha256:<hex>` lines.
    Unset, with no tokens file: no authentication, every name is self-reported."""

    tokens_file: Path | None = None
    """Bearer tokens: `<sha256 hex of the token>:user` lines."""


class AuthConfigError(ValueError):
    """A users or tokens file that cannot be used; the server refuses to start with it."""


class Unauthenticated(Exception):
    """Credentials that do not verify."""


@dataclass(frozen=True)
class _Password:
    bcrypt_hash: bytes | None = None
    sha256_hex: str | None = None

    def matches(self, password: str) -> bool:
        if self.bcrypt_hash is not None:
            return bcrypt.checkpw(password.encode(), self.bcrypt_hash)
        assert self.sha256_hex is not None
        digest = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(digest, self.sha256_hex)


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text()
    except OSError as err:
        raise AuthConfigError(f"cannot read {path}: {err.strerror or err}") from None
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            found.append((number, line))
    return found


def _password(path: Path, number: int, stored: str) -> _Password:
    if stored.startswith(_BCRYPT_PREFIXES):
        return _Password(bcrypt_hash=stored.encode())
    hex_digest = stored.removeprefix("sha256:")
    if _HEX64.match(hex_digest):
        return _Password(sha256_hex=hex_digest.lower())
    raise AuthConfigError(
        f"{path}:{number}: unsupported password hash (use bcrypt, as `htpasswd -nbB` writes, "
        "or sha256:<64 hex digits>)"
    )


def load_users(path: Path) -> dict[str, _Password]:
    users: dict[str, _Password] = {}
    for number, line in _lines(path):
        user, sep, stored = line.partition(":")
        if not sep or not user or not stored:
            raise AuthConfigError(f"{path}:{number}: expected user:hash")
        users[user] = _password(path, number, stored)
    return users


def load_tokens(path: Path) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for number, line in _lines(path):
        digest, sep, user = line.partition(":")
        if not sep or not user or not _HEX64.match(digest):
            raise AuthConfigError(f"{path}:{number}: expected <sha256 hex of the token>:user")
        tokens[digest.lower()] = user
    return tokens


class Authenticator:
    """Verifies Basic and Bearer credentials against the configured files.

    bcrypt is slow on purpose (tens to hundreds of milliseconds), and the mlflow client sends its
    credentials with every request: verified headers are remembered (by their SHA-256, never in
    clear) so only the first request of a client pays, and checks run off the event loop.
    """

    def __init__(self, users: Mapping[str, _Password], tokens: Mapping[str, str]) -> None:
        self.users = dict(users)
        self.tokens = dict(tokens)
        self._verified: OrderedDict[str, Actor] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Authenticator | None:
        """None when authentication is not configured."""
        if settings.users_file is None and settings.tokens_file is None:
            return None
        users = load_users(settings.users_file) if settings.users_file else {}
        tokens = load_tokens(settings.tokens_file) if settings.tokens_file else {}
        return cls(users, tokens)

    async def verify(self, authorization: str) -> Actor:
        """The authenticated principal of an Authorization header, or ``Unauthenticated``."""
        key = hashlib.sha256(authorization.encode()).hexdigest()
        known = self._verified.get(key)
        if known is not None:
            self._verified.move_to_end(key)
            return known
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic" and credentials:
            user = await self._basic(credentials)
        elif scheme.lower() == "bearer" and credentials:
            user = self._bearer(credentials)
        else:
            raise Unauthenticated("unsupported Authorization header (use Basic or Bearer)")
        actor = Actor(name=user, kind="authenticated")
        self._verified[key] = actor
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)
        return actor

    async def _basic(self, credentials: str) -> str:
        try:
            user, sep, password = (
                base64.b64decode(credentials, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        stored = self.users.get(user)
        if not sep or stored is None or not await asyncio.to_thread(stored.matches, password):
            raise Unauthenticated("invalid username or password")
        return user

    def _bearer(self, token: str) -> str:
        user = self.tokens.get(hashlib.sha256(token.encode()).hexdigest())
        if user is None:
            raise Unauthenticated("invalid token")
        return user


class AuthenticationMiddleware:
    """Verifies the credentials of every HTTP request when an authenticator is configured."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator | None = None) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.authenticator is not None:
            authorization = Headers(scope=scope).get("authorization")
            if authorization:
                try:
                    scope[PRINCIPAL_SCOPE_KEY] = await self.authenticator.verify(authorization)
                except Unauthenticated as refused:
                    response = error_response(
                        MlflowError("UNAUTHENTICATED", f"Authentication failed: {refused}")
                    )
                    response.headers["WWW-Authenticate"] = 'Basic realm="ledgerflow"'
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def actor_of(request: Request, self_reported: str | None = None) -> Actor:
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(principal, Actor):
        return principal
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            user, _, _ = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return Actor(name=user, kind="self_reported")
    if scheme.lower() == "bearer" and credentials:
        fingerprint = hashlib.sha256(credentials.encode()).hexdigest()[:12]
        return Actor(name=f"token:{fingerprint}", kind="self_reported")
    if self_reported:
        return Actor(name=self_reported, kind="self_reported")
    return Actor(name="anonymous", kind="anonymous")
