"""The HTTP request pipeline every REST platform uses.

One :class:`Transport` owns one aiohttp ``ClientSession`` (created lazily on first use, closed
by its owner). :class:`HTTPClient` is the pipeline on top: base URL joining, default and auth
headers, JSON encoding, per-call options, retries with jittered backoff and Retry-After, an
overall deadline, and typed errors. ``with_options()`` gives a copy with other defaults that
shares the same transport (and so the same connection pool).
"""

from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import logging
import os
import random
import re
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, cast

import aiohttp
import attrs
from multidict import CIMultiDictProxy
from yarl import URL

from tether._core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    RequestInfo,
    ValidationError,
    redact_url,
    status_error_class,
)
from tether._version import __version__

__all__ = [
    "NOT_GIVEN",
    "ErrorDetails",
    "HTTPClient",
    "NotGiven",
    "Response",
    "RetryPolicy",
    "Transport",
    "default_error_parser",
    "parse_retry_after",
]

logger = logging.getLogger("tether.http")

USER_AGENT: Final = f"tether/{__version__}"
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-amzn-requestid", "x-correlation-id")


class NotGiven:
    """Marks an option the caller did not pass (``None`` can be a meaningful value)."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValidationError(f"{attribute.name} must be >= 0, got {value!r}")


def _check_retries(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"max_retries must be an integer >= 0, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """When and how requests are retried.

    Retried: connection failures and timeouts, and the statuses in ``statuses``, for idempotent
    methods (GET, HEAD, OPTIONS, PUT, DELETE) or a request that carries an idempotency key. A
    request that never reached the server (connection refused) and a 429 (not processed, by
    definition) are retried for every method. Waits grow exponentially from
    ``initial_backoff`` up to ``max_backoff`` with full jitter; a server's ``Retry-After``
    (seconds, HTTP-date, or ``retry-after-ms``) is honoured up to ``max_retry_after`` seconds,
    beyond which the error is raised at once rather than waiting.

    Example::

        client.with_options(retries=RetryPolicy(max_retries=5))
    """

    max_retries: int = attrs.field(default=2, validator=lambda _, __, v: _check_retries(v))
    initial_backoff: float = attrs.field(default=0.5, validator=_non_negative)
    max_backoff: float = attrs.field(default=8.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number *attempt* (0-based).

        "Equal jitter": uniform between half and all of the exponential ceiling, so waits
        spread out but never collapse to zero.
        """
        ceiling = min(self.max_backoff, self.initial_backoff * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)


