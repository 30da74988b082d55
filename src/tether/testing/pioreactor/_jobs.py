"""Simulated Pioreactor jobs: published settings, the ``$state`` machine and ``/set`` handling.

A job behaves like upstream's ``BackgroundJob`` (``shared/reference/pioreactor.md`` §6.4):

- start: ``$state`` ``init``, every setting with a value (retained, QoS 2), then ``ready``;
- ``…/{setting}/set``: parsed by the setting's datatype, republished, logged
  ``Updated x from a to b.``; read-only and unparsable values log a WARNING;
- ``…/$state/set``: ``sleeping``, ``ready`` or ``disconnected``;
- clean stop: ``$state`` ``disconnected``, every non-persistent setting cleared with an empty
  retained payload, ``Disconnected.`` logged;
- crash: the broker's last will, ``$state`` ``lost``; the job record stays "running".

Which settings and options each job has comes from the real leader's ``/unit_api/capabilities``
answer (``data/capabilities.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final, Protocol

import attrs

from tether.testing.pioreactor._growth import Culture, Heater
from tether.testing.pioreactor._wire import iso_us, utcnow

__all__ = [
    "JobContext",
    "JobSpec",
    "SettingSpec",
    "SimJob",
    "cast_bytes_to_type",
    "encode_setting",
    "job_specs",
]

SCALAR_TYPES: Final = frozenset({"string", "float", "integer", "boolean", "json"})
ONE_SHOT_JOBS: Final = frozenset({"led_intensity", "add_media", "remove_waste", "add_alt_media"})
STALE_RECORD_JOBS: Final = frozenset({"led_intensity"})
"""One-shot jobs whose record stays ``is_running=1`` after they exit (seen on 26.11.1: a
``led_intensity`` run leaves a ``job_source="CLI"`` row until the experiment's jobs are stopped)."""
PUMP_DEVICES: Final[Mapping[str, str]] = {
    "add_media": "media_pump",
    "remove_waste": "waste_pump",
    "add_alt_media": "alt_media_pump",
}
LOG_LEVELS: Final = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR")


@attrs.frozen
class SettingSpec:
    """One published setting of a job, as ``/unit_api/capabilities`` describes it."""

    name: str
    datatype: str
    settable: bool
    unit: str | None = None
    persist: bool = False


@attrs.frozen
class JobSpec:
    """A job the simulator can run: its options and published settings."""

    name: str
    options: tuple[str, ...]
    settings: tuple[SettingSpec, ...]

    def setting(self, name: str) -> SettingSpec | None:
        """The spec of setting *name*, or None."""
        for spec in self.settings:
            if spec.name == name:
                return spec
        return None


@cache
def _capabilities() -> list[dict[str, Any]]:
    text = resources.files("tether.testing.pioreactor").joinpath("data/capabilities.json")
    loaded: list[dict[str, Any]] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


@cache
def job_specs() -> dict[str, JobSpec]:
    """Every simulated job by name (variants such as automations are merged)."""
    options: dict[str, list[str]] = {}
    settings: dict[str, dict[str, SettingSpec]] = {}
    for entry in _capabilities():
        name: str = entry["job_name"]
        names = options.setdefault(name, [])
        if entry.get("automation_name") is not None and "automation_name" not in names:
            names.append("automation_name")
        for option in entry["options"]:
            if option["name"] not in names:
                names.append(option["name"])
        specs = settings.setdefault(name, {})
        for key, meta in entry["published_settings"].items():
            if key == "$state":
                continue
            specs[key] = SettingSpec(
                name=key,
                datatype=meta["datatype"],
                settable=bool(meta["settable"]),
                unit=meta.get("unit"),
                persist=bool(meta.get("persist", False)),
            )
    return {
        name: JobSpec(name, tuple(options[name]), tuple(settings[name].values()))
        for name in options
    }


def encode_setting(value: Any) -> bytes:
    """Encode a setting's value as a job publishes it (§6.3): text numbers, ``True``/``False``,
    compact JSON for structs, an empty payload for None.

    >>> encode_setting(400.0), encode_setting(True), encode_setting({"a": 1})
    (b'400.0', b'True', b'{"a":1}')
    """
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":")).encode()
    return str(value).encode()


