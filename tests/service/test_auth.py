"""Bearer tokens on the API, and the IMS-like token endpoint with expiring tokens."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from itwin_mesh_export.testing import LocalMeshExportService, ManualClock

HEADER_NOT_FOUND = {
    "error": {"code": "HeaderNotFound", "message": "Header Authorization was not found in the request. Access denied."}
}


@pytest.fixture(scope="module")
def auth_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def ims(auth_clock: ManualClock) -> Iterator[LocalMeshExportService]:
    with LocalMeshExportService(clock=auth_clock, token_lifetime_s=600, static_token=None) as service:
        yield service


def _form(svc: LocalMeshExportService, **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": svc.client_id,
        "client_secret": svc.client_secret,
        "scope": "itwin-platform",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v != ""}


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("POST", "/"), ("GET", "/some-id"), ("DELETE", "/some-id")])
def test_every_operation_answers_401_header_not_found_without_a_token(
    ims: LocalMeshExportService, method: str, path: str
) -> None:
    response = httpx.request(method, ims.api_url + path, json={"iModelId": "x"} if method == "POST" else None)
    assert response.status_code == 401
    assert response.json() == HEADER_NOT_FOUND
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic Zm9vOmJhcg==", "Bearer", "Token abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_refused(
    ims: LocalMeshExportService, header: str
) -> None:
    response = httpx.get(ims.api_url + "/", headers={"Authorization": header})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "Unauthorized"
    assert error["details"][0]["code"] == "InvalidAuthorizationHeader"


def test_an_unknown_token_is_refused(ims: LocalMeshExportService) -> None:
    response = httpx.get(ims.api_url + "/", headers={"Authorization": "Bearer made-up"})
    assert response.status_code == 401
    assert response.json()["error"]["details"][0]["code"] == "InvalidToken"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_client_credentials_flow_and_expiry_by_the_clock(ims: LocalMeshExportService, auth_clock: ManualClock) -> None:
    granted = httpx.post(ims.token_url, data=_form(ims))
    assert granted.status_code == 200
    body = granted.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "itwin-platform"
    assert granted.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(ims.api_url + "/", headers=headers).status_code == 200
    auth_clock.advance(599)
    assert httpx.get(ims.api_url + "/", headers=headers).status_code == 200
    auth_clock.advance(1)
    expired = httpx.get(ims.api_url + "/", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["details"][0]["code"] == "InvalidToken"


def test_expire_tokens_ends_issued_tokens_at_once(ims: LocalMeshExportService) -> None:
    token = httpx.post(ims.token_url, data=_form(ims)).json()["access_token"]
    other = ims.issue_token()
    before = ims.tokens_issued
    assert ims.expire_tokens() >= 2
    for t in (token, other):
        assert httpx.get(ims.api_url + "/", headers={"Authorization": f"Bearer {t}"}).status_code == 401
    fresh = httpx.post(ims.token_url, data=_form(ims)).json()["access_token"]
    assert httpx.get(ims.api_url + "/", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert ims.tokens_issued == before + 1


def test_expire_tokens_over_the_admin_endpoint(ims: LocalMeshExportService) -> None:
    token = ims.issue_token()
    response = httpx.post(ims.admin_url + "/tokens/expire")
    assert response.status_code == 200
    assert response.json()["expired"] >= 1
    assert httpx.get(ims.api_url + "/", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_client_secret_basic_is_accepted(ims: LocalMeshExportService) -> None:
    basic = base64.b64encode(f"{ims.client_id}:{ims.client_secret}".encode()).decode()
    response = httpx.post(
        ims.token_url,
        data={"grant_type": "client_credentials", "scope": "itwin-platform"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 400, "invalid_client"),
        ({"client_id": "someone-else"}, 400, "invalid_client"),
        ({"client_id": ""}, 400, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"scope": "itwin-platform openid"}, 400, "invalid_scope"),
    ],
)
def test_token_endpoint_errors_have_the_oauth2_shape(
    ims: LocalMeshExportService, overrides: dict[str, str], status: int, error: str
) -> None:
    response = httpx.post(ims.token_url, data=_form(ims, **overrides))
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)


def test_wrong_basic_credentials_answer_401(ims: LocalMeshExportService) -> None:
    basic = base64.b64encode(f"{ims.client_id}:nope".encode()).decode()
    response = httpx.post(
        ims.token_url, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_token_endpoint_wants_a_form(ims: LocalMeshExportService) -> None:
    response = httpx.post(ims.token_url, json=_form(ims))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_static_token_never_expires() -> None:
    clock = ManualClock()
    with LocalMeshExportService(clock=clock, static_token="fixed-token", token_lifetime_s=1) as svc:
        assert svc.token == "fixed-token"
        clock.advance(10 * 365 * 86400)
        svc.expire_tokens()
        assert httpx.get(svc.api_url + "/", headers={"Authorization": "Bearer fixed-token"}).status_code == 200


def test_without_a_static_token_the_token_property_issues_one(ims: LocalMeshExportService) -> None:
    token = ims.token
    assert token.startswith("ims_")
    assert httpx.get(ims.api_url + "/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
