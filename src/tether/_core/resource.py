"""Resources: typed endpoint declarations that become working methods.

A resource class declares each endpoint once, with its real signature; :func:`endpoint`
generates the implementation::

    class AsyncExperiments(AsyncResource):
        @endpoint("GET", "/api/experiments/{experiment}")
        async def retrieve(self, experiment: str) -> Experiment:
            \"\"\"Fetch one experiment.\"\"\"

What the generated method does:

- path parameters (``{name}`` in the template) are percent-encoded with nothing left safe, so
  ``$broadcast``, spaces and ``/`` in names stay one path segment; empty values are refused;
- other parameters go to the query string (GET, DELETE, HEAD) or the JSON body (POST, PUT,
  PATCH), unless listed in ``query=``; a ``body=`` parameter is sent as the whole body; ``None``
  values are omitted; attrs models are unstructured with the platform's converter;
- parameter names are converted to the platform's wire naming (``camelCase`` where it uses it);
- ``validate=`` runs on the bound arguments before any request (bad input never leaves);
- the response is decoded into the return annotation (attrs models, lists, dicts, ``Any`` for
  free-form data, ``None`` to ignore the body); a mismatch raises ResponseDecodeError.

Operations that need several requests (uploads, waits, streams) are written by hand with the
same helpers (:meth:`AsyncResource._request`, :meth:`AsyncResource._decode`, :func:`path`).
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Collection, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar, cast
from urllib.parse import quote

import attrs
import cattrs

from tether._core.errors import ResponseDecodeError, ValidationError
from tether._core.http import NOT_GIVEN, HTTPClient, NotGiven, Response, RetryPolicy
from tether._core.models import to_camel

if TYPE_CHECKING:
    from tether._core.errors import RequestInfo

__all__ = ["AsyncClientBase", "AsyncResource", "endpoint", "path"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_PLACEHOLDER = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def path(template: str, /, **params: Any) -> str:
    """Fill a path template, percent-encoding each value as one segment.

    >>> path("/api/units/{unit}/jobs", unit="$broadcast")
    '/api/units/%24broadcast/jobs'
    """

    literals, names = _compile_template(template)
    url = literals[0]
    for name, literal in zip(names, literals[1:], strict=True):
        if name not in params:
            raise ValidationError(f"missing path parameter {name!r} for {template}")
        url += _segment(name, params[name]) + literal
    return url


def _compile_template(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split ``/a/{x}/b`` into literals ``("/a/", "/b")`` and names ``("x",)``."""
    pieces = _PLACEHOLDER.split(template)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


def _segment(name: str, value: Any) -> str:
    if type(value) is int:
        return str(value)  # digits and "-" need no encoding
    text = value.value if hasattr(value, "value") and not isinstance(value, str) else value
    text = str(text)
    if text == "":
        raise ValidationError(f"{name} must not be empty")
    return quote(text, safe="")


