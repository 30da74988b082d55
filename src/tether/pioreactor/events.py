"""Live data from a Pioreactor cluster, over MQTT (needs ``tether[mqtt]``).

Each method returns a stream: an async context manager that subscribes, and an async iterator
of typed events. Retained values (a job's current ``$state`` and settings) arrive first. Filters
take a unit / experiment / job name, or ``"+"`` for any::

    async with client.events.od_readings(experiment="demo") as readings:
        async for reading in readings:
            print(reading.unit, reading.od)

The blocking client gives a context manager and a plain iterator::

    with client.events.od_readings(experiment="demo") as readings:
        for reading in readings:
            ...
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast

import attrs

from tether._core.blocking import BlockingContextManager, Facade, iterate
from tether._core.errors import JobTimeoutError, ValidationError
from tether._core.models import decode_datetime
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import (
    BROADCAST,
    check_experiment_ref,
    check_setting_value,
    check_unit_ref,
    check_worker_name,
)
from tether.pioreactor.models import BackgroundJobState, LogLevel

if TYPE_CHECKING:
    from tether._core.mqtt import IncomingMessage, Subscription
    from tether.pioreactor._client import AsyncPioreactor

__all__ = [
    "AsyncEvents",
    "EventStream",
    "Events",
    "GrowthRate",
    "JobStateEvent",
    "LogEvent",
    "ODReading",
    "SettingEvent",
    "Temperature",
]

T = TypeVar("T")
ANY = "+"


@attrs.frozen
class JobStateEvent:
    """A job's ``$state`` changed (or, with ``retained``, is currently this)."""

    unit: str
    experiment: str
    job: str
    state: BackgroundJobState | None
    retained: bool = False


@attrs.frozen
class SettingEvent:
    """A job published a setting. ``value`` is decoded (numbers, booleans, JSON); ``None``
    when the setting was cleared (the job stopped)."""

    unit: str
    experiment: str
    job: str
    setting: str
    value: Any
    raw: str
    retained: bool = False


@attrs.frozen
class ODReading:
    """One optical-density reading of one channel."""

    unit: str
    experiment: str
    timestamp: datetime
    channel: str
    od: float
    angle: str | None = None
    calibrated: bool = False


@attrs.frozen
class GrowthRate:
    """An estimate of the culture's growth rate (per hour)."""

    unit: str
    experiment: str
    timestamp: datetime
    growth_rate: float


@attrs.frozen
class Temperature:
    """A temperature reading (°C)."""

    unit: str
    experiment: str
    timestamp: datetime
    temperature: float


@attrs.frozen
class LogEvent:
    """A log line published by a job, the API or the task queue."""

    unit: str
    experiment: str
    source: str
    level: LogLevel
    message: str
    task: str | None = None
    timestamp: datetime | None = None


