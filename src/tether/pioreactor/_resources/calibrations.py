"""Calibrations of units' devices: list, create, activate, delete, protocols and sessions.

Every call except the sessions and the zip goes through the leader's task queue: the leader
asks each worker and the result is a :class:`~tether.pioreactor.FanOut` keyed by unit. A
calibration is free-form YAML on the unit, so its fields stay a ``dict``.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.http import Response
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.models import json_object
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._tasks import done_job, task_job
from tether.pioreactor._validation import BROADCAST, check_unit_ref, check_worker_name
from tether.pioreactor.models import CalibrationProtocol, FanOut

__all__ = [
    "AsyncCalibrations",
    "Calibrations",
    "check_name",
    "dump_calibration",
    "unit_task",
]

Records = dict[str, builtins.list[dict[str, Any]]]


def check_name(value: object, what: str) -> str:
    """A device, calibration or estimator name: one non-empty path segment."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty string")
    if "/" in value or "\\" in value or value in (".", ".."):
        raise ValidationError(f"{what} {value!r} must not contain '/' or '\\' or be '.'/'..'")
    return value


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"datetime {value!r} in calibration_data needs a time zone")
    return value.isoformat().replace("+00:00", "Z")


def _yaml(value: object, where: str) -> str:
    """*value* as a YAML 1.1 flow scalar, sequence or mapping (what the leader's loader reads)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{where} is {value!r}; calibrations need finite numbers")
        text = repr(value)
        if "e" in text and "." not in text:  # YAML 1.1 floats need a dot: 1e-05 → 1.0e-05
            text = text.replace("e", ".0e", 1)
        return text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML double-quoted one
    if isinstance(value, datetime):
        return _timestamp(value)  # unquoted: the leader wants a YAML timestamp, not text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        parts: list[str] = []
        for key, item in cast("Mapping[object, object]", value).items():
            if not isinstance(key, str):
                raise ValidationError(f"{where} has a non-string key {key!r}")
            parts.append(f"{json.dumps(key, ensure_ascii=False)}: {_yaml(item, f'{where}.{key}')}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list | tuple):
        items = cast("Iterable[object]", value)
        return "[" + ", ".join(_yaml(item, f"{where}[]") for item in items) + "]"
    raise ValidationError(
        f"{where} is a {type(value).__name__}; use strings, numbers, datetimes, lists and maps"
    )


def dump_calibration(data: str | Mapping[str, Any]) -> str:
    """Calibration YAML from text (sent as is) or a mapping.

    A mapping is written as one YAML flow mapping, with no YAML library: strings are quoted,
    ``datetime`` values (time-zone aware) become YAML timestamps. ``created_at`` may also be
    given as ISO 8601 text; it is sent as a timestamp, which is what the leader requires.

    >>> dump_calibration({"calibration_type": "simple_stirring", "calibration_name": "c1"})
    '{"calibration_type": "simple_stirring", "calibration_name": "c1"}'
    """
    if isinstance(data, str):
        if not data.strip():
            raise ValidationError("calibration_data must not be empty")
        return data
    if not isinstance(data, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValidationError(
            f"calibration_data must be YAML text or a mapping, not {type(data).__name__}"
        )
    for key in ("calibration_type", "calibration_name"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValidationError(f"calibration_data needs a non-empty string {key!r}")
    fields = dict(data)
    created = fields.get("created_at")
    if isinstance(created, str):
        try:
            fields["created_at"] = datetime.fromisoformat(created)
        except ValueError:
            raise ValidationError(
                f"created_at {created!r} is not an ISO 8601 time (e.g. 2026-11-22T00:00:00Z)"
            ) from None
    return _yaml(fields, "calibration_data")


class _DeviceFiles(PioreactorResource):
    """What calibrations and estimators share: per-device YAML files and an active one each."""

    _plural = "calibrations"
    _active = "active_calibrations"
    _feature: tuple[str, str] | None = None  # (what, since) when the routes are version-bound

    async def _require(self) -> None:
        if self._feature is not None:
            contract = await self._contract()
            what, since = self._feature
            contract.require(contract.has_estimators, what, since)

    async def _fanout(
        self, method: str, template: str, decoder: str, describe: str, **params: str
    ) -> Job[Any]:
        await self._require()
        return await self._task(
            method, path(template, **params), decoder=decoder, describe=describe
        )

    async def _list(self, unit: str) -> Job[Any]:
        check_unit_ref(unit)
        return await self._fanout(
            "GET",
            f"/api/workers/{{u}}/{self._plural}",
            "fanout:device_files",
            f"{self._plural} on {unit}",
            u=unit,
        )

    async def _for_device(self, device: str, unit: str) -> Job[Any]:
        check_name(device, "device")
        check_unit_ref(unit)
        return await self._fanout(
            "GET",
            f"/api/workers/{{u}}/{self._plural}/{{d}}",
            "fanout:dicts",
            f"{device} {self._plural} on {unit}",
            u=unit,
            d=device,
        )

    async def _retrieve(self, device: str, name: str, unit: str) -> Job[Any]:
        check_name(device, "device")
        check_name(name, "name")
        check_unit_ref(unit)
        return await self._fanout(
            "GET",
            f"/api/workers/{{u}}/{self._plural}/{{d}}/{{n}}",
            "fanout:dict",
            f"{device}/{name} on {unit}",
            u=unit,
            d=device,
            n=name,
        )

    async def _delete(self, device: str, name: str, unit: str) -> Job[Any]:
        check_name(device, "device")
        check_name(name, "name")
        check_unit_ref(unit)
        return await self._fanout(
            "DELETE",
            f"/api/workers/{{u}}/{self._plural}/{{d}}/{{n}}",
            "fanout:dict",
            f"delete {device}/{name} on {unit}",
            u=unit,
            d=device,
            n=name,
        )

    async def _active_map(self, unit: str) -> Job[Any]:
        check_unit_ref(unit)
        return await self._fanout(
            "GET",
            f"/api/workers/{{u}}/{self._active}",
            "fanout:active",
            f"{self._active} on {unit}",
            u=unit,
        )

    async def _set_active(self, device: str, name: str, unit: str) -> Job[Any]:
        check_name(device, "device")
        check_name(name, "name")
        check_unit_ref(unit)
        return await self._fanout(
            "PATCH",
            f"/api/workers/{{u}}/{self._active}/{{d}}/{{n}}",
            "fanout:dict",
            f"activate {device}/{name} on {unit}",
            u=unit,
            d=device,
            n=name,
        )

    async def _clear_active(self, device: str, unit: str) -> Job[Any]:
        check_name(device, "device")
        check_unit_ref(unit)
        return await self._fanout(
            "DELETE",
            f"/api/workers/{{u}}/{self._active}/{{d}}",
            "fanout:dict",
            f"deactivate {device} on {unit}",
            u=unit,
            d=device,
        )


class AsyncCalibrations(_DeviceFiles):
    """Device calibrations on workers (``unit="$broadcast"``: every worker).

    Example::

        found = await client.calibrations.list("pio1")
        print(found["pio1"].value)              # {"stirring": [{...}, ...]}
        await client.calibrations.set_active("stirring", "my-cal", unit="pio1")
    """

    @JobMethod
    async def list(self, unit: str = BROADCAST) -> Job[FanOut[Records]]:
        """Every calibration of every device, per unit (``{"stirring": [{…}]}``; ``{}``: none)."""
        return await self._list(unit)

    @JobMethod
    async def for_device(
        self, device: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[builtins.list[dict[str, Any]]]]:
        """The calibrations of *device* (``"stirring"``, ``"od"``, ``"media_pump"``…) per unit.

        A unit without that device's folder is a failed unit (``http_error`` 404).
        """
        return await self._for_device(device, unit)

    @JobMethod
    async def retrieve(
        self, device: str, name: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """One calibration, per unit (a unit without it fails with ``http_error`` 404)."""
        return await self._retrieve(device, name, unit)

    @JobMethod
    async def create(
        self,
        device: str,
        calibration_data: str | Mapping[str, Any],
        *,
        unit: str = BROADCAST,
        set_as_active: bool = False,
    ) -> Job[FanOut[dict[str, Any]]]:
        """Store a calibration on *unit*; per unit ``{"msg": …, "path": …}``.

        Args:
            device: the device folder on the unit, e.g. ``"stirring"``; it must exist there.
            calibration_data: the calibration as YAML text, or as a mapping (written as JSON,
                which is YAML too). It needs ``calibration_type`` (``simple_stirring``,
                ``simple_peristaltic_pump``, ``od``, ``od600``), ``calibration_name``,
                ``calibrated_on_pioreactor_unit``, ``created_at``, ``curve_data_``, ``x``,
                ``y``, ``recorded_data`` and the type's own fields.
            unit: a worker, or ``"$broadcast"``.
            set_as_active: make it the device's active calibration.

        Raises:
            ValidationError: malformed input, before any request.
            BadRequestError: the leader rejected the YAML (before any task).

        Example::

            await client.calibrations.create("stirring", {
                "calibration_type": "simple_stirring", "calibration_name": "cal1",
                "calibrated_on_pioreactor_unit": "pio1", "created_at": "2026-11-22T00:00:00Z",
                "curve_data_": {"type": "poly", "coefficients": [10.0, 50.0]},
                "x": "DC %", "y": "RPM", "recorded_data": {"x": [10, 20], "y": [150, 250]},
                "pwm_hz": 200.0, "voltage": 5.0,
            }, unit="pio1")
        """
        check_name(device, "device")
        check_unit_ref(unit)
        if not isinstance(set_as_active, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValidationError("set_as_active must be True or False")
        text = dump_calibration(calibration_data)
        return await self._task(
            "POST",
            path("/api/workers/{u}/calibrations/{d}", u=unit, d=device),
            json={"calibration_data": text, "set_as_active": set_as_active},
            decoder="fanout:dict",
            describe=f"create a {device} calibration on {unit}",
        )

    @JobMethod
    async def delete(
        self, device: str, name: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """Delete one calibration; per unit ``{"msg": …}``."""
        return await self._delete(device, name, unit)

    @JobMethod
    async def active(self, unit: str = BROADCAST) -> Job[FanOut[dict[str, dict[str, Any]]]]:
        """The active calibration of each device, per unit (``{"stirring": {…}}``)."""
        return await self._active_map(unit)

    @JobMethod
    async def set_active(
        self, device: str, name: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """Make calibration *name* the active one of *device* (an unknown name fails the unit)."""
        return await self._set_active(device, name, unit)

    @JobMethod
    async def clear_active(
        self, device: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """Leave *device* without an active calibration."""
        return await self._clear_active(device, unit)

    @JobMethod
    async def protocols(
        self, unit: str = BROADCAST
    ) -> Job[FanOut[builtins.list[CalibrationProtocol]]]:
        """The calibration protocols each unit offers (leaders ≥ 26.2.3)."""
        check_unit_ref(unit)
        contract = await self._contract()
        contract.require(contract.has_estimators, "calibration protocols", "26.2.3")
        return await self._task(
            "GET",
            path("/api/workers/{u}/calibration_protocols", u=unit),
            decoder="fanout:protocols",
            describe=f"calibration protocols on {unit}",
        )

    async def zipped(self, unit: str = BROADCAST) -> bytes:
        """Every calibration of *unit* as a zip of YAML files (``$broadcast``: one folder per
        worker)."""
        check_unit_ref(unit)
        response = await self._request("GET", path("/api/workers/{u}/zipped_calibrations", u=unit))
        return response.content

    # -- sessions (guided calibration, one unit at a time) ------------------------------------

    async def _session_check(self, unit: str) -> None:
        check_worker_name(unit)
        contract = await self._contract()
        contract.require(contract.has_estimators, "calibration sessions", "26.2.3")

    async def start_session(
        self, unit: str, *, target_device: str, protocol_name: str
    ) -> dict[str, Any]:
        """Start a guided calibration on *unit*: ``{"session": {…}, "step": {…}}``.

        Pick *target_device* and *protocol_name* from :meth:`protocols`.
        """
        check_name(target_device, "target_device")
        check_name(protocol_name, "protocol_name")
        await self._session_check(unit)
        response = await self._request(
            "POST",
            path("/api/workers/{u}/calibrations/sessions", u=unit),
            json={"target_device": target_device, "protocol_name": protocol_name},
        )
        return self._decode(response_json(response), dict[str, Any], response=response)

    async def retrieve_session(self, unit: str, session_id: str) -> dict[str, Any]:
        """A session and its current step: ``{"session": {…}, "step": {…}}``."""
        check_name(session_id, "session_id")
        await self._session_check(unit)
        response = await self._request(
            "GET",
            path("/api/workers/{u}/calibrations/sessions/{s}", u=unit, s=session_id),
        )
        return self._decode(response_json(response), dict[str, Any], response=response)

    async def abort_session(self, unit: str, session_id: str) -> dict[str, Any]:
        """Abort a session; the answer shows it ``aborted``."""
        check_name(session_id, "session_id")
        await self._session_check(unit)
        response = await self._request(
            "POST",
            path("/api/workers/{u}/calibrations/sessions/{s}/abort", u=unit, s=session_id),
        )
        return self._decode(response_json(response), dict[str, Any], response=response)

    @JobMethod
    async def session_inputs(
        self, unit: str, session_id: str, inputs: Mapping[str, Any] | None = None
    ) -> Job[dict[str, Any]]:
        """Answer the current step and advance: the result is ``{"session", "step"}``.

        The unit runs the step as a task (it may wait on hardware for minutes); the leader
        relays the unit's task through ``/api/workers/{unit}/task_results/…``.
        """
        check_name(session_id, "session_id")
        await self._session_check(unit)
        if inputs is not None and not isinstance(inputs, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValidationError("inputs must be a mapping of field name to value")
        response = await self._request(
            "POST",
            path("/api/workers/{u}/calibrations/sessions/{s}/inputs", u=unit, s=session_id),
            json={"inputs": dict(inputs or {})},
        )
        return await unit_task(
            self, response, unit, "session", f"calibration session {session_id} on {unit}"
        )


async def unit_task(
    resource: PioreactorResource, response: Response, unit: str, decoder: str, describe: str
) -> Job[Any]:
    """A Job for an answer the leader relays from *unit*: 202 + a task that lives on the unit.

    The unit's ``result_url_path`` is on the unit's own host, so the job polls the leader's
    relay ``/api/workers/{unit}/task_results/{id}`` where it exists (≥ 26.4.0). Any other
    answer (200, or 202 without a task) gives a finished job with the decoded body.
    """
    client = resource._client
    contract = await client.contract()
    body = response_json(response) if response.content else None
    fields = json_object(body)
    if response.status == 202 and fields is not None and "task_id" in fields:
        task_id = str(fields["task_id"])
        if contract.has_task_relay:
            poll_path = path("/api/workers/{u}/task_results/{t}", u=unit, t=task_id)
        else:
            poll_path = str(fields.get("result_url_path") or f"/unit_api/task_results/{task_id}")
        return task_job(
            client,
            task_id,
            poll_path,
            client._decoder(decoder, response),
            decoder_name=decoder,
            describe=describe,
            contract=contract,
            timeout=client.task_timeout,
        )
    return done_job(client._decoder(decoder, response)(body), describe=describe)


class Calibrations(Facade[AsyncCalibrations], mirrors=AsyncCalibrations):
    """Blocking twin of :class:`AsyncCalibrations`."""

    list = BlockingJobMethod(AsyncCalibrations.list)
    for_device = BlockingJobMethod(AsyncCalibrations.for_device)
    retrieve = BlockingJobMethod(AsyncCalibrations.retrieve)
    create = BlockingJobMethod(AsyncCalibrations.create)
    delete = BlockingJobMethod(AsyncCalibrations.delete)
    active = BlockingJobMethod(AsyncCalibrations.active)
    set_active = BlockingJobMethod(AsyncCalibrations.set_active)
    clear_active = BlockingJobMethod(AsyncCalibrations.clear_active)
    protocols = BlockingJobMethod(AsyncCalibrations.protocols)
    session_inputs = BlockingJobMethod(AsyncCalibrations.session_inputs)

    def zipped(self, unit: str = BROADCAST) -> bytes:
        """Every calibration of *unit* as a zip of YAML files (``$broadcast``: one folder per
        worker)."""
        return self._run(self._wrapped.zipped, unit)

    def start_session(self, unit: str, *, target_device: str, protocol_name: str) -> dict[str, Any]:
        """Start a guided calibration on *unit*: ``{"session": {…}, "step": {…}}``.

        Pick *target_device* and *protocol_name* from :meth:`protocols`.
        """
        return self._run(
            self._wrapped.start_session,
            unit,
            target_device=target_device,
            protocol_name=protocol_name,
        )

    def retrieve_session(self, unit: str, session_id: str) -> dict[str, Any]:
        """A session and its current step: ``{"session": {…}, "step": {…}}``."""
        return self._run(self._wrapped.retrieve_session, unit, session_id)

    def abort_session(self, unit: str, session_id: str) -> dict[str, Any]:
        """Abort a session; the answer shows it ``aborted``."""
        return self._run(self._wrapped.abort_session, unit, session_id)
