from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.detailed_error_response import DetailedErrorResponse
from ...models.error_response import ErrorResponse
from ...models.export_type import ExportType
from ...models.exports_order_by import ExportsOrderBy
from ...models.exports_page import ExportsPage
from ...models.prefer_return import PreferReturn
from ...types import UNSET, Response, Unset


def build_request(
    *,
    i_model_id: str | Unset = UNSET,
    changeset_id: str | Unset = UNSET,
    top: int | Unset = UNSET,
    skip: int | Unset = UNSET,
    order_by: ExportsOrderBy | Unset = UNSET,
    cdn: int | Unset = UNSET,
    tile_version: str | Unset = UNSET,
    export_type: ExportType | Unset = UNSET,
    i_twin_js: str | Unset = UNSET,
    prefer: PreferReturn | Unset = UNSET,
) -> dict[str, Any]:
    """The request, as keyword arguments for `httpx.Client.build_request`: method, URL relative to
    the API's base URL, query parameters, headers and body. Sends nothing."""
    headers: dict[str, Any] = {}
    if not isinstance(prefer, Unset):
        headers["Prefer"] = str(prefer)

    params: dict[str, Any] = {}

    params["iModelId"] = i_model_id

    params["changesetId"] = changeset_id

    params["$top"] = top

    params["$skip"] = skip

    json_order_by: str | Unset = UNSET
    if not isinstance(order_by, Unset):
        json_order_by = order_by.value

    params["$orderBy"] = json_order_by

    params["cdn"] = cdn

    params["tileVersion"] = tile_version

    json_export_type: str | Unset = UNSET
    if not isinstance(export_type, Unset):
        json_export_type = export_type.value

    params["exportType"] = json_export_type

    params["iTwinJS"] = i_twin_js

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def parse_response(
    response: httpx.Response, *, raise_on_unexpected_status: bool = False
) -> DetailedErrorResponse | ErrorResponse | ExportsPage | None:
    """The response's body as the spec's model for its status. None for a status the spec does not
    document, or errors.UnexpectedStatus when `raise_on_unexpected_status`."""
    if response.status_code == 200:
        response_200 = ExportsPage.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = DetailedErrorResponse.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())

        return response_429

    if raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DetailedErrorResponse | ErrorResponse | ExportsPage | None:
    return parse_response(response, raise_on_unexpected_status=client.raise_on_unexpected_status)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DetailedErrorResponse | ErrorResponse | ExportsPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    i_model_id: str | Unset = UNSET,
    changeset_id: str | Unset = UNSET,
    top: int | Unset = UNSET,
    skip: int | Unset = UNSET,
    order_by: ExportsOrderBy | Unset = UNSET,
    cdn: int | Unset = UNSET,
    tile_version: str | Unset = UNSET,
    export_type: ExportType | Unset = UNSET,
    i_twin_js: str | Unset = UNSET,
    prefer: PreferReturn | Unset = UNSET,
) -> Response[DetailedErrorResponse | ErrorResponse | ExportsPage]:
    """Get Exports

     Returns a list of the exports that the user can see and their statuses. 3D Tiles are generated
    automatically when an iModel changes, so this is the recommended way to find exports. With `Prefer:
    return=representation` each item is a full export whose `_links.mesh.href` is a URL, valid for one
    hour, to stream the resulting tiles from the blob container. Follow `_links.next` until it is absent
    to read every page.

    Args:
        i_model_id (str | Unset):
        changeset_id (str | Unset):
        top (int | Unset):
        skip (int | Unset):
        order_by (ExportsOrderBy | Unset): Order of the exports by last-modified date.
        cdn (int | Unset):
        tile_version (str | Unset):
        export_type (ExportType | Unset): Type of mesh exported.
        i_twin_js (str | Unset):
        prefer (PreferReturn | Unset): How much of each export a list returns.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DetailedErrorResponse | ErrorResponse | ExportsPage]
    """

    kwargs = build_request(
        i_model_id=i_model_id,
        changeset_id=changeset_id,
        top=top,
        skip=skip,
        order_by=order_by,
        cdn=cdn,
        tile_version=tile_version,
        export_type=export_type,
        i_twin_js=i_twin_js,
        prefer=prefer,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    i_model_id: str | Unset = UNSET,
    changeset_id: str | Unset = UNSET,
    top: int | Unset = UNSET,
    skip: int | Unset = UNSET,
    order_by: ExportsOrderBy | Unset = UNSET,
    cdn: int | Unset = UNSET,
    tile_version: str | Unset = UNSET,
    export_type: ExportType | Unset = UNSET,
    i_twin_js: str | Unset = UNSET,
    prefer: PreferReturn | Unset = UNSET,
) -> DetailedErrorResponse | ErrorResponse | ExportsPage | None:
    """Get Exports

     Returns a list of the exports that the user can see and their statuses. 3D Tiles are generated
    automatically when an iModel changes, so this is the recommended way to find exports. With `Prefer:
    return=representation` each item is a full export whose `_links.mesh.href` is a URL, valid for one
    hour, to stream the resulting tiles from the blob container. Follow `_links.next` until it is absent
    to read every page.

    Args:
        i_model_id (str | Unset):
        changeset_id (str | Unset):
        top (int | Unset):
        skip (int | Unset):
        order_by (ExportsOrderBy | Unset): Order of the exports by last-modified date.
        cdn (int | Unset):
        tile_version (str | Unset):
        export_type (ExportType | Unset): Type of mesh exported.
        i_twin_js (str | Unset):
        prefer (PreferReturn | Unset): How much of each export a list returns.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DetailedErrorResponse | ErrorResponse | ExportsPage
    """

    return sync_detailed(
        client=client,
        i_model_id=i_model_id,
        changeset_id=changeset_id,
        top=top,
        skip=skip,
        order_by=order_by,
        cdn=cdn,
        tile_version=tile_version,
        export_type=export_type,
        i_twin_js=i_twin_js,
        prefer=prefer,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    i_model_id: str | Unset = UNSET,
    changeset_id: str | Unset = UNSET,
    top: int | Unset = UNSET,
    skip: int | Unset = UNSET,
    order_by: ExportsOrderBy | Unset = UNSET,
    cdn: int | Unset = UNSET,
    tile_version: str | Unset = UNSET,
    export_type: ExportType | Unset = UNSET,
    i_twin_js: str | Unset = UNSET,
    prefer: PreferReturn | Unset = UNSET,
) -> Response[DetailedErrorResponse | ErrorResponse | ExportsPage]:
    """Get Exports

     Returns a list of the exports that the user can see and their statuses. 3D Tiles are generated
    automatically when an iModel changes, so this is the recommended way to find exports. With `Prefer:
    return=representation` each item is a full export whose `_links.mesh.href` is a URL, valid for one
    hour, to stream the resulting tiles from the blob container. Follow `_links.next` until it is absent
    to read every page.

    Args:
        i_model_id (str | Unset):
        changeset_id (str | Unset):
        top (int | Unset):
        skip (int | Unset):
        order_by (ExportsOrderBy | Unset): Order of the exports by last-modified date.
        cdn (int | Unset):
        tile_version (str | Unset):
        export_type (ExportType | Unset): Type of mesh exported.
        i_twin_js (str | Unset):
        prefer (PreferReturn | Unset): How much of each export a list returns.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DetailedErrorResponse | ErrorResponse | ExportsPage]
    """

    kwargs = build_request(
        i_model_id=i_model_id,
        changeset_id=changeset_id,
        top=top,
        skip=skip,
        order_by=order_by,
        cdn=cdn,
        tile_version=tile_version,
        export_type=export_type,
        i_twin_js=i_twin_js,
        prefer=prefer,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    i_model_id: str | Unset = UNSET,
    changeset_id: str | Unset = UNSET,
    top: int | Unset = UNSET,
    skip: int | Unset = UNSET,
    order_by: ExportsOrderBy | Unset = UNSET,
    cdn: int | Unset = UNSET,
    tile_version: str | Unset = UNSET,
    export_type: ExportType | Unset = UNSET,
    i_twin_js: str | Unset = UNSET,
    prefer: PreferReturn | Unset = UNSET,
) -> DetailedErrorResponse | ErrorResponse | ExportsPage | None:
    """Get Exports

     Returns a list of the exports that the user can see and their statuses. 3D Tiles are generated
    automatically when an iModel changes, so this is the recommended way to find exports. With `Prefer:
    return=representation` each item is a full export whose `_links.mesh.href` is a URL, valid for one
    hour, to stream the resulting tiles from the blob container. Follow `_links.next` until it is absent
    to read every page.

    Args:
        i_model_id (str | Unset):
        changeset_id (str | Unset):
        top (int | Unset):
        skip (int | Unset):
        order_by (ExportsOrderBy | Unset): Order of the exports by last-modified date.
        cdn (int | Unset):
        tile_version (str | Unset):
        export_type (ExportType | Unset): Type of mesh exported.
        i_twin_js (str | Unset):
        prefer (PreferReturn | Unset): How much of each export a list returns.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DetailedErrorResponse | ErrorResponse | ExportsPage
    """

    return (
        await asyncio_detailed(
            client=client,
            i_model_id=i_model_id,
            changeset_id=changeset_id,
            top=top,
            skip=skip,
            order_by=order_by,
            cdn=cdn,
            tile_version=tile_version,
            export_type=export_type,
            i_twin_js=i_twin_js,
            prefer=prefer,
        )
    ).parsed