def decode_value(text: str) -> Any:
    """Payloads are text: numbers, ``True``/``False``, JSON, or plain strings; empty is None."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def encode_value(value: str | int | float | bool | None) -> str:
    """A setting value as the jobs expect it on ``/set`` (booleans as ``True``/``False``)."""
    if value is None:
        return ""
    return str(value)


def _levels(message: IncomingMessage) -> list[str]:
    return message.topic.split("/")


def _json(message: IncomingMessage) -> dict[str, Any]:
    data = json.loads(message.payload)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object on {message.topic}")
    return cast(dict[str, Any], data)


def _job_state(message: IncomingMessage) -> JobStateEvent:
    levels = _levels(message)
    text = message.payload.decode()
    return JobStateEvent(
        unit=levels[1],
        experiment=levels[2],
        job=levels[3],
        state=BackgroundJobState(text) if text else None,
        retained=message.retain,
    )


def _setting(message: IncomingMessage) -> SettingEvent:
    levels = _levels(message)
    text = message.payload.decode()
    return SettingEvent(
        unit=levels[1],
        experiment=levels[2],
        job=levels[3],
        setting=levels[4],
        value=decode_value(text),
        raw=text,
        retained=message.retain,
    )


def _od_readings(message: IncomingMessage) -> list[ODReading]:
    levels = _levels(message)
    data = _json(message)
    readings: list[ODReading] = []
    for channel, raw in cast(dict[str, Any], data.get("ods", {})).items():
        reading = cast(dict[str, Any], raw)
        readings.append(
            ODReading(
                unit=levels[1],
                experiment=levels[2],
                timestamp=decode_datetime(reading.get("timestamp") or data["timestamp"]),
                channel=str(reading.get("channel", channel)),
                od=float(reading["od"]),
                angle=str(reading["angle"]) if reading.get("angle") is not None else None,
                calibrated=bool(reading.get("calibrated", 0)),
            )
        )
    return readings


def _growth_rate(message: IncomingMessage) -> GrowthRate:
    levels = _levels(message)
    data = _json(message)
    return GrowthRate(
        unit=levels[1],
        experiment=levels[2],
        timestamp=decode_datetime(data["timestamp"]),
        growth_rate=float(data["growth_rate"]),
    )


def _temperature(message: IncomingMessage) -> Temperature:
    levels = _levels(message)
    data = _json(message)
    return Temperature(
        unit=levels[1],
        experiment=levels[2],
        timestamp=decode_datetime(data["timestamp"]),
        temperature=float(data["temperature"]),
    )


def _log(message: IncomingMessage) -> LogEvent:
    levels = _levels(message)
    data = _json(message)
    stamp = data.get("timestamp")
    return LogEvent(
        unit=levels[1],
        experiment=levels[2],
        source=str(data.get("source", levels[4] if len(levels) > 4 else "")),
        level=LogLevel(str(data.get("level", levels[-1])).upper()),
        message=str(data.get("message", "")),
        task=data.get("task"),
        timestamp=decode_datetime(stamp) if stamp else None,
    )


def _filter_part(value: str, check: Callable[[object], str]) -> str:
    return value if value == ANY else check(value)


class EventStream(Generic[T]):
    """A live stream: subscribes when entered, yields typed events, unsubscribes on exit.

    ``dropped`` counts messages discarded because this consumer fell behind (the queue is
    bounded; the oldest are dropped first and a warning is logged).
    """

    def __init__(
        self,
        client: AsyncPioreactor,
        topic: str,
        decode: Callable[[IncomingMessage], list[T]],
        *,
        maxsize: int = 1000,
    ) -> None:
        self._client = client
        self.topic = topic
        self._decode = decode
        self._maxsize = maxsize
        self._subscription: Subscription[list[T]] | None = None
        self._buffer: list[T] = []

    def __repr__(self) -> str:
        return f"<EventStream {self.topic}>"

    async def __aenter__(self) -> Self:
        connection = await self._client._mqtt_connection()
        subscription = connection.subscribe(
            self.topic, qos=1, decode=self._decode, maxsize=self._maxsize
        )
        await subscription.__aenter__()
        self._subscription = subscription
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        if self._subscription is None:
            raise ValidationError("enter the stream first: `async with client.events.… as s:`")
        while not self._buffer:
            self._buffer = list(await self._subscription.__anext__())
        return self._buffer.pop(0)

    async def aclose(self) -> None:
        """Unsubscribe (idempotent)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            await subscription.aclose()

    @property
    def dropped(self) -> int:
        """Messages dropped because this consumer fell behind."""
        return self._subscription.dropped if self._subscription is not None else 0


def _one(decode: Callable[[IncomingMessage], T]) -> Callable[[IncomingMessage], list[T]]:
    return lambda message: [decode(message)]


