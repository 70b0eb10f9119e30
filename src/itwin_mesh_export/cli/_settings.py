"""Who the command line is and where it goes: the global options, and the client they make.

Credentials, first match wins: `--token`; `--client-id` / `--client-secret` (each falling back
on its environment variable); then the environment the library reads (`ITWIN_ACCESS_TOKEN`, else
`ITWIN_CLIENT_ID` + `ITWIN_CLIENT_SECRET`, with `ITWIN_TOKEN_URL`). Environment variables are the
better place for secrets (options show in the process list). Secrets are kept here only to build
the client and to scrub them from any message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from .._auth import (
    DEFAULT_TOKEN_URL,
    ENV_ACCESS_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_TOKEN_URL,
    ClientCredentials,
    StaticToken,
    TokenProvider,
)
from .._client import MeshExportClient
from .._version import __version__
from ._errors import EXIT_USAGE, CLIError

__all__ = ["Settings"]

USER_AGENT = f"itwin-mesh-export-cli/{__version__}"


@dataclass
class Settings:
    base_url: str | None = None
    token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    debug: bool = False
    quiet: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def secrets(self) -> list[str]:
        """Every secret value in reach, to hide from messages."""
        values = [self.token, self.client_secret]
        values += [self.environ.get(ENV_ACCESS_TOKEN), self.environ.get(ENV_CLIENT_SECRET)]
        return [v.strip() for v in values if v and len(v.strip()) >= 4]

    def provider(self) -> TokenProvider:
        """The token provider the options and the environment name (CLIError when none)."""
        env = self.environ
        if self.token is not None:
            return StaticToken(self.token)
        from_options = self.client_id is not None or self.client_secret is not None
        env_token = env.get(ENV_ACCESS_TOKEN, "").strip()
        if env_token and not from_options:
            return StaticToken(env_token)
        client_id = (self.client_id or env.get(ENV_CLIENT_ID, "")).strip()
        secret = (self.client_secret or env.get(ENV_CLIENT_SECRET, "")).strip()
        if not client_id and not secret:
            raise CLIError(
                EXIT_USAGE,
                f"no credentials: set {ENV_ACCESS_TOKEN}, or {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} "
                "(or pass --token, or --client-id and --client-secret)",
            )
        if not client_id or not secret:
            missing = (
                f"{ENV_CLIENT_ID} (or --client-id)" if not client_id else f"{ENV_CLIENT_SECRET} (or --client-secret)"
            )
            raise CLIError(EXIT_USAGE, f"client credentials need a client id and a secret: {missing} is not set")
        token_url = self.token_url or env.get(ENV_TOKEN_URL, "").strip() or DEFAULT_TOKEN_URL
        return ClientCredentials(client_id, secret, token_url=token_url)

    @contextmanager
    def client(self) -> Iterator[MeshExportClient]:
        """A client for one command; closes it and the token provider's connections after."""
        provider = self.provider()
        try:
            with MeshExportClient(provider, base_url=self.base_url, headers={"User-Agent": USER_AGENT}) as client:
                yield client
        finally:
            close = getattr(provider, "close", None)
            if callable(close):
                close()
