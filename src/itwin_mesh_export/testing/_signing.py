"""Signed storage URLs: an Azure-SAS-like container signature, and a CloudFront-like CDN one.

A Complete export's `_links.mesh.href` is a folder URL whose query string is a signature that
expires. The blob form mimics an Azure container SAS (`sv`, `st`, `se`, `sr=c`, `sp=rl`, `sig`:
an HMAC-SHA256 of the permissions, times and resource); the CDN form (`cdn=1`) mimics a
CloudFront signed URL (`Expires`, `Key-Pair-Id`, `Signature`). Both are scoped to one export's
folder, so a file URL is valid exactly when it is `{folder}/{path}?{the same query}`. The
signature check reads decoded query values, so a client may re-encode the query losslessly.
The errors name what Azure and CloudFront name (missing field, mismatch, expiry).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import urlencode

__all__ = ["SignatureProblem", "Signer"]

SAS_VERSION = "2021-08-06"
SAS_PERMISSIONS = "rl"
CDN_KEY_PAIR_ID = "K2LOCALMESHEXPORT"
CDN_PREFIX = "mesh-export"
_START_SKEW_S = 300.0


@dataclass(frozen=True)
class SignatureProblem:
    """Why a signature was refused: an error code and the detail the storage service gives."""

    code: str
    detail: str


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> float | None:
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp()


def http_date(epoch_s: float) -> str:
    """An IMF-fixdate (`Thu, 22 Aug 2024 03:18:43 GMT`) of a time of the service clock."""
    return formatdate(epoch_s, usegmt=True)


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values and len(values) == 1 else None


class Signer:
    """Signs and checks the two URL forms with one secret key."""

    def __init__(self, key: bytes, container: str) -> None:
        self._key = key
        self.container = container

    def _mac(self, message: str) -> bytes:
        return hmac.new(self._key, message.encode(), hashlib.sha256).digest()

    # ---- Azure-like container SAS ----

    def _sas_string_to_sign(self, export_id: str, sp: str, st: str, se: str, sv: str, sr: str) -> str:
        return "\n".join([sp, st, se, f"/blob/local/{self.container}/{export_id}", sv, sr])

    def blob_query(self, export_id: str, *, now_s: float, expiry_s: float) -> str:
        st = _iso(min(now_s - _START_SKEW_S, expiry_s - 1))
        se = _iso(expiry_s)
        sig = base64.b64encode(
            self._mac(self._sas_string_to_sign(export_id, SAS_PERMISSIONS, st, se, SAS_VERSION, "c"))
        ).decode()
        return urlencode({"sv": SAS_VERSION, "st": st, "se": se, "sr": "c", "sp": SAS_PERMISSIONS, "sig": sig})

    def check_blob(self, export_id: str, params: Mapping[str, list[str]], now_s: float) -> SignatureProblem | None:
        """None when the query is a valid, unexpired SAS for `export_id`'s folder."""
        fields = {name: _single(params, name) for name in ("sv", "st", "se", "sr", "sp", "sig")}
        for name in ("sig", "se", "sp", "sv", "sr"):
            if not fields[name]:
                return SignatureProblem("AuthenticationFailed", f"{name} is mandatory. Cannot be empty")
        sv, st, se, sr, sp, sig = (fields[n] or "" for n in ("sv", "st", "se", "sr", "sp", "sig"))
        expected = self._sas_string_to_sign(export_id, sp, st, se, sv, sr)
        try:
            given = base64.b64decode(sig, validate=True)
        except ValueError:
            given = b""
        if not hmac.compare_digest(given, self._mac(expected)):
            shown = expected.replace("\n", "\\n")
            return SignatureProblem("AuthenticationFailed", f"Signature did not match. String to sign used was {shown}")
        expiry = _parse_iso(se)
        start = _parse_iso(st) if st else None
        if expiry is None or (st and start is None):
            return SignatureProblem("AuthenticationFailed", "Signature fields not well formed.")
        if now_s >= expiry:
            return self.blob_expired(expiry, now_s)
        if start is not None and now_s < start:
            return SignatureProblem(
                "AuthenticationFailed",
                f"Signed start time [{http_date(start)}] must be before current time [{http_date(now_s)}]",
            )
        # `sp` is signed, and only SAS_PERMISSIONS ("rl") is ever signed: no permission check is needed.
        return None

    @staticmethod
    def blob_expired(expiry_s: float, now_s: float) -> SignatureProblem:
        """Azure's refusal of a SAS whose expiry `expiry_s` is not after `now_s`."""
        return SignatureProblem(
            "AuthenticationFailed",
            f"Signed expiry time [{http_date(expiry_s)}] must be after current time [{http_date(now_s)}]",
        )

    # ---- CloudFront-like signed URL ----

    @staticmethod
    def _cdn_b64(data: bytes) -> str:
        # CloudFront's URL-safe base64: '+' -> '-', '=' -> '_', '/' -> '~'.
        return base64.b64encode(data).decode().translate(str.maketrans("+=/", "-_~"))

    def _cdn_policy(self, export_id: str, expires: str) -> str:
        return f"/{CDN_PREFIX}/{export_id}/*\n{expires}"

    def cdn_query(self, export_id: str, *, expiry_s: float) -> str:
        expires = str(int(expiry_s))
        signature = self._cdn_b64(self._mac(self._cdn_policy(export_id, expires)))
        return urlencode({"Expires": expires, "Key-Pair-Id": CDN_KEY_PAIR_ID, "Signature": signature})

    def check_cdn(self, export_id: str, params: Mapping[str, list[str]], now_s: float) -> SignatureProblem | None:
        key_pair = _single(params, "Key-Pair-Id")
        expires = _single(params, "Expires")
        signature = _single(params, "Signature")
        if not key_pair:
            return SignatureProblem("MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
        if not expires or not signature:
            return SignatureProblem("AccessDenied", "Access denied")
        if key_pair != CDN_KEY_PAIR_ID or not hmac.compare_digest(
            signature, self._cdn_b64(self._mac(self._cdn_policy(export_id, expires)))
        ):
            return SignatureProblem("AccessDenied", "Access denied")
        if not expires.isdigit() or now_s >= int(expires):
            return SignatureProblem("AccessDenied", "Access denied")
        return None