def cast_bytes_to_type(payload: bytes, datatype: str) -> Any:
    """Parse a ``/set`` payload like upstream's ``cast_bytes_to_type``; raises ValueError or
    TypeError when it does not fit *datatype*."""
    if datatype == "string":
        return payload.decode()
    if datatype == "float":
        return float(payload)
    if datatype == "integer":
        return int(payload)
    if datatype == "boolean":
        decoded = payload.decode().lower()
        if decoded in ("true", "1", "y", "on", "yes", "t"):
            return True
        if decoded in ("false", "0", "n", "off", "no", "f"):
            return False
        raise ValueError(f"Unable to cast {payload!r} to boolean.")
    if datatype == "json":
        return json.loads(payload)
    raise TypeError(f"{datatype} not found.")


def _format(value: Any, unit: str | None) -> str:
    text = f"{value}" if unit is None else (f"{value}{unit}" if unit == "%" else f"{value} {unit}")
    return text[:40] + (text[40:] and "...")


class JobContext(Protocol):
    """What a job needs from the simulator around it."""

    leader_unit: str

    async def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        """Publish on the cluster's broker."""
        ...

    async def log(
        self, unit: str, experiment: str, task: str, level: str, message: str, source: str = "app"
    ) -> None:
        """Publish a log line on ``pioreactor/<unit>/<exp>/logs/<source>/<level>``."""
        ...

    def hours(self, seconds: float) -> float:
        """Simulated hours for *seconds* of wall time."""
        ...

    def culture(self, unit: str, experiment: str) -> Culture:
        """The culture growing in *unit* for *experiment*."""
        ...

    def heater(self, unit: str, experiment: str) -> Heater:
        """The heater model of *unit* for *experiment*."""
        ...

    def tick_seconds(self) -> float:
        """Wall seconds between periodic readings."""
        ...

    def od_reading_running(self, unit: str, experiment: str) -> bool:
        """Whether an od_reading job of *unit* runs in *experiment*."""
        ...


