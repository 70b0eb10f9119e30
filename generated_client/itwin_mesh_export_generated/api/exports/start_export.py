from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.detailed_error_response import DetailedErrorResponse
from ...models.error_response import ErrorResponse
from ...models.export_response import ExportResponse
from ...models.start_export import StartExport
from ...types import Response


def build_request(
    *,
    body: StartExport,
) -> dict[str, Any]:
    """The request, as keyword arguments for `httpx.Client.build_request`: method, URL relative to
    the API's base URL, query parameters, headers and body. Sends nothing."""
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def parse_response(
    response: httpx.Response, *, raise_on_unexpected_status: bool = False
) -> DetailedErrorResponse | ErrorResponse | ExportResponse | None:
    """The response's body as the spec's model for its status. None for a status the spec does not
    document, or errors.UnexpectedStatus when `raise_on_unexpected_status`."""
    if response.status_code == 202:
        response_202 = ExportResponse.from_dict(response.json())

        return response_202

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorResponse.from_dict(response.json())

        return response_404

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
) -> DetailedErrorResponse | ErrorResponse | ExportResponse | None:
    return parse_response(response, raise_on_unexpected_status=client.raise_on_unexpected_status)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DetailedErrorResponse | ErrorResponse | ExportResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: StartExport,
) -> Response[DetailedErrorResponse | ErrorResponse | ExportResponse]:
    """Start Export

     Start a mesh export from the iModel. Exports are persisted until deleted. Deprecation: 3D Tiles are
    now generated automatically when iModels change, manual generation will be deprecated, and Bentley
    advises using Get Exports to find the automatically generated exports instead.

    Args:
        body (StartExport): Request body of Start Export. If exportType is omitted, the export
            type defaults to 3DTiles.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DetailedErrorResponse | ErrorResponse | ExportResponse]
    """

    kwargs = build_request(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: StartExport,
) -> DetailedErrorResponse | ErrorResponse | ExportResponse | None:
    """Start Export

     Start a mesh export from the iModel. Exports are persisted until deleted. Deprecation: 3D Tiles are
    now generated automatically when iModels change, manual generation will be deprecated, and Bentley
    advises using Get Exports to find the automatically generated exports instead.

    Args:
        body (StartExport): Request body of Start Export. If exportType is omitted, the export
            type defaults to 3DTiles.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DetailedErrorResponse | ErrorResponse | ExportResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: StartExport,
) -> Response[DetailedErrorResponse | ErrorResponse | ExportResponse]:
    """Start Export

     Start a mesh export from the iModel. Exports are persisted until deleted. Deprecation: 3D Tiles are
    now generated automatically when iModels change, manual generation will be deprecated, and Bentley
    advises using Get Exports to find the automatically generated exports instead.

    Args:
        body (StartExport): Request body of Start Export. If exportType is omitted, the export
            type defaults to 3DTiles.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DetailedErrorResponse | ErrorResponse | ExportResponse]
    """

    kwargs = build_request(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: StartExport,
) -> DetailedErrorResponse | ErrorResponse | ExportResponse | None:
    """Start Export

     Start a mesh export from the iModel. Exports are persisted until deleted. Deprecation: 3D Tiles are
    now generated automatically when iModels change, manual generation will be deprecated, and Bentley
    advises using Get Exports to find the automatically generated exports instead.

    Args:
        body (StartExport): Request body of Start Export. If exportType is omitted, the export
            type defaults to 3DTiles.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DetailedErrorResponse | ErrorResponse | ExportResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
