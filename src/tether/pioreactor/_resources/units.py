"""System operations on units: reboot, shutdown, repair, clock, software update, files, model.

Capabilities and versions are on :attr:`AsyncPioreactor.workers`; the leader's own health and
clock reading are on :attr:`AsyncPioreactor.system`.
"""

from __future__ import annotations

import builtins
import os
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import anyio

from tether._core.blocking import Facade
from tether._core.errors import ResponseDecodeError, ValidationError
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.models import json_object
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._resources.calibrations import unit_task
from tether.pioreactor._resources.logs import iso_timestamp
from tether.pioreactor._validation import BROADCAST, check_unit_ref, check_worker_name
from tether.pioreactor.models import FanOut, LogEntry, LogLevel, ModelInfo

__all__ = ["AsyncUnits", "Units"]

MAX_UPLOAD_BYTES: Final = 60_000_000  # the leader's limit for the whole multipart request
FileSource = str | os.PathLike[str] | bytes


async def _read_file(source: FileSource, filename: str | None, what: str) -> tuple[bytes, str]:
    """The bytes and file name of an upload (a path, or bytes with *filename*)."""
    if isinstance(source, bytes | bytearray):
        if not filename:
            raise ValidationError(f"give filename=... with the bytes of {what}")
        content = bytes(source)
    elif isinstance(source, str | os.PathLike):  # pyright: ignore[reportUnnecessaryIsInstance]
        file_path = anyio.Path(os.fspath(source))
        if not await file_path.is_file():
            raise ValidationError(f"{what} {os.fspath(source)!r} is not a file")
        content = await file_path.read_bytes()
        filename = filename or file_path.name
    else:
        raise ValidationError(f"{what} must be a path or bytes, not {type(source).__name__}")
    if not filename or set(filename) & set('/\\"\r\n\0'):
        raise ValidationError(f"file name {filename!r} must be a plain name without quotes")
    if len(content) > MAX_UPLOAD_BYTES - 1024:
        raise ValidationError(f"{what} is {len(content)} bytes; the leader accepts under 60 MB")
    return content, filename


