"""Who is acting, and how far the name can be trusted.

Until an authenticator is configured (the registry issue adds one), nothing is verified: the
Basic username, a Bearer token's fingerprint, or the client's mlflow.user are recorded as
*self-reported* names, never as authenticated principals.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from starlette.requests import Request

from schemas import Actor


def actor_of(request: Request, self_reported: str | None = None) -> Actor:
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
