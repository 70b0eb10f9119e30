"""Auth end to end: a rejected token, and the client-credentials flow against the service's token
endpoint, with tokens that expire in the middle of a run."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from itwin_mesh_export import (
    APIStatusError,
    AuthenticationError,
    CallableToken,
    ClientCredentials,
    ErrorDetail,
    ExportStatus,
    StaticToken,
)
from itwin_mesh_export.testing import ManualClock, make_seed_exports
from tests.e2e.conftest import IMODEL, api_requests

pytestmark = pytest.mark.anyio


def token_requests(svc: Any) -> list[int]:
    return [r.status for r in svc.requests if r.path == "/connect/token"]


async def test_a_rejected_token_is_replayed_once_with_a_fresh_one_then_raises(service: Any, make_api: Any) -> None:
    svc = service(seed_exports=make_seed_exports(1))
    counter = itertools.count(1)
    asked: list[str] = []

    def bad_token() -> str:
        asked.append(f"not-a-token-{next(counter)}")
        return asked[-1]

    api = make_api(svc, token=CallableToken(bad_token))
    with pytest.raises(AuthenticationError) as raised:
        await api.call("get_export", make_seed_exports(1)[0].export_id)
    error = raised.value
    assert (error.status_code, error.code) == (401, "Unauthorized")
    assert error.details == [
        ErrorDetail("InvalidToken", "The access token is invalid or has expired.", "Authorization")
    ]
    assert asked == ["not-a-token-1", "not-a-token-2"]  # the replay asked for a fresh token
    assert [status for _, _, status in api_requests(svc)] == [401, 401]
    assert "not-a-token" not in str(error) + repr(error)


async def test_a_static_token_that_is_rejected_is_not_replayed(service: Any, make_api: Any) -> None:
    svc = service()
    with pytest.raises(AuthenticationError):
        await make_api(svc, token=StaticToken("expired-static-token")).collect()
    assert [status for _, _, status in api_requests(svc)] == [401]


def credentials(svc: Any, clock: ManualClock) -> ClientCredentials:
    return ClientCredentials(svc.client_id, svc.client_secret, token_url=svc.token_url, clock=clock.now)


async def test_client_credentials_survive_tokens_revoked_mid_run(
    service: Any, make_api: Any, clock: ManualClock
) -> None:
    svc = service(seed_exports=make_seed_exports(3), static_token=None)
    api = make_api(svc, token=credentials(svc, clock))
    assert len(await api.collect()) == 3
    started = await api.call("start_export", IMODEL)
    assert svc.tokens_issued == 1

    assert svc.expire_tokens() == 1  # every token the service issued ends now, unknown to the client
    again = await api.call("get_export", started.id)  # 401, a fresh token, the same request again
    assert again.id == started.id
    assert svc.tokens_issued == 2
    assert [status for _, _, status in api_requests(svc)] == [200, 202, 401, 200]
    assert len(await api.collect()) == 4  # the fresh token is cached: no third token
    assert svc.tokens_issued == 2 and token_requests(svc) == [200, 200]


async def test_client_credentials_refresh_before_expiry_during_a_long_wait(
    service: Any, make_api: Any, clock: ManualClock
) -> None:
    # Tokens live 10 minutes, the export takes an hour: the wait outlives several tokens, and
    # each is replaced before it expires (the client shares the service's clock), so no request
    # is ever refused.
    svc = service(static_token=None, token_lifetime_s=600, not_started_s=60, in_progress_s=3600)
    api = make_api(svc, token=credentials(svc, clock))
    started = await api.call("start_export", IMODEL)
    done = await api.call("wait_for_export", started.id, timeout_s=7200, poll_interval_s=30)
    assert done.status is ExportStatus.COMPLETE
    assert 401 not in [status for _, _, status in api_requests(svc)]
    # One token per 5 minutes of use or so (refreshed 5 minutes before the end of its 10).
    assert 3660 / 600 <= svc.tokens_issued <= 3660 / 300 + 2
    assert set(token_requests(svc)) == {200}


async def test_wrong_client_credentials_fail_before_any_api_request(
    service: Any, make_api: Any, clock: ManualClock
) -> None:
    svc = service(static_token=None)
    wrong = ClientCredentials(svc.client_id, "not-the-secret", token_url=svc.token_url, clock=clock.now)
    with pytest.raises(APIStatusError) as raised:
        await make_api(svc, token=wrong).collect()
    assert raised.value.code == "invalid_client"
    assert "not-the-secret" not in str(raised.value) + repr(raised.value)
    assert api_requests(svc) == [] and svc.tokens_issued == 0