class AsyncEvents(PioreactorResource):
    """Live data streams and MQTT commands of a Pioreactor cluster."""

    def job_states(
        self, *, unit: str = ANY, experiment: str = ANY, job: str = ANY
    ) -> EventStream[JobStateEvent]:
        """Job ``$state`` changes; retained current states arrive first."""
        topic = "/".join(
            (
                "pioreactor",
                _filter_part(unit, check_worker_name),
                _filter_part(experiment, check_experiment_ref),
                job,
                "$state",
            )
        )
        return EventStream(self._client, topic, _one(_job_state))

    def settings(
        self, job: str, *, setting: str = ANY, unit: str = ANY, experiment: str = ANY
    ) -> EventStream[SettingEvent]:
        """Published settings of *job* (retained current values first)."""
        if not job or job == ANY:
            raise ValidationError("name the job whose settings to follow, e.g. 'stirring'")
        topic = "/".join(
            (
                "pioreactor",
                _filter_part(unit, check_worker_name),
                _filter_part(experiment, check_experiment_ref),
                job,
                setting,
            )
        )
        return EventStream(self._client, topic, _one(_setting))

    def od_readings(self, *, unit: str = ANY, experiment: str = ANY) -> EventStream[ODReading]:
        """OD readings, one event per channel (``od_reading/ods``)."""
        topic = "/".join(
            (
                "pioreactor",
                _filter_part(unit, check_worker_name),
                _filter_part(experiment, check_experiment_ref),
                "od_reading",
                "ods",
            )
        )
        return EventStream(self._client, topic, _od_readings)

    def growth_rates(self, *, unit: str = ANY, experiment: str = ANY) -> EventStream[GrowthRate]:
        """Growth-rate estimates (``growth_rate_calculating/growth_rate``)."""
        topic = "/".join(
            (
                "pioreactor",
                _filter_part(unit, check_worker_name),
                _filter_part(experiment, check_experiment_ref),
                "growth_rate_calculating",
                "growth_rate",
            )
        )
        return EventStream(self._client, topic, _one(_growth_rate))

    def temperatures(self, *, unit: str = ANY, experiment: str = ANY) -> EventStream[Temperature]:
        """Temperature readings (``temperature_automation/temperature``)."""
        topic = "/".join(
            (
                "pioreactor",
                _filter_part(unit, check_worker_name),
                _filter_part(experiment, check_experiment_ref),
                "temperature_automation",
                "temperature",
            )
        )
        return EventStream(self._client, topic, _one(_temperature))

    def logs(
        self, *, unit: str = ANY, experiment: str = ANY, level: str = ANY
    ) -> EventStream[LogEvent]:
        """Log lines; *level* filters on one level (``"warning"``), ``"+"`` for all."""
        topic = "/".join(
            (
                "pioreactor",
                _filter_part(unit, check_worker_name),
                _filter_part(experiment, check_experiment_ref),
                "logs",
                "+",
                level.lower() if level != ANY else ANY,
            )
        )
        return EventStream(self._client, topic, _one(_log))

    async def set(
        self,
        job: str,
        setting: str,
        value: str | int | float | bool | None,
        *,
        experiment: str,
        unit: str = BROADCAST,
    ) -> None:
        """Change a running job's setting over MQTT (``…/{setting}/set``, QoS 1, not retained).

        The job applies it and republishes the setting; watch :meth:`settings` to see it.
        """
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        check_setting_value(job, setting, value)
        connection = await self._client._mqtt_connection()
        topic = f"pioreactor/{unit}/{experiment}/{job}/{setting}/set"
        await connection.publish(topic, encode_value(value), qos=1, retain=False)

    async def wait_for_state(
        self,
        job: str,
        state: BackgroundJobState | str,
        *,
        unit: str,
        experiment: str,
        timeout: float = 30.0,
    ) -> JobStateEvent:
        """Wait until *job* on *unit* reaches *state* (push-driven: no polling).

        Raises:
            JobTimeoutError: the state was not reached within *timeout* seconds.
        """
        target = BackgroundJobState(state)
        check_worker_name(unit)
        last: list[JobStateEvent] = []
        stream = self.job_states(unit=unit, experiment=experiment, job=job)
        try:
            async with asyncio.timeout(timeout):
                async with stream:
                    async for event in stream:
                        last[:] = [event]
                        if event.state == target:
                            return event
        except TimeoutError:
            pass
        seen = last[0].state if last else None
        raise JobTimeoutError(
            f"{job} on {unit} did not reach {target.value!r} within {timeout}s"
            + (f" (last state: {seen})" if seen else ""),
            job_id=f"{unit}/{experiment}/{job}",
            status=str(seen) if seen else None,
        )


