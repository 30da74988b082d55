"""Time series the leader stores from MQTT: OD readings, growth rates, temperature, any column.

Each method reads one experiment, for every unit or for one (``unit=``), over the last
``lookback`` hours, down-sampled by the leader to about ``target_points`` points per series.
"""

from __future__ import annotations

import math
import re
from typing import Final

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import check_experiment_ref, check_worker_name
from tether.pioreactor.models import TimeSeries

__all__ = ["AsyncTimeSeriesReader", "TimeSeriesReader"]

MAX_LOOKBACK_HOURS: Final = 1_000_000.0
MAX_TARGET_POINTS: Final = 1_000_000
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_lookback(lookback: object) -> float | None:
    if lookback is None:
        return None
    if isinstance(lookback, bool) or not isinstance(lookback, int | float):
        raise ValidationError(f"lookback must be a number of hours, not {lookback!r}")
    if not math.isfinite(lookback) or not 0 <= lookback <= MAX_LOOKBACK_HOURS:
        raise ValidationError(f"lookback must be from 0 to 1e6 hours, not {lookback!r}")
    return float(lookback)


def _check_points(target_points: object) -> int | None:
    if target_points is None:
        return None
    if (
        isinstance(target_points, bool)
        or not isinstance(target_points, int)
        or not 1 <= target_points <= MAX_TARGET_POINTS
    ):
        raise ValidationError(
            f"target_points must be an integer from 1 to 1e6, not {target_points!r}"
        )
    return target_points


def _check_identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValidationError(
            f"{what} must be a table or column name (letters, digits, underscores), not {value!r}"
        )
    return value


class AsyncTimeSeriesReader(PioreactorResource):
    """Stored time series of an experiment (``series[i]`` names ``data[i]``).

    Example::

        od = await client.time_series.od_readings("demo", lookback=2, target_points=200)
        for name, points in od.by_series().items():
            print(name, points[-1].y)
    """

    async def _fetch(
        self,
        source: str,
        experiment: str,
        unit: str | None,
        lookback: float | None,
        target_points: int | None,
    ) -> TimeSeries:
        check_experiment_ref(experiment)
        if unit is not None:
            check_worker_name(unit)
        params = {
            "lookback": _check_lookback(lookback),
            "target_points": _check_points(target_points),
        }
        if unit is None:
            url = path("/api/experiments/{e}/time_series/", e=experiment) + source
        else:
            url = (
                path("/api/workers/{u}/experiments/{e}/time_series/", u=unit, e=experiment) + source
            )
        response = await self._request("GET", url, params=params)
        return self._decode(response_json(response), TimeSeries, response=response)

    async def od_readings(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Calibrated or raw OD per unit and channel (series ``"pio1-2"``).

        Args:
            experiment: the experiment.
            unit: one unit only (default: every unit).
            lookback: hours back from now, 0 to 1e6 (leader default 4).
            target_points: points per series after down-sampling, 1 to 1e6 (default 720).
        """
        return await self._fetch("od_readings", experiment, unit, lookback, target_points)

    async def od_readings_filtered(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Normalised, filtered OD from growth-rate calculation, per unit."""
        return await self._fetch("od_readings_filtered", experiment, unit, lookback, target_points)

    async def od_readings_fused(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """The fused OD estimate per unit (leaders ≥ 26.2.3)."""
        contract = await self._contract()
        contract.require(contract.has_fused_od, "the od_readings_fused time series", "26.2.3")
        return await self._fetch("od_readings_fused", experiment, unit, lookback, target_points)

    async def raw_od_readings(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Raw (uncalibrated) OD voltages per unit and channel."""
        return await self._fetch("raw_od_readings", experiment, unit, lookback, target_points)

    async def growth_rates(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Implied growth rate (per hour) per unit."""
        return await self._fetch("growth_rates", experiment, unit, lookback, target_points)

    async def temperature_readings(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Vial temperature (°C) per unit."""
        return await self._fetch("temperature_readings", experiment, unit, lookback, target_points)

    async def column(
        self,
        experiment: str,
        data_source: str,
        column: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Any stored column of a table, per unit (e.g. ``"stirring_rates"``,
        ``"measured_rpm"``)."""
        source = _check_identifier(data_source, "data_source")
        name = _check_identifier(column, "column")
        return await self._fetch(f"{source}/{name}", experiment, unit, lookback, target_points)


class TimeSeriesReader(Facade[AsyncTimeSeriesReader], mirrors=AsyncTimeSeriesReader):
    """Blocking twin of :class:`AsyncTimeSeriesReader`."""

    def od_readings(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Calibrated or raw OD per unit and channel (series ``"pio1-2"``).

        Args:
            experiment: the experiment.
            unit: one unit only (default: every unit).
            lookback: hours back from now, 0 to 1e6 (leader default 4).
            target_points: points per series after down-sampling, 1 to 1e6 (default 720).
        """
        return self._run(
            self._wrapped.od_readings,
            experiment,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )

    def od_readings_filtered(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Normalised, filtered OD from growth-rate calculation, per unit."""
        return self._run(
            self._wrapped.od_readings_filtered,
            experiment,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )

    def od_readings_fused(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """The fused OD estimate per unit (leaders ≥ 26.2.3)."""
        return self._run(
            self._wrapped.od_readings_fused,
            experiment,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )

    def raw_od_readings(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Raw (uncalibrated) OD voltages per unit and channel."""
        return self._run(
            self._wrapped.raw_od_readings,
            experiment,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )

    def growth_rates(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Implied growth rate (per hour) per unit."""
        return self._run(
            self._wrapped.growth_rates,
            experiment,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )

    def temperature_readings(
        self,
        experiment: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Vial temperature (°C) per unit."""
        return self._run(
            self._wrapped.temperature_readings,
            experiment,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )

    def column(
        self,
        experiment: str,
        data_source: str,
        column: str,
        *,
        unit: str | None = None,
        lookback: float | None = None,
        target_points: int | None = None,
    ) -> TimeSeries:
        """Any stored column of a table, per unit (e.g. ``"stirring_rates"``,
        ``"measured_rpm"``)."""
        return self._run(
            self._wrapped.column,
            experiment,
            data_source,
            column,
            unit=unit,
            lookback=lookback,
            target_points=target_points,
        )
