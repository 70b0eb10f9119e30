"""Credentials on redirects, over real sockets. (Logs, messages and reprs are checked for the token
and every signature value in every cell of the fault matrix, with DEBUG logging on; the storage's
Authorization log in every download cell, the kill/restart test and this file.)

- The client follows no redirect: a 307 from the API or the token endpoint is an APIStatusError,
  and the host it points to receives nothing.
- The bearer-token seam itself only puts the token on requests to the API's origin: even an httpx
  client that does follow redirects (with the overlay's auth) arrives at another host, or at the
  same server under another host name, without an Authorization header.
- The storage client follows no redirect either (a StorageError), so a signed request is never
  replayed elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from itwin_mesh_export import (
    APIStatusError,
    ClientCredentials,
    MeshExportClient,
    StaticToken,
    StorageError,
    download_tileset,
)
from itwin_mesh_export._auth import BearerTokenAuth
from itwin_mesh_export.testing import Fault, LocalMeshExportService, make_seed_exports
from tests.reliability.harness import LogCapture, find_secrets, texts_of_exception

SEEDS = make_seed_exports(1)
EXPORT_ID = SEEDS[0].export_id


@pytest.fixture(scope="module")
def svc() -> Iterator[LocalMeshExportService]:
    with LocalMeshExportService(seed_exports=SEEDS) as service:
        yield service


@pytest.fixture(autouse=True)
def fresh(svc: LocalMeshExportService) -> None:
    svc.faults.clear()
    svc.clear_requests()


def test_the_client_does_not_follow_a_redirect_from_the_api(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.redirect("get-export", f"{svc.storage_origin}/exports/{EXPORT_ID}/tileset.json"))
    client = MeshExportClient(svc.token, base_url=svc.api_url)
    with LogCapture() as logs, client, pytest.raises(APIStatusError) as caught:
        client.get_export(EXPORT_ID)
    assert caught.value.status_code == 307
    assert [r.origin for r in svc.requests] == ["api"]  # the other host received nothing
    assert find_secrets(logs.texts() + texts_of_exception(caught.value), [svc.token]) == []


def test_the_token_endpoint_redirect_is_not_followed_with_the_secret(svc: LocalMeshExportService) -> None:
    svc.faults.add(Fault.redirect("token", f"{svc.storage_origin}/exports/steal"))
    credentials = ClientCredentials(svc.client_id, svc.client_secret, token_url=svc.token_url)
    with MeshExportClient(credentials, base_url=svc.api_url) as client, pytest.raises(APIStatusError) as caught:
        client.get_export(EXPORT_ID)
    credentials.close()
    assert caught.value.status_code == 307
    assert [(r.origin, r.path) for r in svc.requests] == [("api", "/connect/token")]
    assert svc.client_secret not in str(caught.value) + repr(caught.value)


@pytest.mark.parametrize("other", ["another origin", "another host name for the same server"])
def test_a_client_that_follows_redirects_still_sends_the_token_only_to_the_api(
    svc: LocalMeshExportService, other: str
) -> None:
    if other == "another origin":
        location = f"{svc.storage_origin}/exports/{EXPORT_ID}/tileset.json"
    else:
        location = f"http://localhost:{svc.port}/mesh-export/{EXPORT_ID}"
    svc.faults.add(Fault.redirect("get-export", location))
    auth = BearerTokenAuth(StaticToken(svc.token), svc.api_url)
    with httpx.Client(auth=auth, follow_redirects=True) as follower:
        response = follower.get(f"{svc.api_url}/{EXPORT_ID}")
    assert len(svc.requests) == 2  # the redirect was followed: the check below means something
    if other == "another origin":
        assert svc.requests[1].origin == "storage" and svc.storage_authorization_headers == []
        assert response.status_code == 403  # no signature, no token: refused
    else:
        assert svc.requests[1].origin == "api" and response.status_code == 401  # arrived without the token
        assert response.json()["error"]["code"] == "HeaderNotFound"


def test_the_storage_client_does_not_follow_a_redirect(svc: LocalMeshExportService, tmp_path: Path) -> None:
    svc.faults.add(Fault.redirect("storage", f"{svc.cdn_origin}/mesh-export/{EXPORT_ID}/tileset.json"))
    href = svc.mesh_url(EXPORT_ID)
    with LogCapture() as logs, pytest.raises(StorageError) as caught:
        download_tileset(href, tmp_path, sleep=lambda _: None)
    assert caught.value.status_code == 307 and "redirects are not followed" in str(caught.value)
    assert [r.origin for r in svc.requests] == ["storage"]  # the CDN origin received nothing
    signature = href.split("sig=")[1].split("&")[0]
    assert find_secrets(logs.texts() + texts_of_exception(caught.value), [signature]) == []
    assert svc.storage_authorization_headers == []