class SimJob:
    """One running job on one unit."""

    def __init__(
        self,
        context: JobContext,
        spec: JobSpec,
        *,
        unit: str,
        experiment: str,
        job_id: int,
        options: Mapping[str, Any],
        rng: random.Random,
    ) -> None:
        self.context = context
        self.spec = spec
        self.unit = unit
        self.experiment = experiment
        self.job_id = job_id
        self.options = dict(options)
        self.rng = rng
        self.state = "init"
        self.alive = True
        """False once the job's process is gone (finished one-shot job, crash, stop)."""
        stale = spec.name in STALE_RECORD_JOBS
        self.job_source = "CLI" if stale else "user"
        self.record_leader = "" if stale else context.leader_unit
        self.values: dict[str, Any] = {}
        self.started_at = utcnow()
        self.ended_at: datetime | None = None
        self.is_running = True
        self.pid = rng.randint(2_000, 60_000)
        self._started_monotonic = time.monotonic()
        self._last_tick = self._started_monotonic
        self._loop: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        """The job's name (``stirring``)."""
        return self.spec.name

    @property
    def long_running(self) -> bool:
        """False for one-shot jobs (``led_intensity``, pumps) that exit after acting."""
        return self.spec.name not in ONE_SHOT_JOBS

    def _topic(self, setting: str) -> str:
        return f"pioreactor/{self.unit}/{self.experiment}/{self.spec.name}/{setting}"

    async def _log(self, level: str, message: str) -> None:
        await self.context.log(self.unit, self.experiment, self.spec.name, level, message)

    async def _publish_state(self) -> None:
        await self.context.publish(self._topic("$state"), self.state.encode(), qos=2, retain=True)

    async def _set(self, name: str, value: Any) -> None:
        # publish first, then record: like upstream, the broker hears of it before the database
        await self.context.publish(self._topic(name), encode_setting(value), qos=2, retain=True)
        self.values[name] = value

    async def _announce_state(self, state: str) -> None:
        self.state = state
        await self._publish_state()
        level = "INFO" if state in ("ready", "disconnected", "lost") else "DEBUG"
        await self._log(level, state.capitalize() + ".")

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Publish ``init``, the initial settings, then ``ready``; start the periodic loop."""
        await self._announce_state("init")
        for name, value in self._initial_values().items():
            if value is None:
                self.values[name] = None
            else:
                await self._set(name, value)
        await self._announce_state("ready")
        if self.spec.name == "stirring":
            await self._publish_pwm({"1": float(self.values.get("duty_cycle") or 0.0)})
        if self.long_running:
            self._loop = asyncio.create_task(self._run(), name=f"sim-{self.unit}-{self.name}")
        else:
            await self._act_once()

    def _initial_values(self) -> dict[str, Any]:
        opts = self.options
        name = self.spec.name
        if name == "stirring":
            target = float(opts.get("target_rpm", 500.0))
            return {
                "target_rpm": target,
                "enable_dodging_od": _truthy(opts.get("enable_dodging_od", False)),
                "currently_dodging_od": False,
                "duty_cycle": float(opts.get("duty_cycle", round(target / 30.0, 2))),
                "measured_rpm": None,
                "target_rpm_during_od_reading": None,
                "target_rpm_outside_od_reading": None,
            }
        if name == "od_reading":
            return {
                "first_od_obs_time": None,
                "ir_led_intensity": float(opts.get("ir_led_intensity", 85.0)),
                "interval": float(opts.get("interval", self.context.tick_seconds())),
                "ods": None,
                "od2": None,
            }
        if name == "growth_rate_calculating":
            return {"growth_rate": None, "od_filtered": None}
        if name == "temperature_automation":
            automation = str(opts.get("automation_name", "only_record_temperature"))
            values: dict[str, Any] = {"automation_name": automation}
            if automation == "thermostat":
                values["target_temperature"] = float(opts.get("target_temperature", 30.0))
            values["heater_duty_cycle"] = 0.0
            values["temperature"] = None
            values["latest_event"] = None
            return values
        return {}

    def _period(self) -> float:
        if self.spec.name == "od_reading":
            return max(0.01, float(self.values.get("interval") or self.context.tick_seconds()))
        return self.context.tick_seconds()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period())
            now = time.monotonic()
            elapsed, self._last_tick = now - self._last_tick, now
            if self.state != "ready":
                continue
            async with self._lock:
                await self._tick(elapsed)

    async def _tick(self, elapsed: float) -> None:
        name = self.spec.name
        now = utcnow()
        stamp = iso_us(now)
        if name == "stirring":
            rpm = float(self.values.get("target_rpm") or 0.0)
            measured = max(0.0, rpm + self.rng.gauss(0.0, 4.0)) if rpm > 0 else 0.0
            await self._set(
                "measured_rpm", {"measured_rpm": round(measured, 1), "timestamp": stamp}
            )
            output = round(0.007 * (rpm - measured), 6)
            pid = {
                "setpoint": rpm,
                "output_limits_lb": -7.5,
                "output_limits_ub": 7.5,
                "Kd": 0.0,
                "Ki": 0.0,
                "Kp": 0.007,
                "integral": 0.0,
                "proportional": output,
                "derivative": 0.0,
                "latest_input": round(measured, 1),
                "latest_output": output,
                "job_name": "stirring",
                "target_name": "rpm",
            }
            await self.context.publish(
                f"pioreactor/{self.unit}/{self.experiment}/pid_log/rpm",
                encode_setting(pid),
                qos=0,
                retain=False,
            )
        elif name == "od_reading":
            culture = self.context.culture(self.unit, self.experiment)
            hours = self.context.hours(culture.age_seconds())
            od = round(culture.od(hours), 10)
            ir = float(self.values.get("ir_led_intensity") or 85.0)
            await self._publish_leds({"A": ir, "B": 0.0, "C": 0.0, "D": 0.0})
            if self.values.get("first_od_obs_time") is None:
                await self._set("first_od_obs_time", now.timestamp())
            reading = {
                "calibrated": 0,
                "timestamp": stamp,
                "angle": "90",
                "od": od,
                "channel": "2",
                "ir_led_intensity": self.values.get("ir_led_intensity", 85.0),
            }
            await self._set("ods", {"timestamp": stamp, "ods": {"2": reading}})
            await self._set("od2", reading)
            await self._publish_leds({"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0})
            if self.rng.random() <= 0.2:  # upstream samples it on a fifth of the readings
                await self._set(
                    "relative_intensity_of_ir_led",
                    {"relative_intensity_of_ir_led": 1.0, "timestamp": stamp},
                )
        elif name == "growth_rate_calculating":
            if not self.context.od_reading_running(self.unit, self.experiment):
                return
            culture = self.context.culture(self.unit, self.experiment)
            hours = self.context.hours(culture.age_seconds())
            await self._set(
                "growth_rate",
                {"growth_rate": round(culture.growth_rate(hours), 6), "timestamp": stamp},
            )
            await self._set(
                "od_filtered",
                {"od_filtered": round(culture.normalized_od(hours), 6), "timestamp": stamp},
            )
        elif name == "temperature_automation":
            heater = self.context.heater(self.unit, self.experiment)
            wanted = self.values.get("target_temperature")
            celsius = heater.step(wanted, self.context.hours(elapsed))
            await self._set("temperature", {"timestamp": stamp, "temperature": round(celsius, 4)})
            await self._set("heater_duty_cycle", heater.duty_cycle(wanted))

    async def _publish_leds(self, levels: dict[str, float]) -> None:
        await self.context.publish(
            f"pioreactor/{self.unit}/{self.experiment}/leds/intensity",
            encode_setting(levels),
            qos=0,
            retain=True,
        )

    async def _publish_pwm(self, channels: dict[str, float]) -> None:
        payload = {"timestamp": iso_us(utcnow()), "channels": channels}
        await self.context.publish(
            f"pioreactor/{self.unit}/{self.experiment}/pwms/channel_dc",
            encode_setting(payload),
            qos=0,
            retain=True,
        )

    async def _act_once(self) -> None:
        name = self.spec.name
        stamp = iso_us(utcnow())
        if name == "led_intensity":
            levels = {channel: 0.0 for channel in "ABCD"}
            for channel in "ABCD":
                for key in (channel, channel.lower()):
                    if key in self.options:
                        levels[channel] = float(self.options[key])
            base = f"pioreactor/{self.unit}/{self.experiment}"
            await self.context.publish(
                f"{base}/leds/intensity", encode_setting(levels), qos=0, retain=True
            )
            for channel, level in levels.items():
                if level:
                    event = {
                        "channel": channel,
                        "intensity": level,
                        "source_of_event": "CLI",
                        "timestamp": stamp,
                    }
                    await self.context.publish(
                        f"{base}/led_change_events", encode_setting(event), qos=0, retain=False
                    )
        else:
            ml = float(self.options.get("ml") or 0.5)
            await self._log("INFO", _PUMP_MESSAGES[name].format(ml=ml))
        await self._finish()

    async def _finish(self) -> None:
        self.state = "disconnected"
        self.alive = False
        if self.spec.name not in STALE_RECORD_JOBS:
            self.is_running = False
            self.ended_at = utcnow()

    # -- MQTT control -----------------------------------------------------------------------------

    async def on_set(self, setting: str, payload: bytes) -> None:
        """Handle ``…/<setting>/set`` (``$state`` included) like ``_set_attr_from_message``."""
        if not self.alive or self.state in ("disconnected", "lost"):
            return
        async with self._lock:
            attr = setting.lstrip("$")
            if attr == "state":
                await self._set_state_from_payload(payload)
                return
            spec = self.spec.setting(attr)
            if spec is None:
                await self._log(
                    "DEBUG",
                    f"Unable to set `{attr}` in {self.name}. `{attr}` is not a published_setting.",
                )
                return
            if not spec.settable:
                await self._log(
                    "WARNING", f"Unable to set `{attr}` in {self.name}. `{attr}` is read-only."
                )
                return
            try:
                value = cast_bytes_to_type(payload, spec.datatype)
            except (TypeError, ValueError, UnicodeDecodeError):
                await self._log(
                    "WARNING",
                    f"Unable to set `{attr}` in {self.name}. "
                    f"Payload is not valid for datatype `{spec.datatype}`.",
                )
                return
            previous = self.values.get(attr)
            await self._set(attr, value)
            before, after = _format(previous, spec.unit), _format(value, spec.unit)
            await self._log("INFO", f"Updated {attr} from {before} to {after}.")

    async def _set_state_from_payload(self, payload: bytes) -> None:
        wanted = payload.decode(errors="replace")
        if wanted not in ("init", "ready", "sleeping", "disconnected", "lost"):
            await self._log("ERROR", f"saw {wanted}: not a valid state")
            return
        if wanted == self.state:
            return
        previous = self.state
        if wanted == "disconnected":
            await self._log("INFO", f"Updated state from {previous} to {wanted}.")
            await self._stop_locked()
            return
        await self._announce_state(wanted)
        await self._log("INFO", f"Updated state from {previous} to {wanted}.")

    async def stop(self) -> None:
        """Clean stop: ``disconnected``, clear non-persistent settings, ``Disconnected.``."""
        async with self._lock:
            await self._stop_locked()

    async def _stop_locked(self) -> None:
        if not self.is_running:
            return
        self._cancel_loop()
        if not self.alive:  # the process is gone: only the record is closed
            self.is_running = False
            self.ended_at = utcnow()
            return
        await self._announce_state("disconnected")
        if self.spec.name == "stirring":
            await self._publish_pwm({})
        for name, value in list(self.values.items()):
            spec = self.spec.setting(name)
            if value is not None and not (spec is not None and spec.persist):
                await self.context.publish(self._topic(name), b"", qos=2, retain=True)
        self.values.clear()
        self.alive = False
        self.is_running = False
        self.ended_at = utcnow()

    async def crash(self) -> None:
        """Die without cleaning up: the broker publishes the last will ``lost``."""
        async with self._lock:
            self._cancel_loop()
            self.alive = False
            self.state = "lost"
            await self._publish_state()

    def _cancel_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and loop is not asyncio.current_task():
            loop.cancel()

    async def close(self) -> None:
        """Cancel the periodic loop without publishing (simulator shutdown)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    def settings_row(self) -> dict[str, Any]:
        """The job's settings as the unit's database returns them: booleans ``0``/``1``,
        structs as JSON strings, unset values left out."""
        row: dict[str, Any] = {"$state": self.state}
        for name, value in self.values.items():
            if value is None:
                continue
            if isinstance(value, bool):
                row[name] = int(value)
            elif isinstance(value, dict | list):
                row[name] = json.dumps(value, separators=(",", ":"))
            else:
                row[name] = value
        return row


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1", "y", "on", "yes", "t")
    return bool(value)


_PUMP_MESSAGES: Final[Mapping[str, str]] = {
    "add_media": "Adding {ml}mL media.",
    "remove_waste": "Removing {ml}mL waste.",
    "add_alt_media": "Adding {ml}mL alt media.",
}
