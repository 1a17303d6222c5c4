"""Who is calling: nobody, a user holding a token smalltown signed, or an admin.

The admin key comes from ``SMALLTOWN_ADMIN_KEY``, or is generated on first start and kept
in the store (so it survives restarts and every process of a deployment shares it). User
tokens are HS256 JWTs signed with a secret also kept in the store; a function mints one
for an identity (the town mints one per human player) and the client presents it as
``Authorization: Bearer`` or through the sync protocol's ``Authenticate``.

A sync client that sends no auth is a *session*: an identity of its own named after the
``sessionId`` its client made (a random UUID per client instance, sent again on every
reconnect), so AI Town's page, which signs nobody in, can play as one player per browser
tab. The name is a hash of the id: the id itself, which alone can claim the identity, is
never shown to anyone. A session is no user: it reaches only public functions, and a
function must ask for it (``AuthContext.caller``) to act for it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from smalltown.runtime.errors import UnauthorizedError
from smalltown.store import Index, Store, Table, Transaction

log = logging.getLogger("smalltown.runtime.auth")
SECRETS_TABLE = Table("_smalltown_secrets", indexes=[Index("by_name", ["name"])])
ISSUER = "smalltown"
DEFAULT_TOKEN_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Identity:
    kind: Literal["none", "session", "user", "admin"]
    subject: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """Distinguishes identities for caching query results."""
        return f"{self.kind}:{self.subject or ''}"


ANONYMOUS = Identity("none")
ADMIN = Identity("admin")
#: how a session's subject starts; user tokens' subjects never do (the town mints
#: ``human:...``), so a session can never pass for a token holder
SESSION_PREFIX = "guest:"


def session_identity(session_id: str) -> Identity:
    """The identity of a sync client that sent no auth, from its ``sessionId`` (anonymous
    when it sent none)."""
    if not session_id:
        return ANONYMOUS
    digest = hashlib.sha256(f"smalltown session {session_id}".encode()).hexdigest()
    return Identity("session", SESSION_PREFIX + digest[:24])


class Auth:
    def __init__(self, admin_key: str, signing_secret: bytes) -> None:
        self._admin_key = admin_key
        self._secret = signing_secret

    @classmethod
    async def load(cls, store: Store, admin_key: str | None = None) -> Auth:
        """Read (or create once) the admin key and the token secret from the store."""

        async def ensure(tx: Transaction) -> tuple[str, str, bool]:
            found = {d["name"]: d["value"] for d in await tx.query("_smalltown_secrets")}
            created = False
            for name in ("adminKey", "tokenSecret"):
                if name not in found:
                    found[name] = secrets.token_urlsafe(32)
                    await tx.insert("_smalltown_secrets", {"name": name, "value": found[name]})
                    created = True
            return found["adminKey"], found["tokenSecret"], created

        stored_key, secret, created = await store.run(ensure)
        key = admin_key or stored_key
        if created and not admin_key:
            log.warning("generated an admin key (kept in the database): %s", stored_key)
        return cls(key, secret.encode())

    @property
    def admin_key(self) -> str:
        return self._admin_key

    def mint(
        self,
        subject: str,
        claims: dict[str, Any] | None = None,
        seconds: float = DEFAULT_TOKEN_SECONDS,
    ) -> str:
        now = int(time.time())
        payload = {
            **(claims or {}),
            "sub": subject,
            "iss": ISSUER,
            "iat": now,
            "exp": now + int(seconds),
        }
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def verify_user(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("the token has expired; sign in again") from None
        except jwt.PyJWTError as exc:
            raise UnauthorizedError(f"the token is not valid: {exc}") from None
        return Identity("user", claims["sub"], claims)

    def verify_admin(self, key: str) -> Identity:
        if not hmac.compare_digest(key.encode(), self._admin_key.encode()):
            raise UnauthorizedError("the admin key is not valid")
        return ADMIN

    def from_header(self, header: str | None) -> Identity:
        """``Authorization: Bearer <user token or admin key>`` or ``Convex <admin key>``."""
        if not header:
            return ANONYMOUS
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "convex":
            return self.verify_admin(value)
        if scheme.lower() == "bearer" and value:
            if hmac.compare_digest(value.encode(), self._admin_key.encode()):
                return ADMIN
            return self.verify_user(value)
        raise UnauthorizedError(
            "the Authorization header must be 'Bearer <token>' or 'Convex <key>'"
        )
