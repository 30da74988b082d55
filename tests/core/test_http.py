"""The request pipeline against a real server on loopback."""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import pytest

from tether import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ValidationError,
)
from tether._core.errors import APIStatusError, redact_url
from tether._core.http import HTTPClient, parse_retry_after

FAST = RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02)


async def test_get_json_and_default_headers(server: str, behaviour: Any) -> None:
    http = HTTPClient(server, headers={"X-App": "a"}, auth=lambda: {"Authorization": "Bearer s3"})
    try:
        response = await http.request("GET", "/flaky")
        assert response.json() == {"ok": True, "method": "GET"}
        sent = behaviour.requests[-1]["headers"]
        assert sent["User-Agent"].startswith("tether/")
        assert sent["X-App"] == "a"
        assert sent["Authorization"] == "Bearer s3"
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, BadRequestError),
        (404, NotFoundError),
        (409, ConflictError),
        (500, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_status_errors_are_typed(server: str, code: int, cls: type[APIStatusError]) -> None:
    http = HTTPClient(server, retries=RetryPolicy(max_retries=0))
    try:
        with pytest.raises(cls) as info:
            await http.request("GET", f"/status/{code}")
        err = info.value
        assert type(err) is cls
        assert err.status == code
        assert err.body == {"message": f"status {code}"}
        assert err.cause == f"status {code}"
        assert err.request is not None and err.request.method == "GET"
        assert str(err).startswith(f"{code} ")
        assert "\n" not in str(err)
    finally:
        await http.aclose()


async def test_get_is_retried_then_succeeds(server: str, behaviour: Any) -> None:
    behaviour.fail_times = 2
    http = HTTPClient(server, retries=FAST)
    try:
        response = await http.request("GET", "/flaky")
        assert response.status == 200
        assert len(behaviour.requests) == 3
    finally:
        await http.aclose()


async def test_error_after_retries_carries_details(server: str, behaviour: Any) -> None:
    behaviour.fail_times = 10
    http = HTTPClient(server, retries=FAST)
    try:
        with pytest.raises(InternalServerError) as info:
            await http.request("GET", "/flaky")
        assert len(behaviour.requests) == 3  # first try + 2 retries
        err = info.value
        assert err.request_id == "req-123"
        assert err.remediation == "wait a little"
        assert "wait a little" in str(err) and "req-123" in str(err)
    finally:
        await http.aclose()


async def test_post_is_not_replayed_on_5xx(server: str, behaviour: Any) -> None:
    behaviour.fail_times = 1
    http = HTTPClient(server, retries=FAST)
    try:
        with pytest.raises(InternalServerError):
            await http.request("POST", "/flaky", json={"a": 1})
        assert len(behaviour.requests) == 1
    finally:
        await http.aclose()


async def test_post_with_idempotency_key_is_retried_with_the_same_key(
    server: str, behaviour: Any
) -> None:
    behaviour.fail_times = 2
    http = HTTPClient(server, retries=FAST, idempotency_header="Idempotency-Key")
    try:
        await http.request("POST", "/flaky", json={"a": 1})
        keys = {r["headers"]["Idempotency-Key"] for r in behaviour.requests}
        assert len(behaviour.requests) == 3
        assert len(keys) == 1  # generated once per logical call
        await http.request("POST", "/flaky", json={"a": 1})
        assert behaviour.requests[-1]["headers"]["Idempotency-Key"] not in keys
    finally:
        await http.aclose()


async def test_429_is_retried_even_for_post_honouring_retry_after(
    server: str, behaviour: Any
) -> None:
    behaviour.fail_times = 1
    behaviour.fail_status = 429
    behaviour.retry_after_ms = "150"
    http = HTTPClient(server, retries=FAST)
    try:
        started = time.perf_counter()
        await http.request("POST", "/flaky")
        elapsed = time.perf_counter() - started
        assert len(behaviour.requests) == 2
        assert elapsed >= 0.14  # waited what the server asked, not the 10 ms backoff
    finally:
        await http.aclose()


async def test_retry_after_beyond_cap_raises_at_once(server: str, behaviour: Any) -> None:
    behaviour.fail_times = 1
    behaviour.fail_status = 429
    behaviour.retry_after = "3600"
    http = HTTPClient(server, retries=RetryPolicy(max_retries=3, max_retry_after=5))
    try:
        started = time.perf_counter()
        with pytest.raises(RateLimitError) as info:
            await http.request("GET", "/flaky")
        assert time.perf_counter() - started < 1
        assert info.value.retry_after == 3600
        assert len(behaviour.requests) == 1
    finally:
        await http.aclose()


async def test_timeout_is_typed_and_retried(server: str, behaviour: Any) -> None:
    behaviour.delay = 0.5
    http = HTTPClient(server, timeout=0.05, retries=FAST)
    try:
        with pytest.raises(APITimeoutError):
            await http.request("GET", "/flaky")
        assert len(behaviour.requests) == 3
    finally:
        await http.aclose()


async def test_overall_deadline_stops_retries(server: str, behaviour: Any) -> None:
    behaviour.fail_times = 100
    policy = RetryPolicy(max_retries=50, initial_backoff=0.05, max_backoff=0.05)
    http = HTTPClient(server, retries=policy, deadline=0.3)
    try:
        started = time.perf_counter()
        with pytest.raises(InternalServerError):
            await http.request("GET", "/flaky")
        assert time.perf_counter() - started < 0.6
        assert 2 <= len(behaviour.requests) < 20
    finally:
        await http.aclose()


async def test_connection_refused_is_typed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http = HTTPClient(f"http://127.0.0.1:{port}", retries=FAST)
    try:
        with pytest.raises(APIConnectionError) as info:
            await http.request("GET", "/x")
        assert not isinstance(info.value, APITimeoutError)
        assert f"127.0.0.1:{port}" in str(info.value)
    finally:
        await http.aclose()


async def test_closed_client_refuses_reuse(server: str) -> None:
    http = HTTPClient(server)
    await http.request("GET", "/flaky")
    await http.aclose()
    with pytest.raises(ClientClosedError):
        await http.request("GET", "/flaky")


async def test_with_options_shares_the_pool(server: str, behaviour: Any) -> None:
    http = HTTPClient(server, retries=RetryPolicy(max_retries=0))
    try:
        patient = http.with_options(retries=FAST, headers={"X-Extra": "1"})
        assert patient.transport is http.transport
        behaviour.fail_times = 1
        await patient.request("GET", "/flaky")
        assert behaviour.requests[-1]["headers"]["X-Extra"] == "1"
        behaviour.fail_times = 1
        with pytest.raises(InternalServerError):
            await http.request("GET", "/flaky")
    finally:
        await http.aclose()


async def test_query_params_render_booleans_lists_and_drop_none(
    server: str, behaviour: Any
) -> None:
    http = HTTPClient(server)
    try:
        await http.request("GET", "/echo", params={"a": True, "b": None, "c": [1, 2], "d": "x y"})
        assert behaviour.requests[-1]["path"] == "/echo?a=true&c=1&c=2&d=x+y"
    finally:
        await http.aclose()


async def test_secrets_never_logged(
    server: str, behaviour: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tether")
    behaviour.fail_times = 1
    http = HTTPClient(server, auth=lambda: {"Authorization": "Bearer TOPSECRET"}, retries=FAST)
    try:
        await http.request("GET", "/flaky", params={"api_key": "KEYSECRET", "page": 2})
        with pytest.raises(NotFoundError) as info:
            await http.request("GET", "/status/404", params={"token": "TOKSECRET"})
    finally:
        await http.aclose()
    text = caplog.text + str(info.value) + repr(info.value.__dict__)
    assert "GET" in caplog.text  # something was logged
    for secret in ("TOPSECRET", "KEYSECRET", "TOKSECRET"):
        assert secret not in text


def test_redact_url() -> None:
    assert redact_url("https://u:p@h/x?api_key=abc&page=2") == "https://***@h/x?api_key=***&page=2"
    assert redact_url("http://h/x?X-Amz-Signature=abc") == "http://h/x?X-Amz-Signature=***"


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after({"retry-after": date}, now=1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_bad_options_fail_before_any_request() -> None:
    with pytest.raises(ValidationError):
        HTTPClient("ftp://x")
    with pytest.raises(ValidationError):
        HTTPClient("http://127.0.0.1", timeout=0)
    with pytest.raises(ValidationError):
        RetryPolicy(max_retries=-1)


async def test_idempotency_key_needs_a_header_to_be_safe(server: str, behaviour: Any) -> None:
    http = HTTPClient(server, retries=FAST)
    try:
        with pytest.raises(ValidationError, match="no idempotency header"):
            await http.request("POST", "/flaky", idempotency_key="k1")
        assert behaviour.requests == []
    finally:
        await http.aclose()


async def test_stream_passes_the_callers_own_errors_through(server: str) -> None:
    http = HTTPClient(server)
    try:
        with pytest.raises(OSError, match="disk full"):
            async with http.stream("GET", "/flaky") as response:
                assert response.status == 200
                raise OSError("disk full")
        with pytest.raises(NotFoundError):
            async with http.stream("GET", "/status/404"):
                pass
    finally:
        await http.aclose()


def test_timeouts_are_timeout_errors() -> None:
    assert issubclass(APITimeoutError, TimeoutError)
    assert issubclass(APITimeoutError, APIConnectionError)
