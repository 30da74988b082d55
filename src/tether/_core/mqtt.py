"""The MQTT connection layer: one connection, reconnects, a subscription registry, typed streams.

:class:`MQTTConnection` owns one aiomqtt client and the single background task that runs it.
The task reconnects with jittered exponential backoff and re-subscribes every registered topic
filter after each reconnect. Streams are :class:`Subscription` objects that fan out locally
from that one connection: topic matching is done here, the broker sees one SUBSCRIBE per
distinct filter, and the last subscriber to leave a filter sends the UNSUBSCRIBE.

Every subscriber has its own bounded queue. ``overflow="drop_oldest"`` (the default) keeps the
newest messages and counts what it drops in :attr:`Subscription.dropped`; ``overflow="block"``
holds the dispatcher until the consumer catches up (back-pressure, then aiomqtt's bounded
incoming queue, whose drops are counted in :attr:`MQTTStats.messages_dropped`). Nothing is
lost silently.

Example::

    settings = MQTTSettings(host="127.0.0.1", port=1883)
    async with MQTTConnection(settings) as conn:
        async with conn.subscribe("pioreactor/+/exp1/od_reading/od1", decode=parse) as stream:
            await conn.publish("pioreactor/unit1/exp1/od_reading/od1/set", "0.5", qos=1)
            async for reading in stream:
                print(reading)

Retained messages: a new subscriber gets the broker's retained messages for its filter, even
when another subscriber already holds that filter (the SUBSCRIBE is re-issued, which makes the
broker resend them). Each subscriber remembers the last payload it saw per topic and skips a
retained copy identical to it, so existing subscribers do not see repeats, while a retained
value that changed during an outage is delivered after the reconnect.

Known limitation: a broker that sends one copy per matching subscription for *live* messages
(MQTT 3.1.1 allows it; mosquitto 2 and :mod:`tether.testing.broker` send one copy per client)
delivers a message twice to subscribers whose filters overlap another subscriber's filter.

aiomqtt is imported lazily, on :meth:`MQTTConnection.connect`: importing this module (for the
types and the topic helpers) does not need the ``tether[mqtt]`` extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar, cast, overload

import attrs

from tether._core.errors import ClientClosedError, TetherError, ValidationError

if TYPE_CHECKING:
    from typing import Self

    import aiomqtt

__all__ = [
    "IncomingMessage",
    "MQTTAuthenticationError",
    "MQTTClosedError",
    "MQTTConnectError",
    "MQTTConnection",
    "MQTTError",
    "MQTTNotConnectedError",
    "MQTTSettings",
    "MQTTStats",
    "MQTTSubscribeError",
    "MQTTTimeoutError",
    "MQTTWill",
    "Overflow",
    "Subscription",
    "is_valid_topic",
    "is_valid_topic_filter",
    "topic_matches",
    "validate_topic",
    "validate_topic_filter",
]

logger = logging.getLogger("tether.mqtt")
_client_logger = logging.getLogger("tether.mqtt.client")

T = TypeVar("T")
_R = TypeVar("_R")

Overflow = Literal["drop_oldest", "block"]
"""What a subscriber's full queue does: drop its oldest message, or hold the dispatcher."""

_MAX_TOPIC_BYTES: Final = 65535
_MAX_PAYLOAD_BYTES: Final = 268_435_455 - 65_535 - 4
_CLOSE_TIMEOUT: Final = 2.0
_SUBSCRIBE_BATCH: Final = 100
_LAST_SEEN_LIMIT: Final = 100_000
_AUTH_CODES: Final = frozenset({4, 5, 134, 135})


# --------------------------------------------------------------------------------------------
# Errors


class MQTTError(TetherError):
    """Root of the MQTT errors."""


class MQTTConnectError(MQTTError):
    """The broker could not be reached or refused the connection.

    Attributes:
        host: the broker's host.
        port: the broker's port.
    """

    def __init__(self, message: str, *, host: str, port: int) -> None:
        super().__init__(message)
        self.host = host
        self.port = port


class MQTTAuthenticationError(MQTTConnectError):
    """The broker refused the credentials (CONNACK "bad user name or password"/"not authorized")."""


class MQTTNotConnectedError(MQTTError, TimeoutError):
    """No connection to the broker came up within the timeout."""


class MQTTTimeoutError(MQTTError, TimeoutError):
    """The broker did not acknowledge an operation (PUBACK, SUBACK) in time."""


class MQTTSubscribeError(MQTTError):
    """The broker refused a subscription (SUBACK failure code, e.g. an ACL)."""


class MQTTClosedError(MQTTError, ClientClosedError):
    """The connection was closed; create a new :class:`MQTTConnection`."""


# --------------------------------------------------------------------------------------------
# Topics


def is_valid_topic(topic: str) -> bool:
    """Whether *topic* may be published to: not empty, no wildcards, no NUL, ≤ 65535 bytes."""
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        return False
    return len(topic.encode("utf-8", "surrogatepass")) <= _MAX_TOPIC_BYTES


