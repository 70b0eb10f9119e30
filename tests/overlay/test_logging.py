"""One log line per request and per retry, and no token or signature in any log line, message
or repr."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from itwin_mesh_export import ClientCredentials, Export, ResponseValidationError, RetryPolicy
from itwin_mesh_export._http import connection_error
from itwin_mesh_export._logging import LOGGER_NAME, logger, setup_logging_from_env
from itwin_mesh_export._redact import redact_text, redact_url
from itwin_mesh_export._transport import RetryTransport
from tests.overlay.conftest import (
    API,
    SIGNATURE,
    SIGNED_HREF,
    TOKEN,
    FakeClock,
    Script,
    export_json,
    page_json,
    respond,
)

pytestmark = pytest.mark.anyio

SECRET = "client-secret-value-9f8e7d"


async def test_one_line_per_attempt_and_one_per_retry(api_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    script = Script(
        respond(503, None, headers={"x-correlation-id": "corr-1"}),
        respond(200, page_json([export_json()]), headers={"x-correlation-id": "corr-2"}),
    )
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        await api_factory(script).collect("m1", page_size=5)
    records = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert [r.levelname for r in records] == ["DEBUG", "INFO", "DEBUG"]
    first, retry, second = (r.getMessage() for r in records)
    url = f"{API}/?iModelId=m1&$top=5"
    assert first.startswith(f"GET {url} -> 503 (attempt 1, ") and first.endswith(" ms, request id corr-1)")
    assert retry == f"retrying GET {url} in 0.50 s after 503 (attempt 2 of 3)"
    assert second.startswith(f"GET {url} -> 200 (attempt 2, ")
    assert records[0].status_code == 503 and records[2].attempt == 2  # type: ignore[attr-defined]
    assert isinstance(records[0].elapsed_s, float)  # type: ignore[attr-defined]


async def test_nothing_is_logged_below_the_enabled_level(api_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        await api_factory(Script(respond(500, None), respond(200, {"export": export_json()}))).call("get_export", "e1")
    assert [r for r in caplog.records if r.name == LOGGER_NAME] == []


async def test_no_token_or_secret_in_any_log_line(api_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    ims = Script(
        respond(200, {"access_token": TOKEN, "expires_in": 3600}),
        respond(200, {"access_token": TOKEN + "-2", "expires_in": 3600}),
    )
    provider = ClientCredentials("app", SECRET, transport=httpx.MockTransport(ims), clock=FakeClock())
    script = Script(
        respond(401, {"error": {"code": "InvalidToken", "message": "x"}}), respond(200, {"export": export_json()})
    )
    with caplog.at_level(logging.DEBUG):
        await api_factory(script, token=provider).call("get_export", "e1")
    assert ims.count == 2 and script.authorizations == [f"Bearer {TOKEN}", f"Bearer {TOKEN}-2"]
    assert len(caplog.records) >= 4
    assert TOKEN not in caplog.text and SECRET not in caplog.text and SIGNATURE not in caplog.text


def test_a_signed_storage_url_is_redacted_in_the_transport_log(caplog: pytest.LogCaptureFixture) -> None:
    # The downloader may reuse the retry transport for storage URLs: their signature stays out.
    script = Script(respond(503, None), respond(200, {}))
    transport = RetryTransport(httpx.MockTransport(script), RetryPolicy(random=lambda: 0.0), sleep=lambda s: None)
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME), httpx.Client(transport=transport) as client:
        client.get(SIGNED_HREF)
    assert len(caplog.records) == 3
    assert SIGNATURE not in caplog.text
    assert "sig=REDACTED" in caplog.text and "sv=REDACTED" in caplog.text


def test_export_reprs_hide_the_signature() -> None:
    export = Export.from_dict(export_json())
    assert SIGNATURE not in repr(export) and SIGNATURE not in str(export)
    assert "sig=REDACTED" in repr(export)
    assert export.field_links.mesh.href == SIGNED_HREF  # type: ignore[union-attr]  # the value itself is intact
    assert export.to_dict()["_links"]["mesh"]["href"] == SIGNED_HREF


def test_connection_error_messages_redact_the_url() -> None:
    request = httpx.Request("GET", SIGNED_HREF)
    error = connection_error(httpx.ConnectError(f"failed to reach {SIGNED_HREF}"), request)
    assert SIGNATURE not in str(error) + repr(error) + str(error.url)
    timeout = connection_error(httpx.ReadTimeout(f"timed out: {request.url.query.decode()}"), request)
    assert SIGNATURE not in str(timeout)


def test_redact_text_redacts_every_url_in_a_text() -> None:
    text = f"see {SIGNED_HREF} and 'https://x.example/a?token={TOKEN}'"
    assert TOKEN not in redact_text(text) and SIGNATURE not in redact_text(text)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://x.example/a?{SIGNATURE}", "https://x.example/a?REDACTED"),  # a bare token as the whole query
        (
            f"https://x.example/a?iModelId=m1&{SIGNATURE}&sig={SIGNATURE}",
            "https://x.example/a?iModelId=m1&REDACTED&sig=REDACTED",
        ),
        ("https://x.example/a?$top=5&&$skip=", "https://x.example/a?$top=5&$skip="),
    ],
)
def test_redact_url_hides_every_query_part_outside_the_allowlist(url: str, shown: str) -> None:
    assert redact_url(url) == shown


async def test_a_signed_next_link_stays_out_of_the_error(api_factory: Any) -> None:
    script = Script(respond(200, page_json([export_json()], next_href=f"{API}/?$top=1&sig={SIGNATURE}")))
    with pytest.raises(ResponseValidationError) as caught:
        await api_factory(script).collect()
    assert SIGNATURE not in str(caught.value) and "sig=REDACTED" in str(caught.value)


def test_the_environment_switch_adds_one_handler() -> None:
    handlers, level = list(logger.handlers), logger.level
    try:
        setup_logging_from_env({"ITWIN_MESH_EXPORT_LOG": "nonsense"})
        assert logger.handlers == handlers
        setup_logging_from_env({"ITWIN_MESH_EXPORT_LOG": "debug"})
        setup_logging_from_env({"ITWIN_MESH_EXPORT_LOG": "debug"})
        added = [h for h in logger.handlers if h not in handlers]
        assert len(added) == 1 and logger.level == logging.DEBUG
    finally:
        for handler in [h for h in logger.handlers if h not in handlers]:
            logger.removeHandler(handler)
        logger.setLevel(level)
        import itwin_mesh_export._logging as module

        module._configured_from_env = False
