"""What every Moderately resource shares: typed requests, references, paging, filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tether._core.errors import ResponseDecodeError, ValidationError
from tether._core.http import NOT_GIVEN, Response
from tether._core.models import json_object, to_camel
from tether._core.pagination import AsyncPager, Page
from tether._core.resource import AsyncResource, response_json

if TYPE_CHECKING:
    from tether.moderately._client import AsyncModeratelyAI

__all__ = [
    "Ids",
    "ModeratelyResource",
    "check_page",
    "ids",
    "is_int",
    "is_mapping",
    "order",
    "ref",
]

T = TypeVar("T")

Ids = str | Sequence[str]
"""One id, or several (sent comma-separated, as the spec declares)."""


def ref(value: object, attribute: str, what: str) -> str:
    """The id of *value*: the string itself, or the model's *attribute*.

    Raises:
        ValidationError: an empty string, or neither a string nor the expected model.
    """
    if isinstance(value, str):
        if not value:
            raise ValidationError(f"{what} id must not be empty")
        return value
    found = getattr(value, attribute, None)
    if isinstance(found, str) and found:
        return found
    raise ValidationError(f"expected a {what} id or model, got {type(value).__name__}")


def ids(value: Ids | None) -> str | None:
    """``"a,b"`` for ``["a", "b"]``; ``None`` for ``None`` or an empty list."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    joined = ",".join(str(v) for v in value)
    return joined or None


def order(order_by: str | None) -> str | None:
    """The spec's spelling of a sort field: ``created_at`` → ``createdAt`` (camelCase as is)."""
    return to_camel(order_by) if order_by else None


def is_int(value: object) -> bool:
    """Whether *value* is an ``int`` (and not a ``bool``): a check on what callers pass."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_mapping(value: object) -> bool:
    """Whether *value* is a mapping (a JSON object): a check on what callers pass."""
    return isinstance(value, Mapping)


def check_page(page: int, page_size: int, *, maximum: int = 1000) -> None:
    """Refuse page numbers below 1 and page sizes outside ``1..maximum`` before any request."""
    if not is_int(page) or page < 1:
        raise ValidationError(f"page is 1-based, got {page!r}")
    if not is_int(page_size) or not 1 <= page_size <= maximum:
        raise ValidationError(f"page_size must be between 1 and {maximum}, got {page_size!r}")


class ModeratelyResource(AsyncResource):
    """Base of the Moderately resources."""

    _client: AsyncModeratelyAI

    def __init__(self, client: AsyncModeratelyAI) -> None:
        super().__init__(client)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        expect_status: Callable[[int], bool] | None = None,
    ) -> Response:
        extra = self._client.default_query
        if extra:
            params = {**extra, **(params or {})}
        return await super()._request(
            method,
            url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            expect_status=expect_status,
        )

    async def _call(
        self,
        method: str,
        url: str,
        type_: type[T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
    ) -> T:
        """Send a request and decode its JSON answer into *type_*."""
        response = await self._request(method, url, params=params, json=json)
        return self._decode(response_json(response), type_, response=response)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
    ) -> Response:
        """Send a request whose answer carries nothing needed (200 with or without a body, 204)."""
        return await self._request(method, url, params=params, json=json)

    def _team_ids(self, team_ids: Ids | None) -> str | None:
        """The ``teamIds`` filter: the client's team unless *team_ids* says otherwise."""
        if team_ids is None:
            return self._client.team_id
        return ids(team_ids)

    def _pager(
        self,
        url: str,
        item_type: type[T],
        params: Mapping[str, Any],
        *,
        page: int,
        page_size: int,
        maximum: int = 1000,
    ) -> AsyncPager[T]:
        """A pager over a ``{"items", "pagination"}`` listing, starting at *page*.

        ``page["items"]`` of a fetched page holds the decoded models and
        ``page["pagination"]`` the platform's pagination object, as the official SDK returns.
        """
        check_page(page, page_size, maximum=maximum)
        query = {k: v for k, v in params.items() if v is not None}

        async def fetch(cursor: Any) -> Page[T]:
            number = page if cursor is None else int(cursor)
            response = await self._request(
                "GET", url, params={**query, "page": number, "pageSize": page_size}
            )
            body = json_object(response_json(response))
            raw_items = body.get("items") if body is not None else None
            if body is None or not isinstance(raw_items, list):
                raise ResponseDecodeError(
                    "a list answer must be an object with an 'items' array",
                    request=response.request,
                    status=response.status,
                    body=body,
                )
            items = [
                self._decode(item, item_type, response=response)
                for item in raw_items  # pyright: ignore[reportUnknownVariableType]
            ]
            pagination = json_object(body.get("pagination")) or {}
            more = pagination.get("hasNextPage") is True and bool(items)
            return Page(
                items,
                next_cursor=number + 1 if more else None,
                raw={"items": items, "pagination": pagination},
            )

        return AsyncPager(fetch)