def _blocking_stream(stream: EventStream[T]) -> BlockingContextManager[Iterator[T]]:
    return BlockingContextManager(stream, convert=iterate)


class Events(Facade[AsyncEvents], mirrors=AsyncEvents):
    """Blocking twin of :class:`AsyncEvents`: streams are ``with`` blocks yielding iterators."""

    def job_states(
        self, *, unit: str = ANY, experiment: str = ANY, job: str = ANY
    ) -> BlockingContextManager[Iterator[JobStateEvent]]:
        """Job ``$state`` changes; retained current states arrive first."""
        stream = self._wrapped.job_states(unit=unit, experiment=experiment, job=job)
        return _blocking_stream(stream)

    def settings(
        self, job: str, *, setting: str = ANY, unit: str = ANY, experiment: str = ANY
    ) -> BlockingContextManager[Iterator[SettingEvent]]:
        """Published settings of *job* (retained current values first)."""
        stream = self._wrapped.settings(job, setting=setting, unit=unit, experiment=experiment)
        return _blocking_stream(stream)

    def od_readings(
        self, *, unit: str = ANY, experiment: str = ANY
    ) -> BlockingContextManager[Iterator[ODReading]]:
        """OD readings, one event per channel (``od_reading/ods``)."""
        stream = self._wrapped.od_readings(unit=unit, experiment=experiment)
        return _blocking_stream(stream)

    def growth_rates(
        self, *, unit: str = ANY, experiment: str = ANY
    ) -> BlockingContextManager[Iterator[GrowthRate]]:
        """Growth-rate estimates (``growth_rate_calculating/growth_rate``)."""
        stream = self._wrapped.growth_rates(unit=unit, experiment=experiment)
        return _blocking_stream(stream)

    def temperatures(
        self, *, unit: str = ANY, experiment: str = ANY
    ) -> BlockingContextManager[Iterator[Temperature]]:
        """Temperature readings (``temperature_automation/temperature``)."""
        stream = self._wrapped.temperatures(unit=unit, experiment=experiment)
        return _blocking_stream(stream)

    def logs(
        self, *, unit: str = ANY, experiment: str = ANY, level: str = ANY
    ) -> BlockingContextManager[Iterator[LogEvent]]:
        """Log lines; *level* filters on one level (``"warning"``), ``"+"`` for all."""
        stream = self._wrapped.logs(unit=unit, experiment=experiment, level=level)
        return _blocking_stream(stream)

    def set(
        self,
        job: str,
        setting: str,
        value: str | int | float | bool | None,
        *,
        experiment: str,
        unit: str = BROADCAST,
    ) -> None:
        """Change a running job's setting over MQTT (``…/{setting}/set``, QoS 1, not retained)."""
        return self._run(self._wrapped.set, job, setting, value, experiment=experiment, unit=unit)

    def wait_for_state(
        self,
        job: str,
        state: BackgroundJobState | str,
        *,
        unit: str,
        experiment: str,
        timeout: float = 30.0,
    ) -> JobStateEvent:
        """Wait until *job* on *unit* reaches *state* (push-driven: no polling)."""
        return self._run(
            self._wrapped.wait_for_state,
            job,
            state,
            unit=unit,
            experiment=experiment,
            timeout=timeout,
        )