class AsyncClientBase:
    """Base of every async platform client: owns the HTTP pipeline and the converter.

    Subclasses set ``http`` and ``converter`` in ``__init__``. The client is an async context
    manager; ``aclose()`` closes its connections; ``with_options()`` returns a copy with other
    defaults that shares the connection pool.
    """

    http: HTTPClient
    converter: cattrs.Converter

    async def aclose(self) -> None:
        """Close the client's connections. Idempotent; the client cannot be used afterwards."""
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def with_options(
        self,
        *,
        timeout: float | None | NotGiven = NOT_GIVEN,
        deadline: float | None | NotGiven = NOT_GIVEN,
        retries: RetryPolicy | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """A copy of this client with other request defaults, sharing its connection pool.

        Example::

            await client.with_options(timeout=5, retries=RetryPolicy(max_retries=0)).runs.list()
        """
        clone = object.__new__(type(self))
        state = {k: v for k, v in vars(self).items() if not isinstance(v, AsyncResource)}
        clone.__dict__.update(state)
        clone.http = self.http.with_options(
            timeout=timeout, deadline=deadline, retries=retries, headers=headers
        )
        return clone


class AsyncResource:
    """Base of async resources: a view of one API noun on a client."""

    _wire_naming: str | None = None  # "camel" to convert parameter names; None: as declared

    def __init__(self, client: AsyncClientBase) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

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
        return await self._client.http.request(
            method,
            url,
            params=params,
            json=json,
            data=data,
            headers=headers,
            expect_status=expect_status,
        )

    def _decode(self, data: Any, type_: type[T], *, response: Response | None = None) -> T:
        """Structure *data* into *type_* with the platform's converter."""
        return decode(self._client.converter, data, type_, response=response)

    def _unstructure(self, value: Any) -> Any:
        return self._client.converter.unstructure(value)


def response_json(response: Response) -> Any:
    """The response body as JSON; :class:`ResponseDecodeError` when it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise ResponseDecodeError(
            f"response is not JSON: {response.content[:200]!r}",
            request=response.request,
            status=response.status,
            body=response.text()[:2000],
        ) from exc


def decode(
    converter: cattrs.Converter, data: Any, type_: type[T], *, response: Response | None = None
) -> T:
    """Structure *data* into *type_*; raise :class:`ResponseDecodeError` when it does not fit."""
    if cast(Any, type_) in (Any, object):
        return cast(T, data)
    try:
        return converter.structure(data, type_)
    except Exception as exc:
        request: RequestInfo | None = response.request if response is not None else None
        detail = _explain(exc)
        raise ResponseDecodeError(
            f"response does not match {_type_name(type_)}: {detail}",
            request=request,
            status=response.status if response is not None else None,
            body=data,
        ) from exc


def _explain(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc)
        return "; ".join(notes[:3])
    return f"{type(exc).__name__}: {exc}"


def _type_name(type_: Any) -> str:
    return getattr(type_, "__name__", None) or str(type_)


@attrs.frozen
class _Spec:
    method: str
    template: str
    path_params: tuple[str, ...]
    query: frozenset[str]
    body: str | None
    envelope: str | None
    validate: Callable[[Mapping[str, Any]], None] | None
    aliases: Mapping[str, str]


def endpoint(
    method: str,
    template: str,
    *,
    query: Collection[str] = (),
    body: str | None = None,
    envelope: str | None = None,
    validate: Callable[[Mapping[str, Any]], None] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Turn a declared async method into a working endpoint call.

    Args:
        method: the HTTP method.
        template: the path, with ``{param}`` placeholders named after parameters.
        query: parameters sent in the query string even for POST/PUT/PATCH.
        body: a parameter whose value is the whole JSON body.
        envelope: a key whose value in the response is what gets decoded (``"data"``).
        validate: called with the bound arguments before any request; raises on bad input.
        aliases: parameter name → wire name, where the default naming does not fit.
    """
    method = method.upper()
    literals, path_params = _compile_template(template)

    def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        signature = inspect.signature(func)
        for name in path_params:
            if name not in signature.parameters:
                raise TypeError(f"{func.__qualname__}: {template} names {name!r}, not a parameter")
        spec = _Spec(
            method=method,
            template=template,
            path_params=path_params,
            query=frozenset(query),
            body=body,
            envelope=envelope,
            validate=validate,
            aliases=dict(aliases or {}),
        )
        return_type: list[Any] = []
        declared = list(signature.parameters.values())
        simple = all(
            p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            for p in declared
        )
        positional = tuple(
            p.name for p in declared if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        order = tuple(p.name for p in declared)
        defaults = {p.name: p.default for p in declared if p.default is not p.empty}

        def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            if simple and len(args) <= len(positional):
                arguments = dict(zip(positional, args, strict=False))
                used = len(arguments)
                for name in order[used:]:
                    if name in kwargs:
                        arguments[name] = kwargs[name]
                        used += 1
                    elif name in defaults:
                        arguments[name] = defaults[name]
                    else:
                        break  # missing: let Signature.bind raise the usual TypeError
                else:
                    if used == len(args) + len(kwargs):
                        return arguments
            bound = signature.bind(*args, **kwargs)  # the slow path raises TypeErrors
            bound.apply_defaults()
            return dict(bound.arguments)

        @functools.wraps(func)
        async def call(*args: Any, **kwargs: Any) -> Any:
            arguments = bind(args, kwargs)
            resource = cast(AsyncResource, arguments.pop("self"))
            if spec.validate is not None:
                spec.validate(arguments)
            if not return_type:
                return_type.append(typing.get_type_hints(func).get("return", Any))
            url = literals[0]
            for name, literal in zip(path_params, literals[1:], strict=True):
                url += _segment(name, arguments.pop(name)) + literal
            params: dict[str, Any] = {}
            payload: Any = NOT_GIVEN
            camel = resource._wire_naming == "camel"
            converter = resource._client.converter
            if spec.body is not None:
                value = arguments.pop(spec.body)
                if value is not None:
                    payload = converter.unstructure(value)
            fields: dict[str, Any] = {}
            for name, value in arguments.items():
                if value is None:
                    continue
                wire = spec.aliases.get(name) or (to_camel(name) if camel else name)
                if name in spec.query or spec.method not in _BODY_METHODS:
                    if attrs.has(type(cast(object, value))):
                        value = converter.unstructure(value)
                    params[wire] = value.value if hasattr(value, "value") else value
                else:
                    fields[wire] = converter.unstructure(value)  # datetimes, enums, models
            if fields:
                if payload is NOT_GIVEN:
                    payload = fields
                elif isinstance(payload, dict):
                    payload = {**cast(dict[str, Any], payload), **fields}
            response = await resource._request(spec.method, url, params=params, json=payload)
            target = return_type[0]
            if target is None or target is type(None):
                return None
            data = response_json(response)
            if spec.envelope is not None and isinstance(data, dict):
                data = cast(dict[str, Any], data).get(spec.envelope)
            return resource._decode(data, target, response=response)

        call.__tether_endpoint__ = spec  # type: ignore[attr-defined]
        return cast(Callable[P, Awaitable[R]], call)

    return decorate