def is_valid_topic_filter(topic_filter: str) -> bool:
    """Whether *topic_filter* is a valid MQTT filter (``+`` a whole level, ``#`` last and whole).

    >>> is_valid_topic_filter("a/+/b/#"), is_valid_topic_filter("a/b#")
    (True, False)
    """
    if not topic_filter or "\x00" in topic_filter:
        return False
    if len(topic_filter.encode("utf-8", "surrogatepass")) > _MAX_TOPIC_BYTES:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def validate_topic(topic: str) -> str:
    """Return *topic*, or raise :class:`~tether.ValidationError` if it cannot be published to."""
    if not isinstance(topic, str) or not is_valid_topic(topic):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValidationError(
            f"invalid MQTT topic {topic!r}: it must be non-empty text without '+' or '#'"
        )
    return topic


def validate_topic_filter(topic_filter: str) -> str:
    """Return *topic_filter*, or raise :class:`~tether.ValidationError` if it is malformed."""
    if not isinstance(topic_filter, str) or not is_valid_topic_filter(topic_filter):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValidationError(
            f"invalid MQTT topic filter {topic_filter!r}: '+' must fill a whole level and '#' "
            "must be the whole last level"
        )
    return topic_filter


def _levels_match(filter_levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    if filter_levels[0] in ("+", "#") and topic_levels[0].startswith("$"):
        return False
    count = len(topic_levels)
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= count or (level != "+" and level != topic_levels[index]):
            return False
    return len(filter_levels) == count


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether *topic* matches *topic_filter* (MQTT 3.1.1 rules, ``$`` topics included).

    ``#`` also matches the parent level, and a filter starting with a wildcard never matches
    a topic starting with ``$``.

    >>> topic_matches("sport/#", "sport"), topic_matches("#", "$SYS/uptime")
    (True, False)
    """
    return _levels_match(tuple(topic_filter.split("/")), topic.split("/"))


# --------------------------------------------------------------------------------------------
# Models


def _check_qos(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value not in (0, 1, 2):
        raise ValidationError(f"{attribute.name} must be 0, 1 or 2, not {value!r}")


def _check_positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValidationError(f"{attribute.name} must be positive, not {value!r}")


def _check_port(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 < value < 65536:
        raise ValidationError(f"{attribute.name} must be between 1 and 65535, not {value!r}")


def _to_bytes(payload: bytes | bytearray | memoryview | str | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, bytes):
        return payload
    return bytes(payload)


@attrs.frozen
class IncomingMessage:
    """One message received from the broker.

    Attributes:
        topic: the topic it was published to.
        payload: the raw payload.
        qos: the QoS it was delivered with.
        retain: ``True`` when the broker sent it from its retained store (on subscribe).
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False

    def text(self, encoding: str = "utf-8") -> str:
        """The payload decoded as text."""
        return self.payload.decode(encoding)


@attrs.frozen(kw_only=True)
class MQTTWill:
    """The last will the broker publishes if the connection ends without a DISCONNECT."""

    topic: str = attrs.field(validator=lambda _i, _a, v: validate_topic(v))
    payload: bytes = attrs.field(default=b"", converter=_to_bytes)
    qos: int = attrs.field(default=0, validator=_check_qos)
    retain: bool = False


@attrs.frozen(kw_only=True)
class MQTTSettings:
    """How to reach the broker, and how the connection behaves.

    The password is never shown in ``repr`` or logs.

    Attributes:
        host: the broker.
        port: the broker.
        username: MQTT credentials (``None`` for anonymous).
        password: MQTT credentials (``None`` for anonymous).
        tls: ``True`` for TLS with the system's default verification, or an ``SSLContext``.
        client_id: the MQTT client id; default ``tether-<random>`` (stable across reconnects).
        keepalive: seconds between PINGREQs when idle.
        connect_timeout: how long :meth:`MQTTConnection.connect` waits for the first connection.
        operation_timeout: default wait for a connection and the acknowledgement in
            :meth:`MQTTConnection.publish` and for a SUBACK.
        backoff_min: reconnect delays: ``backoff_min`` doubled on
        backoff_max: reconnect delays: ``backoff_min`` doubled on
        backoff_jitter: reconnect delays: ``backoff_min`` doubled on
            every failed attempt up to ``backoff_max``, minus up to ``backoff_jitter`` of it at
            random.
        max_queued_incoming: the bound of aiomqtt's incoming queue (its drops are counted).
        will: the last will, or ``None``.

    Example::

        MQTTSettings(host="leader.local", username="pioreactor", password="raspberry")
    """

    host: str
    port: int = attrs.field(default=1883, validator=_check_port)
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    tls: bool | ssl.SSLContext = False
    client_id: str | None = None
    keepalive: int = 60
    connect_timeout: float = attrs.field(default=10.0, validator=_check_positive)
    operation_timeout: float = attrs.field(default=10.0, validator=_check_positive)
    backoff_min: float = attrs.field(default=0.5, validator=_check_positive)
    backoff_max: float = attrs.field(default=30.0, validator=_check_positive)
    backoff_jitter: float = 0.2
    max_queued_incoming: int = attrs.field(default=10_000, validator=_check_positive)
    will: MQTTWill | None = None

    def __attrs_post_init__(self) -> None:
        if not self.host:
            raise ValidationError("host must not be empty")
        if self.keepalive < 0:
            raise ValidationError(f"keepalive must be >= 0, not {self.keepalive!r}")
        if self.backoff_min > self.backoff_max:
            raise ValidationError("backoff_min must not exceed backoff_max")
        if not 0 <= self.backoff_jitter <= 1:
            raise ValidationError("backoff_jitter must be between 0 and 1")

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


@attrs.frozen(kw_only=True)
class MQTTStats:
    """Counters of one :class:`MQTTConnection` (a snapshot).

    Attributes:
        connects: successful connections, the first one included.
        reconnects: successful connections after the first.
        messages_received: messages received from the broker.
        messages_dropped: messages dropped because aiomqtt's incoming queue was full.
        subscriber_drops: messages dropped by subscriber queues (``drop_oldest``), all summed.
        decode_errors: payloads a subscriber's ``decode`` rejected, all summed.
        published: successful publishes.
        subscriptions: open :class:`Subscription` streams.
        filters: distinct topic filters subscribed at the broker.
    """

    connects: int
    reconnects: int
    messages_received: int
    messages_dropped: int
    subscriber_drops: int
    decode_errors: int
    published: int
    subscriptions: int
    filters: int


# --------------------------------------------------------------------------------------------
# Subscriptions


class _Filter:
    """One distinct topic filter: its subscribers and the QoS asked of the broker."""

    __slots__ = ("levels", "qos", "subs", "topic_filter", "wild")

    def __init__(self, topic_filter: str) -> None:
        self.topic_filter = topic_filter
        self.levels = tuple(topic_filter.split("/"))
        self.wild = "+" in topic_filter or "#" in topic_filter
        self.qos = 0
        self.subs: list[Subscription[Any]] = []


class Subscription(Generic[T]):
    """A live stream of the messages matching one topic filter.

    Create it with :meth:`MQTTConnection.subscribe`; enter it to subscribe, iterate it to
    receive, leave it to unsubscribe. Iteration ends (``StopAsyncIteration``) when the
    subscription or its connection is closed, after the messages already queued.

    Example::

        async with conn.subscribe("sensors/+/temp", decode=lambda m: float(m.payload)) as temps:
            async for value in temps:
                ...

    Attributes:
        topic_filter: the filter.
        qos: the QoS asked of the broker.
        maxsize: the bound of this subscriber's queue.
        overflow: ``"drop_oldest"`` or ``"block"``.
        received: messages accepted into the queue.
        dropped: messages dropped because the queue was full (``drop_oldest``).
        decode_errors: messages ``decode`` raised on (logged, then skipped).
    """

    def __init__(
        self,
        connection: MQTTConnection,
        topic_filter: str,
        *,
        qos: int,
        decode: Callable[[IncomingMessage], T] | None,
        maxsize: int,
        overflow: Overflow,
    ) -> None:
        self._connection = connection
        self.topic_filter = topic_filter
        self.qos = qos
        self.maxsize = maxsize
        self.overflow: Overflow = overflow
        self._decode = decode
        self._queue: deque[IncomingMessage] = deque()
        self._last_seen: dict[str, bytes] = {}
        self._getter: asyncio.Future[None] | None = None
        self._putter: asyncio.Future[None] | None = None
        self._state: Literal["new", "open", "closed"] = "new"
        self._ended = False
        self._in_burst = False
        self.received = 0
        self.dropped = 0
        self.decode_errors = 0

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.topic_filter!r} qos={self.qos} state={self._state} "
            f"queued={len(self._queue)} dropped={self.dropped}>"
        )

    @property
    def closed(self) -> bool:
        """Whether the stream has ended (left, or its connection closed)."""
        return self._ended

    @property
    def pending(self) -> int:
        """Messages queued and not yet consumed."""
        return len(self._queue)

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a Subscription can only be entered once")
        self._state = "open"
        try:
            await self._connection._add(self)
        except BaseException:
            self._finish()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unsubscribe (if this was the filter's last subscriber) and end the stream."""
        if self._state == "closed":
            return
        self._finish()
        await self._connection._remove(self)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        queue = self._queue
        while True:
            if queue:
                message = queue.popleft()
                putter = self._putter
                if putter is not None and not putter.done():
                    putter.set_result(None)
                if not queue:
                    self._in_burst = False
                if self._decode is None:
                    return cast("T", message)
                try:
                    return self._decode(message)
                except Exception:
                    self._decode_failed(message)
                    continue
            if self._ended:
                raise StopAsyncIteration
            if self._state == "new":
                raise RuntimeError(
                    "enter the subscription first: `async with conn.subscribe(...) as stream:`"
                )
            getter = asyncio.get_running_loop().create_future()
            self._getter = getter
            try:
                await getter
            finally:
                self._getter = None

    def _decode_failed(self, message: IncomingMessage) -> None:
        self.decode_errors += 1
        count = self.decode_errors
        # Log the 1st, 10th, 100th... failure at WARNING (with the traceback); the rest at DEBUG.
        loud = count == 10 ** (len(str(count)) - 1)
        logger.log(
            logging.WARNING if loud else logging.DEBUG,
            "could not decode a message on %r for subscription %r (%d decode errors so far)",
            message.topic,
            self.topic_filter,
            count,
            exc_info=True,
        )

    def _offer(self, message: IncomingMessage) -> bool:
        """Queue *message*; ``False`` when the queue is full and the policy is ``block``."""
        if self._ended:
            return True
        if message.retain and self._last_seen.get(message.topic) == message.payload:
            return True  # a retained copy of what this subscriber already has
        queue = self._queue
        if len(queue) >= self.maxsize:
            if self.overflow == "block":
                return False
            queue.popleft()
            self.dropped += 1
            if not self._in_burst:
                self._in_burst = True
                logger.warning(
                    "subscription %r is full (maxsize=%d): dropping its oldest messages "
                    "(%d dropped so far)",
                    self.topic_filter,
                    self.maxsize,
                    self.dropped,
                )
        queue.append(message)
        last_seen = self._last_seen
        if len(last_seen) >= _LAST_SEEN_LIMIT and message.topic not in last_seen:
            last_seen.clear()
        last_seen[message.topic] = message.payload
        self.received += 1
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)
        return True

    async def _wait_space(self) -> None:
        if self._ended or len(self._queue) < self.maxsize:
            return
        putter = asyncio.get_running_loop().create_future()
        self._putter = putter
        try:
            await putter
        finally:
            self._putter = None

    def _finish(self) -> None:
        """End the stream: no new messages; queued ones may still be read."""
        self._state = "closed"
        self._ended = True
        for future in (self._getter, self._putter):
            if future is not None and not future.done():
                future.set_result(None)


