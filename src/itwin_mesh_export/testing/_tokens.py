"""Access tokens: an IMS-like issuer for the client-credentials flow, and the API's token check.

`/connect/token` accepts `grant_type=client_credentials` with the client's id and secret (in the
form body or as HTTP Basic) and `scope=itwin-platform`, and answers as an OAuth2 server does
(RFC 6749 section 5): `{access_token, token_type, expires_in, scope}`, or `{error,
error_description}` with 400 (401 for a client that authenticated with Basic). Tokens are opaque
random strings that expire by the service clock; `expire_all()` ends every issued token at once,
so a test can make a token lapse in the middle of a run without waiting.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from ._clock import Clock

__all__ = ["TokenGrant", "TokenIssuer", "TokenRefusal"]

SCOPE = "itwin-platform"


@dataclass(frozen=True)
class TokenGrant:
    """A token issued: what the token endpoint answers (RFC 6749, 5.1)."""

    access_token: str
    expires_in: int
    scope: str


@dataclass(frozen=True)
class TokenRefusal:
    """An OAuth2 error: `error` code, human description, HTTP status."""

    error: str
    description: str
    status: int = 400


class TokenIssuer:
    """Issues tokens to one client and says whether a bearer token is valid now."""

    def __init__(
        self, clock: Clock, *, client_id: str, client_secret: str, lifetime_s: float, static_token: str | None
    ) -> None:
        self._clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.lifetime_s = lifetime_s
        self.static_token = static_token
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}
        self.issued_count = 0

    def grant(
        self,
        *,
        grant_type: str | None,
        client_id: str | None,
        client_secret: str | None,
        scope: str | None,
        basic: bool,
    ) -> TokenGrant | TokenRefusal:
        """The token endpoint's decision for one request."""
        if not grant_type:
            return TokenRefusal("invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            return TokenRefusal("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        if not client_id:
            return TokenRefusal("invalid_client", "client_id is missing", 401 if basic else 400)
        if not secrets.compare_digest(client_id.encode(), self.client_id.encode()) or not secrets.compare_digest(
            (client_secret or "").encode(), self.client_secret.encode()
        ):
            return TokenRefusal("invalid_client", "unknown client or wrong secret", 401 if basic else 400)
        requested = (scope or SCOPE).split()
        if not requested or any(s != SCOPE for s in requested):
            return TokenRefusal("invalid_scope", f"the client may only request the scope {SCOPE!r}")
        token = "ims_" + secrets.token_urlsafe(32)
        with self._lock:
            self._expiry[token] = self._clock.now() + self.lifetime_s
            self.issued_count += 1
        return TokenGrant(access_token=token, expires_in=int(self.lifetime_s), scope=SCOPE)

    def is_valid(self, token: str) -> bool:
        if self.static_token is not None and secrets.compare_digest(token.encode(), self.static_token.encode()):
            return True
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self._clock.now() < expiry

    def issue(self) -> str:
        """A fresh token for the configured client, as if fetched from the token endpoint."""
        result = self.grant(
            grant_type="client_credentials",
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=SCOPE,
            basic=False,
        )
        assert isinstance(result, TokenGrant)
        return result.access_token

    def expire_all(self) -> int:
        """End every issued token now (the static token stays valid); returns how many."""
        now = self._clock.now()
        with self._lock:
            live = [t for t, e in self._expiry.items() if e > now]
            for token in live:
                self._expiry[token] = now
            return len(live)
