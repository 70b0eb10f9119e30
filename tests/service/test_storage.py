"""The storage origins: signatures, the refused bearer token, Range / ETag / If-Range, HEAD."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from itwin_mesh_export.testing import LocalMeshExportService, ManualClock, TilesetSpec, make_seed_exports

SEED = make_seed_exports(1, imodel_id="storage-imodel")[0].export_id


@pytest.fixture(scope="module")
def store_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def store(store_clock: ManualClock) -> Iterator[LocalMeshExportService]:
    with LocalMeshExportService(
        clock=store_clock,
        seed_exports=make_seed_exports(1, imodel_id="storage-imodel", tileset=TilesetSpec(tile_bytes=64 * 1024)),
        link_lifetime_s=3600,
        not_started_s=1,
        in_progress_s=1,
        chunk_size=4096,
    ) as service:
        yield service


@pytest.fixture(autouse=True)
def _clean(store: LocalMeshExportService) -> Iterator[None]:
    yield
    store.faults.clear()
    store.clear_requests()


def _file_url(folder_href: str, path: str) -> str:
    base, _, query = folder_href.partition("?")
    return f"{base}/{path}?{query}"


def _azure_error(response: httpx.Response) -> tuple[str, str]:
    root = ET.fromstring(response.content)
    detail = root.findtext("AuthenticationErrorDetail") or ""
    return root.findtext("Code") or "", detail


def test_the_href_from_the_api_reaches_the_files_on_another_origin(store: LocalMeshExportService) -> None:
    body = httpx.get(f"{store.api_url}/{SEED}", headers={"Authorization": f"Bearer {store.token}"}).json()
    href = body["export"]["_links"]["mesh"]["href"]
    assert urlsplit(href).netloc != urlsplit(store.api_url).netloc
    query = dict(parse_qsl(urlsplit(href).query))
    assert set(query) == {"sv", "st", "se", "sr", "sp", "sig"}
    assert (query["sr"], query["sp"]) == ("c", "rl")
    tileset = httpx.get(_file_url(href, "tileset.json"))
    assert tileset.status_code == 200
    assert tileset.headers["content-type"] == "application/json"
    assert tileset.json()["asset"]["version"] == "1.1"
    assert tileset.content == store.file_bytes(SEED, "tileset.json")
    for info in store.export_files(SEED):
        response = httpx.get(_file_url(href, info.path))
        assert response.status_code == 200, info.path
        assert int(response.headers["content-length"]) == info.size == len(response.content)
        assert response.headers["content-type"] == info.media_type
    assert store.storage_authorization_headers == []


def test_a_missing_signature_gets_403_authentication_failed(store: LocalMeshExportService) -> None:
    base = store.tileset_url(SEED).partition("?")[0]
    response = httpx.get(base)
    assert response.status_code == 403
    assert response.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert response.headers["content-type"] == "application/xml"
    assert _azure_error(response) == ("AuthenticationFailed", "sig is mandatory. Cannot be empty")


@pytest.mark.parametrize("field", ["sig", "se", "sp"])
def test_a_tampered_signature_gets_403(store: LocalMeshExportService, field: str) -> None:
    base, _, query = store.tileset_url(SEED).partition("?")
    params = dict(parse_qsl(query))
    params[field] = {"sig": "AAAA" + params["sig"][4:], "se": "2099-01-01T00:00:00Z", "sp": "rwdl"}[field]
    response = httpx.get(f"{base}?{urlencode(params)}")
    assert response.status_code == 403
    code, detail = _azure_error(response)
    assert code == "AuthenticationFailed"
    assert detail.startswith("Signature did not match")


def test_a_signature_of_another_export_does_not_open_this_one(store: LocalMeshExportService) -> None:
    other = store.add_export(imodel_id="storage-imodel", index=99)
    base = store.tileset_url(SEED).partition("?")[0]
    query = store.tileset_url(other).partition("?")[2]
    assert httpx.get(f"{base}?{query}").status_code == 403


def test_an_expired_signature_gets_403_with_the_azure_detail(
    store: LocalMeshExportService, store_clock: ManualClock
) -> None:
    url = store.tileset_url(SEED)
    assert httpx.get(url).status_code == 200
    store_clock.advance(3601)
    response = httpx.get(url)
    assert response.status_code == 403
    code, detail = _azure_error(response)
    assert code == "AuthenticationFailed"
    assert detail.startswith("Signed expiry time [") and "must be after current time" in detail
    assert httpx.get(store.tileset_url(SEED)).status_code == 200  # a fresh link works again


def test_the_api_token_is_not_accepted_and_is_recorded(store: LocalMeshExportService) -> None:
    url = store.tileset_url(SEED)
    with_token = httpx.get(url, headers={"Authorization": f"Bearer {store.token}"})
    assert with_token.status_code == 403
    assert with_token.headers["x-ms-error-code"] == "AuthenticationFailed"
    without_sas = httpx.get(url.partition("?")[0], headers={"Authorization": f"Bearer {store.token}"})
    assert without_sas.status_code == 403
    cdn = httpx.get(store.tileset_url(SEED, cdn=True), headers={"Authorization": "Bearer x"})
    assert cdn.status_code == 403
    assert store.storage_authorization_headers == [f"Bearer {store.token}", f"Bearer {store.token}", "Bearer x"]
    assert httpx.get(store.admin_url + "/storage/authorization-headers").json()["authorization"] == [
        f"Bearer {store.token}",
        f"Bearer {store.token}",
        "Bearer x",
    ]


def test_storage_can_be_told_to_ignore_authorization_headers() -> None:
    with LocalMeshExportService(seed_exports=make_seed_exports(1), storage_rejects_authorization=False) as svc:
        seed = make_seed_exports(1)[0].export_id
        response = httpx.get(svc.tileset_url(seed), headers={"Authorization": "Bearer anything"})
        assert response.status_code == 200
        assert svc.storage_authorization_headers == ["Bearer anything"]


def test_the_wrong_container_is_refused(store: LocalMeshExportService) -> None:
    url = store.tileset_url(SEED).replace("/exports/", "/other/")
    assert httpx.get(url).status_code == 403


def test_cdn_links_have_their_own_signature(store: LocalMeshExportService, store_clock: ManualClock) -> None:
    url = store.tileset_url(SEED, cdn=True)
    assert url.startswith(store.cdn_origin + "/mesh-export/" + SEED + "/tileset.json?")
    assert set(dict(parse_qsl(urlsplit(url).query))) == {"Expires", "Key-Pair-Id", "Signature"}
    ok = httpx.get(url)
    assert ok.status_code == 200
    assert ok.content == store.file_bytes(SEED, "tileset.json")
    missing = httpx.get(url.partition("?")[0])
    assert missing.status_code == 403
    assert ET.fromstring(missing.content).findtext("Code") == "MissingKey"
    params = dict(parse_qsl(urlsplit(url).query))
    params["Signature"] = "x" + params["Signature"][1:]
    wrong = httpx.get(url.partition("?")[0] + "?" + urlencode(params))
    assert wrong.status_code == 403
    assert ET.fromstring(wrong.content).findtext("Code") == "AccessDenied"
    blob_query = store.tileset_url(SEED).partition("?")[2]
    assert httpx.get(url.partition("?")[0] + "?" + blob_query).status_code == 403
    store_clock.advance(3601)
    assert httpx.get(url).status_code == 403


def test_files_of_unknown_or_unfinished_exports_are_not_found(store: LocalMeshExportService) -> None:
    response = httpx.get(_file_url(store.mesh_url(SEED), "no/such/file.glb"))
    assert response.status_code == 404
    assert response.headers["x-ms-error-code"] == "BlobNotFound"
    export = httpx.post(
        store.api_url + "/", json={"iModelId": "storage-imodel"}, headers={"Authorization": f"Bearer {store.token}"}
    ).json()["export"]
    early = httpx.get(_file_url(store.mesh_url(export["id"]), "tileset.json"))
    assert early.status_code == 404  # NotStarted: nothing to serve yet


def test_a_deleted_export_has_no_files(store: LocalMeshExportService) -> None:
    export_id = store.add_export(imodel_id="storage-imodel", index=50)
    url = store.tileset_url(export_id)
    assert httpx.get(url).status_code == 200
    assert (
        httpx.delete(f"{store.api_url}/{export_id}", headers={"Authorization": f"Bearer {store.token}"}).status_code
        == 204
    )
    assert httpx.get(url).status_code == 404


# ---- Range, ETag, If-Range, HEAD ----


@pytest.fixture
def glb(store: LocalMeshExportService) -> dict[str, Any]:
    path = "tiles/1/1.glb"
    return {
        "url": _file_url(store.mesh_url(SEED), path),
        "bytes": store.file_bytes(SEED, path),
        "etag": store.file_etag(SEED, path),
    }


def test_full_get_has_etag_length_and_accept_ranges(glb: dict[str, Any]) -> None:
    response = httpx.get(glb["url"])
    assert response.status_code == 200
    assert response.content == glb["bytes"]
    assert len(glb["bytes"]) == 64 * 1024
    assert response.headers["etag"] == glb["etag"]
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "model/gltf-binary"
    assert response.headers["last-modified"].endswith("GMT")


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 100),
        ("bytes=1000-", 1000, 65536),
        ("bytes=-10", 65526, 65536),
        ("bytes=65000-70000", 65000, 65536),
    ],
)
def test_a_range_gets_206_with_content_range(glb: dict[str, Any], header: str, start: int, end: int) -> None:
    response = httpx.get(glb["url"], headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end - 1}/65536"
    assert int(response.headers["content-length"]) == end - start
    assert response.content == glb["bytes"][start:end]


def test_x_ms_range_works_like_range(glb: dict[str, Any]) -> None:
    response = httpx.get(glb["url"], headers={"x-ms-range": "bytes=10-19"})
    assert response.status_code == 206
    assert response.content == glb["bytes"][10:20]


@pytest.mark.parametrize("header", ["bytes=70000-", "bytes=-0", "bytes=65536-65600"])
def test_an_unsatisfiable_range_gets_416(glb: dict[str, Any], header: str) -> None:
    response = httpx.get(glb["url"], headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */65536"
    assert response.headers["x-ms-error-code"] == "InvalidRange"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=x-y"])
def test_several_or_malformed_ranges_get_the_whole_file(glb: dict[str, Any], header: str) -> None:
    response = httpx.get(glb["url"], headers={"Range": header})
    assert response.status_code == 200
    assert response.content == glb["bytes"]


def test_if_range_honours_the_range_only_for_the_current_etag(glb: dict[str, Any]) -> None:
    matching = httpx.get(glb["url"], headers={"Range": "bytes=100-", "If-Range": glb["etag"]})
    assert matching.status_code == 206
    assert matching.content == glb["bytes"][100:]
    stale = httpx.get(glb["url"], headers={"Range": "bytes=100-", "If-Range": '"0x8D0000000000000"'})
    assert stale.status_code == 200
    assert stale.content == glb["bytes"]
    date = matching.headers["last-modified"]
    by_date = httpx.get(glb["url"], headers={"Range": "bytes=100-", "If-Range": date})
    assert by_date.status_code == 206


def test_if_none_match_and_if_match(glb: dict[str, Any]) -> None:
    assert httpx.get(glb["url"], headers={"If-None-Match": glb["etag"]}).status_code == 304
    assert httpx.get(glb["url"], headers={"If-None-Match": '"other"'}).status_code == 200
    assert httpx.get(glb["url"], headers={"If-Match": glb["etag"]}).status_code == 200
    refused = httpx.get(glb["url"], headers={"If-Match": '"other"'})
    assert refused.status_code == 412
    assert refused.headers["x-ms-error-code"] == "ConditionNotMet"


def test_head_has_the_headers_and_no_body(glb: dict[str, Any]) -> None:
    response = httpx.head(glb["url"])
    assert response.status_code == 200
    assert response.headers["content-length"] == "65536"
    assert response.headers["etag"] == glb["etag"]
    assert response.content == b""
    ranged = httpx.head(glb["url"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-length"] == "10"


def test_a_download_resumed_with_if_range_equals_the_whole_file(glb: dict[str, Any]) -> None:
    first = b""
    with httpx.stream("GET", glb["url"]) as response:
        etag = response.headers["etag"]
        for chunk in response.iter_bytes(1000):
            first += chunk
            if len(first) >= 20_000:
                break
    rest = httpx.get(glb["url"], headers={"Range": f"bytes={len(first)}-", "If-Range": etag})
    assert rest.status_code == 206
    assert first + rest.content == glb["bytes"]


def test_other_methods_are_refused(glb: dict[str, Any]) -> None:
    response = httpx.put(glb["url"], content=b"x")
    assert response.status_code == 405
    assert response.headers["x-ms-error-code"] == "UnsupportedHttpVerb"


def test_the_same_configuration_serves_the_same_bytes_and_etags() -> None:
    spec = TilesetSpec(tile_count=5, tile_bytes=20_000, large_tile_bytes=3 * 1024 * 1024 + 5)
    seeds = make_seed_exports(2, tileset=spec)
    contents = []
    for _ in range(2):
        with LocalMeshExportService(seed_exports=seeds) as svc:
            files = {}
            for seed in seeds:
                for info in svc.export_files(seed.export_id):
                    response = httpx.get(_file_url(svc.mesh_url(seed.export_id), info.path))
                    files[(seed.export_id, info.path)] = (response.content, response.headers["etag"])
            contents.append(files)
    assert contents[0] == contents[1]
    big = [v[0] for k, v in contents[0].items() if k[1] == "tiles/0/0.glb"]
    assert len(big[0]) == 3 * 1024 * 1024 + 8  # rounded up to a multiple of 4
    assert big[0] != big[1]  # two exports do not share bytes
    blocks = [big[0][i : i + (1 << 20)] for i in range(0, 3 << 20, 1 << 20)]
    assert len(set(blocks)) == len(blocks)  # no block repeats another
