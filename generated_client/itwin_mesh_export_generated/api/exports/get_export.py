from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.export_response import ExportResponse
from ...types import UNSET, Response, Unset


def build_request(
    id: str,
    *,
    cdn: int | Unset = UNSET,
) -> dict[str, Any]:
    """The request, as keyword arguments for `httpx.Client.build_request`: method, URL relative to
    the API's base URL, query parameters, headers and body. Sends nothing."""

    params: dict[str, Any] = {}

    params["cdn"] = cdn

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/{id}".format(
            id=quote(str(id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def parse_response(
    response: httpx.Response, *, raise_on_unexpected_status: bool = False
) -> ErrorResponse | ExportResponse | None:
    """The response's body as the spec's model for its status. None for a status the spec does not
    document, or errors.UnexpectedStatus when `raise_on_unexpected_status`."""
    if response.status_code == 200:
        response_200 = ExportResponse.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = ErrorResponse.from_dict(response.json())

        return response_401

    if response.status_code == 404:
        response_404 = ErrorResponse.from_dict(response.json())

        return response_404

    if response.status_code == 429:
        response_429 = ErrorResponse.from_dict(response.json())

        return response_429

    if raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | ExportResponse | None:
    return parse_response(response, raise_on_unexpected_status=client.raise_on_unexpected_status)


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorResponse | ExportResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    cdn: int | Unset = UNSET,
) -> Response[ErrorResponse | ExportResponse]:
    """Get Export

     Retrieves the information for a single export. Exports are persisted until deleted. Bentley
    recommends Get Exports instead and plans to remove this operation when the API leaves Technical
    Preview.

    Args:
        id (str):
        cdn (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ExportResponse]
    """

    kwargs = build_request(
        id=id,
        cdn=cdn,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    id: str,
    *,
    client: AuthenticatedClient,
    cdn: int | Unset = UNSET,
) -> ErrorResponse | ExportResponse | None:
    """Get Export

     Retrieves the information for a single export. Exports are persisted until deleted. Bentley
    recommends Get Exports instead and plans to remove this operation when the API leaves Technical
    Preview.

    Args:
        id (str):
        cdn (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ExportResponse
    """

    return sync_detailed(
        id=id,
        client=client,
        cdn=cdn,
    ).parsed


async def asyncio_detailed(
    id: str,
    *,
    client: AuthenticatedClient,
    cdn: int | Unset = UNSET,
) -> Response[ErrorResponse | ExportResponse]:
    """Get Export

     Retrieves the information for a single export. Exports are persisted until deleted. Bentley
    recommends Get Exports instead and plans to remove this operation when the API leaves Technical
    Preview.

    Args:
        id (str):
        cdn (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ExportResponse]
    """

    kwargs = build_request(
        id=id,
        cdn=cdn,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    id: str,
    *,
    client: AuthenticatedClient,
    cdn: int | Unset = UNSET,
) -> ErrorResponse | ExportResponse | None:
    """Get Export

     Retrieves the information for a single export. Exports are persisted until deleted. Bentley
    recommends Get Exports instead and plans to remove this operation when the API leaves Technical
    Preview.

    Args:
        id (str):
        cdn (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ExportResponse
    """

    return (
        await asyncio_detailed(
            id=id,
            client=client,
            cdn=cdn,
        )
    ).parsed
