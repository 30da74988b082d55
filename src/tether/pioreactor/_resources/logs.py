"""Stored logs (cluster, experiment, unit, unit in experiment, unit-wide system logs) and
posting a log line into an experiment's log stream."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import (
    BROADCAST,
    check_experiment_ref,
    check_unit_ref,
)
from tether.pioreactor.models import LogEntry, LogLevel

__all__ = ["AsyncLogs", "Logs", "check_level", "iso_timestamp"]

LEVELS = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR")
MAX_RECENT_LINES = 100


def check_level(level: object, what: str = "min_level") -> str:
    """A log level (``LogLevel`` or its name, any case) → its upper-case name."""
    text = level.value if isinstance(level, LogLevel) else level
    if not isinstance(text, str) or text.upper() not in LEVELS:
        raise ValidationError(f"{what} must be one of {', '.join(LEVELS)}, not {level!r}")
    return text.upper()


def iso_timestamp(moment: datetime, what: str = "timestamp") -> str:
    """A time-zone-aware datetime as ISO 8601 UTC with milliseconds and ``Z``."""
    if not isinstance(moment, datetime):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValidationError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            f"{what} must be time-zone aware (e.g. datetime.now(timezone.utc)), got {moment!r}"
        )
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _check_lines(lines: object) -> int:
    if not isinstance(lines, int) or isinstance(lines, bool) or not 1 <= lines <= MAX_RECENT_LINES:
        raise ValidationError(f"lines must be an integer from 1 to 100, not {lines!r}")
    return lines


def _check_skip(skip: object) -> int:
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise ValidationError(f"skip must be an integer >= 0, not {skip!r}")
    return skip


class AsyncLogs(PioreactorResource):
    """Logs stored by the leader: pages of 100, newest first, at or above ``min_level``.

    Example::

        for entry in await client.logs.list(experiment="demo", min_level="WARNING"):
            print(entry.timestamp, entry.pioreactor_unit, entry.message)
        await client.logs.post("media changed", experiment="demo", unit="pio1")
    """

    async def list(
        self,
        *,
        experiment: str | None = None,
        unit: str | None = None,
        min_level: LogLevel | str = LogLevel.INFO,
        skip: int = 0,
    ) -> builtins.list[LogEntry]:
        """One page (100 entries) of stored logs, newest first.

        Args:
            experiment: only this experiment's logs.
            unit: only this unit's logs (with *experiment*: while it was assigned to it).
            min_level: the lowest level to include.
            skip: how many newer entries to skip (pages: 0, 100, 200, …).
        """
        level = check_level(min_level)
        _check_skip(skip)
        if experiment is not None:
            check_experiment_ref(experiment)
        if unit is not None:
            check_unit_ref(unit)
        if experiment is not None and unit is not None:
            url = path("/api/workers/{u}/experiments/{e}/logs", u=unit, e=experiment)
        elif experiment is not None:
            url = path("/api/experiments/{e}/logs", e=experiment)
        elif unit is not None:
            url = path("/api/units/{u}/logs", u=unit)
        else:
            url = "/api/logs"
        return await self._get(url, {"min_level": level, "skip": skip or None})

    async def recent(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lines: int = 50,
        min_level: LogLevel | str = LogLevel.INFO,
    ) -> builtins.list[LogEntry]:
        """The last *lines* (1–100) entries of *experiment* from the past 24 hours.

        With *unit*, that unit's entries, unit-wide (``$experiment``) ones included.
        """
        check_experiment_ref(experiment)
        level = check_level(min_level)
        _check_lines(lines)
        if unit is not None:
            check_unit_ref(unit)
            url = path("/api/workers/{u}/experiments/{e}/recent_logs", u=unit, e=experiment)
        else:
            url = path("/api/experiments/{e}/recent_logs", e=experiment)
        return await self._get(url, {"min_level": level, "lines": lines})

    async def system(
        self, unit: str, *, min_level: LogLevel | str = LogLevel.INFO, skip: int = 0
    ) -> builtins.list[LogEntry]:
        """One page of *unit*'s system logs (those not tied to an experiment), newest first."""
        check_unit_ref(unit)
        level = check_level(min_level)
        _check_skip(skip)
        url = path("/api/units/{u}/system_logs", u=unit)
        return await self._get(url, {"min_level": level, "skip": skip or None})

    async def post(
        self,
        message: str,
        *,
        experiment: str,
        unit: str = BROADCAST,
        level: LogLevel | str = LogLevel.INFO,
        source: str = "ui",
        task: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        """Add a line to *experiment*'s log, as *unit* (``$broadcast``: every assigned unit).

        The leader publishes it over MQTT and answers at once; it is stored (and readable with
        :meth:`list`) within about a second.

        Args:
            message: the text.
            level: ``DEBUG`` … ``ERROR``.
            source: who wrote it (the UI uses ``"ui"``).
            task: the task name shown next to the message.
            timestamp: a time-zone-aware time; default now. The stored log keeps it.
        """
        _check_text(message, "message")
        check_experiment_ref(experiment)
        check_unit_ref(unit)
        level_name = check_level(level, "level")
        _check_text(source, "source")
        moment = iso_timestamp(timestamp if timestamp is not None else datetime.now(UTC))
        body: dict[str, Any] = {
            "message": message,
            "source": source,
            "level": level_name,
            "timestamp": moment,
        }
        if task is not None:
            body["task"] = task
        await self._request(
            "POST",
            path("/api/workers/{u}/experiments/{e}/logs", u=unit, e=experiment),
            json=body,
        )

    async def _get(self, url: str, params: dict[str, Any]) -> builtins.list[LogEntry]:
        response = await self._request("GET", url, params=params)
        return self._decode(response_json(response), builtins.list[LogEntry], response=response)


class Logs(Facade[AsyncLogs], mirrors=AsyncLogs):
    """Blocking twin of :class:`AsyncLogs`."""

    def list(
        self,
        *,
        experiment: str | None = None,
        unit: str | None = None,
        min_level: LogLevel | str = LogLevel.INFO,
        skip: int = 0,
    ) -> builtins.list[LogEntry]:
        """One page (100 entries) of stored logs, newest first.

        Args:
            experiment: only this experiment's logs.
            unit: only this unit's logs (with *experiment*: while it was assigned to it).
            min_level: the lowest level to include.
            skip: how many newer entries to skip (pages: 0, 100, 200, …).
        """
        return self._run(
            self._wrapped.list, experiment=experiment, unit=unit, min_level=min_level, skip=skip
        )

    def recent(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lines: int = 50,
        min_level: LogLevel | str = LogLevel.INFO,
    ) -> builtins.list[LogEntry]:
        """The last *lines* (1–100) entries of *experiment* from the past 24 hours.

        With *unit*, that unit's entries, unit-wide (``$experiment``) ones included.
        """
        return self._run(
            self._wrapped.recent, experiment, unit=unit, lines=lines, min_level=min_level
        )

    def system(
        self, unit: str, *, min_level: LogLevel | str = LogLevel.INFO, skip: int = 0
    ) -> builtins.list[LogEntry]:
        """One page of *unit*'s system logs (those not tied to an experiment), newest first."""
        return self._run(self._wrapped.system, unit, min_level=min_level, skip=skip)

    def post(
        self,
        message: str,
        *,
        experiment: str,
        unit: str = BROADCAST,
        level: LogLevel | str = LogLevel.INFO,
        source: str = "ui",
        task: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        """Add a line to *experiment*'s log, as *unit* (``$broadcast``: every assigned unit).

        The leader publishes it over MQTT and answers at once; it is stored (and readable with
        :meth:`list`) within about a second.

        Args:
            message: the text.
            level: ``DEBUG`` … ``ERROR``.
            source: who wrote it (the UI uses ``"ui"``).
            task: the task name shown next to the message.
            timestamp: a time-zone-aware time; default now. The stored log keeps it.
        """
        return self._run(
            self._wrapped.post,
            message,
            experiment=experiment,
            unit=unit,
            level=level,
            source=source,
            task=task,
            timestamp=timestamp,
        )