def _multipart(field: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """One file as a ``multipart/form-data`` body (bytes, so a retry can resend it)."""
    boundary = f"tether-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + content + tail, f"multipart/form-data; boundary={boundary}"


def _check_archive_location(location: object) -> str:
    if not isinstance(location, str) or not location.endswith(".zip"):
        raise ValidationError(
            f"release_archive_location must be the path of a .zip on the leader, not {location!r}"
        )
    return location


def _check_models(model_name: object, model_version: object) -> None:
    for what, value in (("model_name", model_name), ("model_version", model_version)):
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{what} must be a non-empty string (see client.system.models())")


class AsyncUnits(PioreactorResource):
    """Whole-unit operations (``unit="$broadcast"``: every unit).

    Example::

        await client.units.reboot("pio2")
        print((await client.units.model("pio1")).display_name)
        archive = await client.units.zipped_dot_pioreactor("pio1")
    """

    async def _system(self, action: str, unit: str) -> Job[Any]:
        check_unit_ref(unit)
        return await self._task(
            "POST",
            path("/api/units/{u}/system/", u=unit) + action,
            decoder="fanout:any",
            describe=f"{action} {unit}",
        )

    @JobMethod
    async def reboot(self, unit: str = BROADCAST) -> Job[FanOut[Any]]:
        """Reboot *unit* (per unit, whether the command was accepted)."""
        return await self._system("reboot", unit)

    @JobMethod
    async def shutdown(self, unit: str = BROADCAST) -> Job[FanOut[Any]]:
        """Shut *unit* down (it needs a power cycle to come back)."""
        return await self._system("shutdown", unit)

    @JobMethod
    async def repair(self, unit: str = BROADCAST) -> Job[FanOut[Any]]:
        """Repair file-system permissions on *unit* (leaders ≥ 26.4.0)."""
        contract = await self._contract()
        contract.require(contract.has_system_repair, "system repair", "26.4.0")
        return await self._system("repair", unit)

    @JobMethod
    async def set_clock(self, when: datetime | None = None) -> Job[FanOut[Any]]:
        """Set the leader's UTC clock to *when* (default: this computer's time), then have every
        worker sync to the leader; the result is per worker."""
        moment = iso_timestamp(when if when is not None else datetime.now(UTC), "when")
        return await self._task(
            "POST",
            "/api/system/utc_clock",
            json={"utc_clock_time": moment},
            decoder="fanout:any",
            describe="set the cluster clock",
        )

    @JobMethod
    async def update_next_version(self, unit: str = BROADCAST) -> Job[bool]:
        """Update the Pioreactor software on *unit* (default every unit) to the next release.

        The update runs on the units for minutes; the result says whether it was carried out.
        """
        check_unit_ref(unit)
        return await self._task(
            "POST",
            "/api/system/update_next_version",
            json={"units": unit} if unit != BROADCAST else {},
            decoder="bool",
            describe=f"update {unit} to the next version",
        )

    @JobMethod
    async def update_from_archive(
        self, release_archive_location: str, *, unit: str = BROADCAST
    ) -> Job[bool]:
        """Update *unit* from a signed release archive already on the leader.

        Args:
            release_archive_location: the archive's path on the leader, as :meth:`upload`
                returns it (a ``.zip``).
            unit: a unit, or ``"$broadcast"``.
        """
        _check_archive_location(release_archive_location)
        check_unit_ref(unit)
        return await self._task(
            "POST",
            "/api/system/update_from_archive",
            json={"release_archive_location": release_archive_location, "units": unit},
            decoder="bool",
            describe=f"update {unit} from {release_archive_location}",
        )

    async def upload(self, file: FileSource, *, filename: str | None = None) -> str:
        """Stage a file (a release archive, usually) on the leader; returns its path there.

        Args:
            file: a local path, or the file's bytes (then *filename* is needed).
            filename: the name to send (default: the path's name).
        """
        content, name = await _read_file(file, filename, "file")
        body, content_type = _multipart("file", name, content, "application/octet-stream")
        response = await self._request(
            "POST", "/api/system/upload", data=body, headers={"Content-Type": content_type}
        )
        data = response_json(response)
        saved = (json_object(data) or {}).get("save_path")
        if not isinstance(saved, str):
            raise ResponseDecodeError(
                "the upload answer has no save_path",
                request=response.request,
                status=response.status,
                body=data,
            )
        return saved

    async def zipped_dot_pioreactor(self, unit: str) -> bytes:
        """*unit*'s ``~/.pioreactor`` folder as a zip (``$broadcast``: one folder per unit)."""
        check_unit_ref(unit)
        response = await self._request("GET", path("/api/units/{u}/zipped_dot_pioreactor", u=unit))
        return response.content

    @JobMethod
    async def import_zipped_dot_pioreactor(
        self, unit: str, archive: FileSource, *, filename: str | None = None
    ) -> Job[Any]:
        """Restore *unit*'s ``~/.pioreactor`` from a zip made by :meth:`zipped_dot_pioreactor`.

        The unit validates the archive (400 when it is not a Pioreactor export) and imports it
        as a task. A unit in test mode accepts and does nothing (the result is ``None``).
        """
        check_worker_name(unit)
        content, name = await _read_file(archive, filename, "archive")
        body, content_type = _multipart("archive", name, content, "application/zip")
        response = await self._request(
            "POST",
            path("/api/units/{u}/import_zipped_dot_pioreactor", u=unit),
            data=body,
            headers={"Content-Type": content_type},
        )
        return await unit_task(self, response, unit, "raw", f"import .pioreactor into {unit}")

    async def system_logs(
        self, unit: str, *, min_level: LogLevel | str = LogLevel.INFO, skip: int = 0
    ) -> builtins.list[LogEntry]:
        """One page of *unit*'s system logs, newest first (same as ``client.logs.system``)."""
        return await self._client.logs.system(unit, min_level=min_level, skip=skip)

    async def model(self, unit: str) -> ModelInfo:
        """The hardware model of worker *unit* (404 when it has none set)."""
        check_worker_name(unit)
        response = await self._request("GET", path("/api/workers/{u}/model", u=unit))
        return self._decode(response_json(response), ModelInfo, response=response)

    async def set_model(self, unit: str, *, model_name: str, model_version: str) -> None:
        """Tell worker *unit* which hardware it is (a model from ``client.system.models()``)."""
        check_worker_name(unit)
        _check_models(model_name, model_version)
        await self._request(
            "PUT",
            path("/api/workers/{u}/model", u=unit),
            json={"model_name": model_name, "model_version": model_version},
        )

    async def report_model(self, unit: str, *, model_name: str, model_version: str) -> None:
        """Record in the leader's inventory the model *unit* says it is, without contacting it
        (what a unit calls at start-up; leaders ≥ 26.4.0)."""
        check_worker_name(unit)
        _check_models(model_name, model_version)
        contract = await self._contract()
        contract.require(contract.has_reported_model, "reported_model", "26.4.0")
        await self._request(
            "PUT",
            path("/api/workers/{u}/reported_model", u=unit),
            json={"model_name": model_name, "model_version": model_version},
        )


class Units(Facade[AsyncUnits], mirrors=AsyncUnits):
    """Blocking twin of :class:`AsyncUnits`."""

    reboot = BlockingJobMethod(AsyncUnits.reboot)
    shutdown = BlockingJobMethod(AsyncUnits.shutdown)
    repair = BlockingJobMethod(AsyncUnits.repair)
    set_clock = BlockingJobMethod(AsyncUnits.set_clock)
    update_next_version = BlockingJobMethod(AsyncUnits.update_next_version)
    update_from_archive = BlockingJobMethod(AsyncUnits.update_from_archive)
    import_zipped_dot_pioreactor = BlockingJobMethod(AsyncUnits.import_zipped_dot_pioreactor)

    def upload(self, file: FileSource, *, filename: str | None = None) -> str:
        """Stage a file (a release archive, usually) on the leader; returns its path there.

        Args:
            file: a local path, or the file's bytes (then *filename* is needed).
            filename: the name to send (default: the path's name).
        """
        return self._run(self._wrapped.upload, file, filename=filename)

    def zipped_dot_pioreactor(self, unit: str) -> bytes:
        """*unit*'s ``~/.pioreactor`` folder as a zip (``$broadcast``: one folder per unit)."""
        return self._run(self._wrapped.zipped_dot_pioreactor, unit)

    def system_logs(
        self, unit: str, *, min_level: LogLevel | str = LogLevel.INFO, skip: int = 0
    ) -> builtins.list[LogEntry]:
        """One page of *unit*'s system logs, newest first (same as ``client.logs.system``)."""
        return self._run(self._wrapped.system_logs, unit, min_level=min_level, skip=skip)

    def model(self, unit: str) -> ModelInfo:
        """The hardware model of worker *unit* (404 when it has none set)."""
        return self._run(self._wrapped.model, unit)

    def set_model(self, unit: str, *, model_name: str, model_version: str) -> None:
        """Tell worker *unit* which hardware it is (a model from ``client.system.models()``)."""
        return self._run(
            self._wrapped.set_model, unit, model_name=model_name, model_version=model_version
        )

    def report_model(self, unit: str, *, model_name: str, model_version: str) -> None:
        """Record in the leader's inventory the model *unit* says it is, without contacting it
        (what a unit calls at start-up; leaders ≥ 26.4.0)."""
        return self._run(
            self._wrapped.report_model, unit, model_name=model_name, model_version=model_version
        )