NO_RETRIES: Final = RetryPolicy(max_retries=0)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` or ``Retry-After`` (seconds or date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@attrs.frozen
class ErrorDetails:
    """What a platform says about an error, extracted from its body by an error parser."""

    message: str
    cause: str | None = None
    remediation: str | None = None
    request_id: str | None = None


ErrorParser = Callable[[int, Any], ErrorDetails]


def default_error_parser(status: int, body: Any) -> ErrorDetails:
    """Extract a message from common error shapes (``{"error": ...}``, ``{"message": ...}``)."""
    from http import HTTPStatus

    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = "HTTP error"
    cause: str | None = None
    remediation: str | None = None
    if isinstance(body, dict):
        fields = cast(dict[str, Any], body)
        for key in ("message", "error", "detail", "error_description", "description"):
            value = fields.get(key)
            if isinstance(value, str) and value:
                cause = value
                break
            if isinstance(value, dict):
                nested = cast(dict[str, Any], value).get("message")
                if isinstance(nested, str):
                    cause = nested
                    break
        rem = fields.get("remediation")
        remediation = rem if isinstance(rem, str) else None
    elif isinstance(body, str) and body.strip() and len(body) < 300:
        cause = body.strip()
    return ErrorDetails(message=message, cause=cause, remediation=remediation)


@attrs.frozen
class Response:
    """A successful response, fully read.

    Attributes:
        status: the HTTP status code.
        headers: the response headers (case-insensitive).
        content: the raw body.
        request: the method and redacted URL.
    """

    status: int
    headers: CIMultiDictProxy[str]
    content: bytes
    request: RequestInfo

    def json(self) -> Any:
        """The body decoded as JSON (``None`` for an empty body)."""
        if not self.content:
            return None
        return jsonlib.loads(self.content.decode("utf-8"))

    def text(self) -> str:
        """The body decoded as text."""
        return self.content.decode("utf-8", errors="replace")


class Transport:
    """Owns one aiohttp ``ClientSession`` and its connection pool.

    The session is created on first use, on the running loop. A session passed in by the user
    is used as is and never closed by tether. After ``os.fork()`` the child gets a new session
    (the parent's belongs to the parent's loop).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        limit: int = 100,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._pid = os.getpid()
        self._closed = False
        # Sessions inherited across os.fork(): never closed or collected in the child, because
        # their sockets (and epoll registrations) are shared with the parent.
        self._inherited: list[aiohttp.ClientSession] = []

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The session, created on the running loop if needed."""
        if self._closed:
            raise ClientClosedError(
                "this client is closed; create a new one (or use it in `async with`)"
            )
        session = self._session
        if session is not None and self._owns_session and self._pid != os.getpid():
            self._inherited.append(session)  # forked child: keep the parent's, unused
            session = None
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, enable_cleanup_closed=False)
            session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
            )
            self._session = session
            self._pid = os.getpid()
        return session

    async def aclose(self) -> None:
        """Close the session if tether created it. Idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and self._pid == os.getpid():
            await session.close()


def _join(base: str, path: str) -> str:
    if path.startswith(("http://", "https://")):
        return path
    if not path:
        return base
    return base + "/" + path.lstrip("/")


class HTTPClient:
    """The request pipeline: join, headers, auth, retries, deadline, typed errors.

    Args:
        base_url: prefix for relative paths (absolute URLs are used as given).
        transport: a shared :class:`Transport`; a new one is created when omitted.
        headers: default headers sent with every request.
        auth: returns the authentication headers for a request (never logged).
        timeout: seconds for one attempt (connect + response); ``None`` for no limit.
        deadline: seconds for the whole call across retries; ``None`` for no limit.
        retries: the :class:`RetryPolicy`.
        error_parser: turns an error body into :class:`ErrorDetails` (platform-specific).
        idempotency_header: when the platform supports one, a header name under which a key,
            generated once per logical call, makes POST/PATCH safe to retry.
    """

    def __init__(
        self,
        base_url: str,
        *,
        transport: Transport | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Callable[[], Mapping[str, str]] | None = None,
        timeout: float | None = 60.0,
        deadline: float | None = None,
        retries: RetryPolicy | None = None,
        error_parser: ErrorParser = default_error_parser,
        idempotency_header: str | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValidationError(f"base URL must start with http:// or https://, got {base_url!r}")
        if timeout is not None and timeout <= 0:
            raise ValidationError(f"timeout must be > 0 seconds or None, got {timeout!r}")
        self.base_url = base_url.rstrip("/")
        self.transport = transport if transport is not None else Transport()
        self.headers: Mapping[str, str] = dict(headers or {})
        self._auth = auth
        self.timeout = timeout
        self.deadline = deadline
        self.retries = retries if retries is not None else RetryPolicy()
        self.error_parser = error_parser
        self.idempotency_header = idempotency_header
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        self._base_headers = {"User-Agent": USER_AGENT, **self.headers}

    def __repr__(self) -> str:
        return f"HTTPClient(base_url={self.base_url!r})"

    def with_options(
        self,
        *,
        timeout: float | None | NotGiven = NOT_GIVEN,
        deadline: float | None | NotGiven = NOT_GIVEN,
        retries: RetryPolicy | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
    ) -> HTTPClient:
        """A copy with other defaults that shares this client's transport."""
        clone = HTTPClient(
            self.base_url,
            transport=self.transport,
            headers={**self.headers, **(headers or {})},
            auth=self._auth,
            timeout=self.timeout if isinstance(timeout, NotGiven) else timeout,
            deadline=self.deadline if isinstance(deadline, NotGiven) else deadline,
            retries=self.retries if isinstance(retries, NotGiven) else retries,
            error_parser=self.error_parser,
            idempotency_header=self.idempotency_header,
        )
        return clone

    async def aclose(self) -> None:
        """Close the transport (and its session, if tether created it)."""
        await self.transport.aclose()

    def _client_timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(seconds)
        if cached is None:
            cached = aiohttp.ClientTimeout(total=seconds)
            self._timeouts[seconds] = cached
        return cached

    def _build_headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = self._base_headers.copy()
        if self._auth is not None:
            headers.update(self._auth())
        if extra:
            headers.update(extra)
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None | NotGiven = NOT_GIVEN,
        deadline: float | None | NotGiven = NOT_GIVEN,
        retries: RetryPolicy | NotGiven = NOT_GIVEN,
        idempotency_key: str | None = None,
        expect_status: Callable[[int], bool] | None = None,
    ) -> Response:
        """Send a request and return the fully read :class:`Response`.

        Raises:
            APIStatusError: (a subclass per status) when the final answer is an error status.
            APIConnectionError: when the server could not be reached.
            APITimeoutError: when an attempt or the overall deadline ran out.
        """
        method = method.upper()
        url = _join(self.base_url, path)
        info = RequestInfo(method, url)
        policy = self.retries if isinstance(retries, NotGiven) else retries
        attempt_timeout = self.timeout if isinstance(timeout, NotGiven) else timeout
        total = self.deadline if isinstance(deadline, NotGiven) else deadline
        all_headers = self._build_headers(headers)
        if idempotency_key is None and self.idempotency_header and method not in IDEMPOTENT_METHODS:
            idempotency_key = str(uuid.uuid4())  # once per logical call, reused by every attempt
        if idempotency_key is not None:
            if not self.idempotency_header:
                raise ValidationError(
                    "this platform has no idempotency header, so an idempotency key cannot make"
                    f" {method} safe to retry"
                )
            all_headers[self.idempotency_header] = idempotency_key
        idempotent = method in IDEMPOTENT_METHODS or idempotency_key is not None
        query = _clean_params(params) if params else None
        body_kwargs: dict[str, Any] = {}
        if not isinstance(json, NotGiven):
            body_kwargs["data"] = jsonlib.dumps(json, separators=(",", ":")).encode()
            all_headers.setdefault("Content-Type", "application/json")
        elif data is not None:
            body_kwargs["data"] = data
        target = URL(url, encoded=True)
        loop = asyncio.get_running_loop()
        ends_at = None if total is None else loop.time() + total
        attempt = 0
        while True:
            per_attempt = attempt_timeout
            if ends_at is not None:
                remaining = ends_at - loop.time()
                if remaining <= 0:
                    raise APITimeoutError(
                        f"deadline of {total}s reached after {attempt} attempt(s)", request=info
                    )
                per_attempt = remaining if per_attempt is None else min(per_attempt, remaining)
            started = time.perf_counter() if logger.isEnabledFor(logging.DEBUG) else 0.0
            try:
                async with self.transport.session().request(
                    method,
                    target,
                    params=query,
                    # only the session's User-Agent? let aiohttp skip merging a copy of it
                    headers=all_headers if len(all_headers) > 1 else None,
                    timeout=self._client_timeout(per_attempt),
                    **body_kwargs,
                ) as raw:
                    content = await raw.read()
                    status = raw.status
                    resp_headers = raw.headers
            except ClientClosedError:
                raise
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                error: Exception = APITimeoutError(
                    f"no response within {per_attempt}s", request=info
                )
                error.__cause__ = exc
                retry_any = False
            except aiohttp.ClientConnectorError as exc:
                error = APIConnectionError(f"could not connect: {exc.os_error}", request=info)
                error.__cause__ = exc
                retry_any = True  # nothing reached the server
            except (aiohttp.ClientError, OSError) as exc:
                error = APIConnectionError(_connection_failure(exc), request=info)
                error.__cause__ = exc
                retry_any = False
            else:
                if started:
                    logger.debug(
                        "%s %s -> %d (%.1f ms)",
                        method,
                        info.url,
                        status,
                        (time.perf_counter() - started) * 1000,
                    )
                ok = expect_status(status) if expect_status is not None else status < 400
                if ok:
                    return Response(status, resp_headers, content, info)
                status_error = self._status_error(info, status, resp_headers, content)
                retryable = status in policy.statuses and (idempotent or status == 429)
                if not retryable or attempt >= policy.max_retries:
                    raise status_error
                delay = status_error.retry_after
                if delay is not None and delay > policy.max_retry_after:
                    raise status_error
                if delay is None:
                    delay = policy.backoff(attempt)
                if ends_at is not None and loop.time() + delay >= ends_at:
                    raise status_error
                logger.info(
                    "%s %s -> %d; retry %d/%d in %.2fs",
                    method,
                    info.url,
                    status,
                    attempt + 1,
                    policy.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1
                continue
            if not (idempotent or retry_any) or attempt >= policy.max_retries:
                raise error
            delay = policy.backoff(attempt)
            if ends_at is not None and loop.time() + delay >= ends_at:
                raise error
            logger.info(
                "%s %s failed (%s); retry %d/%d in %.2fs",
                method,
                info.url,
                type(error).__name__,
                attempt + 1,
                policy.max_retries,
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        timeout: float | None | NotGiven = NOT_GIVEN,
        authenticate: bool = True,
    ) -> AsyncGenerator[aiohttp.ClientResponse]:
        """Open a response without reading its body (downloads, uploads of large bodies).

        The status is checked before the body is handed over; errors raise as in
        :meth:`request`. No retries: a stream cannot be replayed safely.
        """
        method = method.upper()
        url = _join(self.base_url, path)
        info = RequestInfo(method, url)
        all_headers = self._build_headers(headers) if authenticate else dict(headers or {})
        seconds = self.timeout if isinstance(timeout, NotGiven) else timeout
        client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        opening = self.transport.session().request(
            method,
            URL(url, encoded=True),
            params=_clean_params(params),
            headers=all_headers,
            data=data,
            timeout=client_timeout,
        )
        try:
            raw = await opening.__aenter__()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise APITimeoutError(f"no data within {seconds}s", request=info) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(f"could not connect: {exc.os_error}", request=info) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(_connection_failure(exc), request=info) from exc
        try:
            if raw.status >= 400:
                content = await raw.read()
                raise self._status_error(info, raw.status, raw.headers, content)
            yield raw  # errors raised by the caller's own code pass through unchanged
        finally:
            await opening.__aexit__(None, None, None)

    def _status_error(
        self, info: RequestInfo, status: int, headers: Mapping[str, str], content: bytes
    ) -> APIStatusError:
        body: Any
        try:
            body = jsonlib.loads(content) if content else None
        except ValueError:
            body = content.decode("utf-8", errors="replace")
        details = self.error_parser(status, body)
        request_id = details.request_id
        if request_id is None:
            for name in REQUEST_ID_HEADERS:
                value = headers.get(name)
                if value:
                    request_id = value
                    break
        cls = status_error_class(status)
        return cls(
            details.message,
            status=status,
            request=info,
            body=body,
            request_id=request_id,
            cause=details.cause,
            remediation=details.remediation,
            retry_after=parse_retry_after(headers),
            headers={k: v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS},
        )


_SECRET_HEADERS: Final = frozenset({"set-cookie", "authorization", "proxy-authorization"})


_URL_IN_TEXT: Final = re.compile(r"https?://[^\s'\"<>]+")


def _connection_failure(exc: BaseException) -> str:
    """A one-line description of a transport error, with any URL in it redacted."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), str(exc))
    return f"connection failed: {type(exc).__name__}: {text}"


def _as_items(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple):
        return cast(Iterable[Any], value)  # pyright cannot see the item type otherwise
    return (value,)


def _clean_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    """Drop ``None`` values; render booleans as ``true``/``false``; repeat keys for lists."""
    if not params:
        return None
    clean: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or isinstance(value, NotGiven):
            continue
        values: Iterable[Any] = _as_items(value)
        for item in values:
            if isinstance(item, bool):
                clean.append((key, "true" if item else "false"))
            else:
                clean.append((key, str(item)))
    return clean