# --------------------------------------------------------------------------------------------
# The connection


class _ConnectionLost(Exception):
    """Internal: the connection an operation was using went away."""


class _Session:
    """One live aiomqtt connection."""

    __slots__ = ("client", "lost", "ready")

    def __init__(self, client: aiomqtt.Client, lost: asyncio.Future[None]) -> None:
        self.client = client
        self.lost = lost
        self.ready = False


class MQTTConnection:
    """One MQTT connection shared by every stream and publish of a client.

    Use it as an async context manager (or ``await connect()`` / ``await close()``). One
    background task runs the aiomqtt client, reconnects with jittered exponential backoff and
    re-subscribes every registered filter after each reconnect.

    Example::

        async with MQTTConnection(MQTTSettings(host="127.0.0.1", port=1883)) as conn:
            await conn.publish("greetings", "hello", qos=1)
    """

    def __init__(self, settings: MQTTSettings) -> None:
        self._settings = settings
        self._client_id = settings.client_id or f"tether-{uuid.uuid4().hex[:12]}"
        self._task: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._closed = False
        self._fatal: MQTTError | None = None
        self._last_error: str | None = None
        self._changed: asyncio.Future[None] | None = None
        self._filters: dict[str, _Filter] = {}
        self._exact: dict[str, _Filter] = {}
        self._wild: list[_Filter] = []
        self._connects = 0
        self._received = 0
        self._incoming_dropped = 0
        self._incoming_burst = False
        self._published = 0
        self._retired_drops = 0
        self._retired_decode_errors = 0
        self._background: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "disconnected"
        return f"<MQTTConnection {self._settings.address} client_id={self._client_id!r} {state}>"

    # -- public state -----------------------------------------------------------------------

    @property
    def settings(self) -> MQTTSettings:
        """The settings this connection was made with."""
        return self._settings

    @property
    def client_id(self) -> str:
        """The MQTT client id (stable across reconnects)."""
        return self._client_id

    @property
    def address(self) -> str:
        """The broker's ``host:port``."""
        return self._settings.address

    @property
    def connected(self) -> bool:
        """Whether the connection is up and every registered filter is subscribed."""
        session = self._session
        return session is not None and session.ready and not self._closed

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def subscriptions(self) -> tuple[Subscription[Any], ...]:
        """The open streams."""
        return tuple(sub for f in self._filters.values() for sub in f.subs)

    @property
    def stats(self) -> MQTTStats:
        """A snapshot of the counters."""
        subs = self.subscriptions
        return MQTTStats(
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            messages_received=self._received,
            messages_dropped=self._incoming_dropped,
            subscriber_drops=self._retired_drops + sum(s.dropped for s in subs),
            decode_errors=self._retired_decode_errors + sum(s.decode_errors for s in subs),
            published=self._published,
            subscriptions=len(subs),
            filters=len(self._filters),
        )

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self, *, wait: bool = True) -> None:
        """Start the background task; with *wait*, return once connected and subscribed.

        Raises:
            MQTTAuthenticationError: the broker refused the credentials.
            MQTTConnectError: no connection within ``settings.connect_timeout`` (the
                connection is then closed).
        """
        if self._closed:
            raise MQTTClosedError("this MQTT connection is closed; create a new one")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"tether.mqtt {self.address}"
            )
        if not wait:
            return
        loop = asyncio.get_running_loop()
        try:
            await self._wait_ready(loop.time() + self._settings.connect_timeout)
        except MQTTNotConnectedError:
            reason = f": {self._last_error}" if self._last_error else ""
            error = MQTTConnectError(
                f"could not connect to the MQTT broker at {self.address} within "
                f"{self._settings.connect_timeout:g} s{reason}",
                host=self._settings.host,
                port=self._settings.port,
            )
            await self.close()
            raise error from None
        except (MQTTError, asyncio.CancelledError):
            await self.close()  # a failed or abandoned connect leaves nothing running
            raise

    async def close(self) -> None:
        """Disconnect, stop the background task and end every stream. Idempotent.

        Streams end at once (after their queued messages); the graceful DISCONNECT is
        bounded by a short timeout, so this never hangs on an unresponsive broker.
        """
        if not self._closed:
            self._closed = True
            for task in (self._task, *self._background):
                if task is not None:
                    task.cancel()
            for entry in list(self._filters.values()):
                for sub in entry.subs:
                    sub._finish()
            self._notify()
        pending = [t for t in (self._task, *self._background) if t is not None and not t.done()]
        if pending:
            # Shielded: cancelling close() must not interrupt the clean disconnect.
            await asyncio.shield(asyncio.gather(*pending, return_exceptions=True))

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until :attr:`connected` (default timeout: ``settings.connect_timeout``).

        Raises:
            MQTTNotConnectedError: not connected within *timeout*.
            MQTTClosedError: the connection is closed.
        """
        if self._task is None and not self._closed:
            raise MQTTError("call connect() first")
        wait = self._settings.connect_timeout if timeout is None else timeout
        await self._wait_ready(asyncio.get_running_loop().time() + wait)

    # -- operations -------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes | bytearray | memoryview | str | None = b"",
        qos: int = 0,
        retain: bool = False,
        *,
        timeout: float | None = None,
    ) -> None:
        """Publish *payload* (text is sent as UTF-8) to *topic*.

        Waits up to *timeout* (default ``settings.operation_timeout``) for a connection and,
        for QoS 1 and 2, for the broker's acknowledgement. A publish interrupted by a lost
        connection is sent again after the reconnect (at-least-once for QoS 1 and 2).

        Raises:
            ValidationError: bad topic or QoS.
            MQTTNotConnectedError: no connection within the timeout.
            MQTTTimeoutError: connected, but no acknowledgement within the timeout.
            MQTTClosedError: the connection is closed.
        """
        validate_topic(topic)
        if qos not in (0, 1, 2):
            raise ValidationError(f"qos must be 0, 1 or 2, not {qos!r}")
        data = _to_bytes(payload)
        if len(data) > _MAX_PAYLOAD_BYTES:
            raise ValidationError(f"payload of {len(data)} bytes exceeds MQTT's 256 MB limit")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._settings.operation_timeout if timeout is None else timeout)
        while True:
            session = self._session
            if session is None or not session.ready or self._closed:
                session = await self._wait_ready(deadline)
            remaining = max(deadline - loop.time(), 0.001)
            try:
                await self._guard(
                    session,
                    session.client.publish(topic, data, qos, retain, timeout=remaining),
                    deadline,
                )
            except _ConnectionLost:
                continue
            self._published += 1
            return

    @overload
    def subscribe(
        self,
        topic_filter: str,
        *,
        qos: int = 0,
        decode: None = None,
        maxsize: int = 1000,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription[IncomingMessage]: ...

    @overload
    def subscribe(
        self,
        topic_filter: str,
        *,
        qos: int = 0,
        decode: Callable[[IncomingMessage], T],
        maxsize: int = 1000,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription[T]: ...

    def subscribe(
        self,
        topic_filter: str,
        *,
        qos: int = 0,
        decode: Callable[[IncomingMessage], Any] | None = None,
        maxsize: int = 1000,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription[Any]:
        """A stream of the messages matching *topic_filter*, decoded by *decode*.

        Nothing is sent until the stream is entered (``async with``). Entering it while
        connected returns once the broker acknowledged the SUBSCRIBE; while disconnected it
        returns at once and the filter is subscribed on reconnect.

        Args:
            topic_filter: an MQTT filter (``+`` and ``#`` wildcards).
            qos: the QoS asked of the broker (the highest of a filter's subscribers is used).
            decode: turns an :class:`IncomingMessage` into the item to yield; a message it
                raises on is logged, counted in :attr:`Subscription.decode_errors` and skipped.
            maxsize: the bound of this subscriber's queue.
            overflow: ``"drop_oldest"`` (count and drop) or ``"block"`` (back-pressure).

        Example::

            async with conn.subscribe("a/+/b", decode=lambda m: m.text()) as stream:
                async for text in stream:
                    ...
        """
        validate_topic_filter(topic_filter)
        if qos not in (0, 1, 2):
            raise ValidationError(f"qos must be 0, 1 or 2, not {qos!r}")
        if maxsize < 1:
            raise ValidationError(f"maxsize must be at least 1, not {maxsize!r}")
        if overflow not in ("drop_oldest", "block"):
            raise ValidationError(f"overflow must be 'drop_oldest' or 'block', not {overflow!r}")
        if self._closed:
            raise MQTTClosedError("this MQTT connection is closed; create a new one")
        return Subscription(
            self, topic_filter, qos=qos, decode=decode, maxsize=maxsize, overflow=overflow
        )

    # -- registry ---------------------------------------------------------------------------

    async def _add(self, sub: Subscription[Any]) -> None:
        if self._closed:
            raise MQTTClosedError("this MQTT connection is closed; create a new one")
        topic_filter = sub.topic_filter
        entry = self._filters.get(topic_filter)
        if entry is None:
            entry = self._filters[topic_filter] = _Filter(topic_filter)
            if entry.wild:
                self._wild.append(entry)
            else:
                self._exact[topic_filter] = entry
        entry.subs.append(sub)
        entry.qos = max(entry.qos, sub.qos)
        session = self._session
        if session is None:
            return
        # Always (re-)send SUBSCRIBE: the broker then sends the retained messages to the
        # newcomer even when the filter was already subscribed.
        try:
            await self._subscribe_at_broker(session, [(topic_filter, entry.qos)])
        except _ConnectionLost:
            if self._closed:
                raise MQTTClosedError("the MQTT connection was closed") from None
            # Re-subscribed by the reconnect.
        except BaseException:
            self._detach(sub)
            if not entry.subs and not self._closed:
                # Cancelled or refused after the SUBSCRIBE went out: undo it in the background.
                task = asyncio.get_running_loop().create_task(self._unsubscribe(entry))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            raise

    async def _remove(self, sub: Subscription[Any]) -> None:
        entry = self._detach(sub)
        if entry is not None and not entry.subs:
            await self._unsubscribe(entry)

    async def _unsubscribe(self, entry: _Filter) -> None:
        session = self._session
        if session is None or self._closed or entry.topic_filter in self._filters:
            return
        timeout = self._settings.operation_timeout
        try:
            await self._guard(
                session,
                session.client.unsubscribe(entry.topic_filter, timeout=timeout),
                asyncio.get_running_loop().time() + timeout,
            )
        except (_ConnectionLost, MQTTError) as exc:
            logger.debug("UNSUBSCRIBE %r not confirmed: %s", entry.topic_filter, exc)

    def _detach(self, sub: Subscription[Any]) -> _Filter | None:
        entry = self._filters.get(sub.topic_filter)
        if entry is None or sub not in entry.subs:
            return None
        entry.subs.remove(sub)
        self._retired_drops += sub.dropped
        self._retired_decode_errors += sub.decode_errors
        if not entry.subs:
            del self._filters[entry.topic_filter]
            if entry.wild:
                self._wild.remove(entry)
            else:
                del self._exact[entry.topic_filter]
        return entry

    async def _subscribe_at_broker(self, session: _Session, pairs: list[tuple[str, int]]) -> None:
        timeout = self._settings.operation_timeout
        codes = await self._guard(
            session,
            session.client.subscribe(pairs, timeout=timeout),
            asyncio.get_running_loop().time() + timeout,
        )
        refused = [
            topic_filter
            for (topic_filter, _qos), code in zip(pairs, codes, strict=False)
            if _reason_value(code) >= 0x80
        ]
        if refused:
            raise MQTTSubscribeError(f"the broker at {self.address} refused {refused!r}")

    # -- plumbing ---------------------------------------------------------------------------

    def _notify(self) -> None:
        changed = self._changed
        self._changed = None
        if changed is not None and not changed.done():
            changed.set_result(None)

    async def _wait_ready(self, deadline: float) -> _Session:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise MQTTClosedError("this MQTT connection is closed; create a new one")
            if self._fatal is not None:
                raise self._fatal
            session = self._session
            if session is not None and session.ready:
                return session
            if self._task is None:
                raise MQTTError("call connect() first")
            remaining = deadline - loop.time()
            if remaining <= 0:
                reason = f" (last error: {self._last_error})" if self._last_error else ""
                raise MQTTNotConnectedError(
                    f"not connected to the MQTT broker at {self.address}{reason}"
                )
            if self._changed is None:
                self._changed = loop.create_future()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await asyncio.shield(self._changed)

    async def _guard(
        self, session: _Session, operation: Coroutine[Any, Any, _R], deadline: float
    ) -> _R:
        """Run an aiomqtt call; raise :class:`_ConnectionLost` if the connection goes first."""
        import aiomqtt

        if session.lost.done():
            operation.close()
            raise _ConnectionLost
        task = asyncio.ensure_future(operation)
        try:
            await asyncio.wait((task, session.lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task
            raise _ConnectionLost
        try:
            return task.result()
        except aiomqtt.MqttCodeError as exc:
            # paho refused the call: it saw the link break before the background task did.
            remaining = deadline - asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(remaining, 0)):
                    await asyncio.shield(session.lost)
            if session.lost.done():
                raise _ConnectionLost from exc
            raise MQTTNotConnectedError(
                f"the MQTT connection to {self.address} is not usable: {exc}"
            ) from None
        except aiomqtt.MqttError as exc:
            if session.lost.done():
                raise _ConnectionLost from exc
            raise MQTTTimeoutError(
                f"the MQTT broker at {self.address} did not acknowledge in time: {exc}"
            ) from None

    def _backoff(self, attempt: int) -> float:
        s = self._settings
        delay: float = min(s.backoff_max, s.backoff_min * 2.0 ** max(attempt - 1, 0))
        return delay * (1.0 - s.backoff_jitter * random.random())

    def _new_client(self) -> tuple[aiomqtt.Client, list[asyncio.Queue[aiomqtt.Message]]]:
        import aiomqtt

        s = self._settings
        connection = self
        inboxes: list[asyncio.Queue[aiomqtt.Message]] = []

        class _Inbox(asyncio.Queue[aiomqtt.Message]):
            """aiomqtt's incoming queue: bounded, and its drops are counted."""

            def __init__(self, maxsize: int = 0) -> None:
                super().__init__(maxsize)
                inboxes.append(self)

            def put_nowait(self, item: aiomqtt.Message) -> None:
                try:
                    super().put_nowait(item)
                except asyncio.QueueFull:
                    connection._incoming_overflow()

        tls_context: ssl.SSLContext | None
        if isinstance(s.tls, ssl.SSLContext):
            tls_context = s.tls
        elif s.tls:
            tls_context = ssl.create_default_context()
        else:
            tls_context = None
        will = None
        if s.will is not None:
            will = aiomqtt.Will(s.will.topic, s.will.payload, s.will.qos, s.will.retain)
        client = aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=self._client_id,
            logger=_client_logger,
            queue_type=_Inbox,
            keepalive=s.keepalive,
            will=will,
            clean_session=True,
            timeout=s.connect_timeout,
            max_queued_incoming_messages=s.max_queued_incoming,
            tls_context=tls_context,
        )
        return client, inboxes

    def _incoming_overflow(self) -> None:
        self._incoming_dropped += 1
        if not self._incoming_burst:
            self._incoming_burst = True
            logger.warning(
                "incoming MQTT queue is full (max_queued_incoming=%d): dropping messages "
                "(%d dropped so far); a subscriber with overflow='block' is too slow",
                self._settings.max_queued_incoming,
                self._incoming_dropped,
            )

    async def _run(self) -> None:
        """The background task: connect, serve, reconnect — until cancelled."""
        try:
            await self._run_forever()
        except Exception as exc:
            logger.exception("the MQTT connection task for %s failed", self.address)
            self._fatal = MQTTError(f"the MQTT connection task for {self.address} failed: {exc!r}")
            self._notify()

    async def _run_forever(self) -> None:
        import aiomqtt

        attempt = 0
        while True:
            client, inboxes = self._new_client()
            try:
                await self._connect_once(client)
            except aiomqtt.MqttError as exc:
                attempt += 1
                self._last_error = str(exc)
                if not isinstance(exc, aiomqtt.MqttCodeError) and "timed out" in str(exc):
                    self._last_error = "no CONNACK in time (is this an MQTT broker?)"
                if _is_auth_failure(exc):
                    error = MQTTAuthenticationError(
                        f"the MQTT broker at {self.address} refused the credentials: {exc}",
                        host=self._settings.host,
                        port=self._settings.port,
                    )
                    if self._connects == 0:
                        self._fatal = error
                        self._notify()
                        logger.error("%s", error)
                        return
                delay = self._backoff(attempt)
                logger.warning(
                    "cannot connect to the MQTT broker at %s (%s); retrying in %.2f s",
                    self.address,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            attempt = 1
            try:
                await self._serve(client, inboxes[0])
            except aiomqtt.MqttError as exc:
                self._last_error = f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)
                logger.warning(
                    "lost the connection to the MQTT broker at %s: %s",
                    self.address,
                    self._last_error,
                )
            except Exception:
                logger.exception("unexpected error in the MQTT connection to %s", self.address)
            await asyncio.sleep(self._backoff(attempt))

    async def _connect_once(self, client: aiomqtt.Client) -> None:
        """``client.__aenter__()``, letting a cancelled attempt finish cleanly."""
        import aiomqtt

        attempt = asyncio.ensure_future(client.__aenter__())
        try:
            await asyncio.shield(attempt)
            _disable_nagle(client)
        except aiomqtt.MqttError:
            _release_socket(client)
            raise
        except asyncio.CancelledError:
            # The socket connect runs in a thread: let it finish so nothing leaks, then leave.
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(attempt, _CLOSE_TIMEOUT + self._settings.connect_timeout)
            if attempt.done() and not attempt.cancelled() and attempt.exception() is None:
                with contextlib.suppress(Exception):
                    await client.__aexit__(None, None, None)
            else:
                _release_socket(client)
            raise

    async def _serve(self, client: aiomqtt.Client, inbox: asyncio.Queue[aiomqtt.Message]) -> None:
        """Run one connection until it is lost (raises ``MqttError``) or cancelled."""
        loop = asyncio.get_running_loop()
        client.timeout = _CLOSE_TIMEOUT  # bounds the graceful DISCONNECT on close()
        session = _Session(client, loop.create_future())
        self._session = session
        self._connects += 1
        logger.info(
            "connected to the MQTT broker at %s as %r%s",
            self.address,
            self._client_id,
            f" (reconnect #{self._connects - 1})" if self._connects > 1 else "",
        )
        resubscribe = loop.create_task(self._resubscribe(session))
        try:
            await self._pump(client, inbox)
        finally:
            self._session = None
            session.lost.set_result(None)
            resubscribe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resubscribe
            self._notify()
            try:
                await client.__aexit__(None, None, None)
            except Exception as exc:
                logger.debug("MQTT disconnect from %s: %s", self.address, exc)

    async def _resubscribe(self, session: _Session) -> None:
        pairs = [(f.topic_filter, f.qos) for f in self._filters.values()]
        for start in range(0, len(pairs), _SUBSCRIBE_BATCH):
            batch = pairs[start : start + _SUBSCRIBE_BATCH]
            try:
                await self._subscribe_at_broker(session, batch)
            except _ConnectionLost:
                return
            except MQTTError as exc:
                logger.error("re-subscribing on %s failed: %s", self.address, exc)
        if pairs:
            logger.debug("re-subscribed %d filters on %s", len(pairs), self.address)
        session.ready = True
        self._notify()

    async def _pump(self, client: aiomqtt.Client, inbox: asyncio.Queue[aiomqtt.Message]) -> None:
        """Move messages from aiomqtt to the subscribers; raises ``MqttError`` on a lost link."""
        messages = client.messages
        while True:
            try:
                message = inbox.get_nowait()
            except asyncio.QueueEmpty:
                self._incoming_burst = False
                message = await messages.__anext__()
            self._received += 1
            incoming = IncomingMessage(
                message.topic.value, message.payload, message.qos, message.retain
            )
            blocked: list[Subscription[Any]] | None = None
            for sub in self._targets(incoming.topic):
                if not sub._offer(incoming):
                    if blocked is None:
                        blocked = []
                    blocked.append(sub)
            if blocked is not None:
                for sub in blocked:
                    while not sub._offer(incoming):
                        await sub._wait_space()

    def _targets(self, topic: str) -> list[Subscription[Any]]:
        exact = self._exact.get(topic)
        targets: list[Subscription[Any]] = list(exact.subs) if exact is not None else []
        if self._wild:
            levels = topic.split("/")
            for entry in self._wild:
                if _levels_match(entry.levels, levels):
                    targets.extend(entry.subs)
        return targets


def _disable_nagle(client: aiomqtt.Client) -> None:
    """Send MQTT packets at once: with Nagle's algorithm a second small packet written right
    after another waits for the broker's delayed ACK (~40 ms on Linux), which is how a
    notification followed by a payload picked up 42 ms in the Ratio1 deploy sequence."""
    paho_client: Any = getattr(client, "_client", None)
    sock: Any = paho_client.socket() if paho_client is not None else None
    if sock is not None and getattr(sock, "family", None) in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _release_socket(client: aiomqtt.Client) -> None:
    """Close paho's socket after a CONNACK that never came (aiomqtt 2.5 leaves it open).

    paho's ``disconnect()`` sends DISCONNECT and then closes the socket through aiomqtt's
    socket callbacks, which also unregister it from the event loop.
    """
    paho_client: Any = getattr(client, "_client", None)
    if paho_client is not None and paho_client.socket() is not None:
        paho_client.disconnect()


def _reason_value(code: object) -> int:
    value: object = getattr(code, "value", code)
    return value if isinstance(value, int) else 0x80


def _is_auth_failure(exc: BaseException) -> bool:
    from aiomqtt.exceptions import MqttConnectError

    if not isinstance(exc, MqttConnectError):
        return False
    rc: object = exc.rc
    return _reason_value(rc) in _AUTH_CODES
