"""The Pioreactor leader client: ``AsyncPioreactor`` and its blocking twin ``Pioreactor``."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp

from tether._core.blocking import ClientFacade
from tether._core.errors import NotFoundError, ValidationError
from tether._core.http import HTTPClient, Response, RetryPolicy, Transport
from tether._core.models import make_converter
from tether._core.resource import AsyncClientBase, decode
from tether.pioreactor._contract import Contract, parse_version, pioreactor_error_parser
from tether.pioreactor._resources.calibrations import AsyncCalibrations, Calibrations
from tether.pioreactor._resources.config import AsyncConfig, Config
from tether.pioreactor._resources.datasets import AsyncDatasets, Datasets
from tether.pioreactor._resources.descriptors import AsyncDescriptors, Descriptors
from tether.pioreactor._resources.estimators import AsyncEstimators, Estimators
from tether.pioreactor._resources.experiments import AsyncExperiments, Experiments
from tether.pioreactor._resources.historical import AsyncHistorical, Historical
from tether.pioreactor._resources.jobs import AsyncJobs, Jobs
from tether.pioreactor._resources.logs import AsyncLogs, Logs
from tether.pioreactor._resources.plugins import AsyncPlugins, Plugins
from tether.pioreactor._resources.profiles import AsyncProfiles, Profiles
from tether.pioreactor._resources.system import AsyncSystem, System
from tether.pioreactor._resources.time_series import AsyncTimeSeriesReader, TimeSeriesReader
from tether.pioreactor._resources.units import AsyncUnits, Units
from tether.pioreactor._resources.workers import AsyncWorkers, Workers
from tether.pioreactor._tasks import decode_fanout
from tether.pioreactor.models import CalibrationProtocol, ExportResult, RunningJob

if TYPE_CHECKING:
    from tether._core.mqtt import MQTTConnection, MQTTSettings
    from tether.pioreactor.events import AsyncEvents, Events

__all__ = ["AsyncPioreactor", "Pioreactor"]

logger = logging.getLogger("tether.pioreactor")

ENV_URL: Final = "PIOREACTOR_LEADER_URL"
ENV_API_KEY: Final = "PIOREACTOR_API_KEY"
DEFAULT_MQTT_USER: Final = "pioreactor"
DEFAULT_MQTT_PASSWORD: Final = "raspberry"  # the stock leader credentials; not a secret

# How each task's ``result`` is decoded: fan-outs by their per-unit value type, others by model.
FANOUT_VALUES: Final[dict[str, Any]] = {
    "any": Any,
    "bool": bool,
    "running_jobs": list[RunningJob],
    "dict": dict[str, Any],
    "list": list[Any],
    "dicts": list[dict[str, Any]],
    "device_files": dict[str, list[dict[str, Any]]],
    "active": dict[str, dict[str, Any]],
    "protocols": list[CalibrationProtocol],
}
PLAIN_RESULTS: Final[dict[str, Any]] = {
    "raw": Any,
    "export": ExportResult,
    "bool": bool,
    "session": dict[str, Any],
}


class AsyncPioreactor(AsyncClientBase):
    """Async client of a Pioreactor cluster's leader (REST, plus MQTT for live data).

    Args:
        leader_url: the leader's web address, e.g. ``http://pioreactor.local``; default the
            environment variable ``PIOREACTOR_LEADER_URL``.
        api_key: for leaders behind basic auth (sent as ``Authorization: Basic <api_key>``);
            default ``PIOREACTOR_API_KEY``.
        mqtt: the broker for live data (:attr:`events`): ``"host:port"``, an
            :class:`~tether._core.mqtt.MQTTSettings`, or ``None`` to use the leader's host on
            port 1883 with the stock credentials.
        timeout: seconds for one HTTP attempt.
        retries: the retry policy for HTTP requests.
        task_timeout: default deadline, in seconds, for waiting on leader tasks.
        version: skip version detection and assume this leader version (``"26.2.23"``).
        session: an aiohttp session to use (never closed by tether).

    Example::

        async with AsyncPioreactor("http://pioreactor.local") as client:
            await client.experiments.create("demo")
            running = await client.jobs.running()
    """

    def __init__(
        self,
        leader_url: str | None = None,
        *,
        api_key: str | None = None,
        mqtt: str | MQTTSettings | None = None,
        timeout: float = 30.0,
        retries: RetryPolicy | None = None,
        task_timeout: float = 300.0,
        version: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        url = leader_url or os.environ.get(ENV_URL)
        if not url:
            raise ValidationError(
                f"no leader URL: pass leader_url=... or set {ENV_URL} (e.g. http://pioreactor.local)"
            )
        key = api_key if api_key is not None else os.environ.get(ENV_API_KEY)
        auth: Callable[[], dict[str, str]] | None = None
        if key:
            header = {"Authorization": f"Basic {key}"}
            auth = header.copy

        self.leader_url = url.rstrip("/")
        self.http = HTTPClient(
            self.leader_url,
            transport=Transport(session),
            auth=auth,
            timeout=timeout,
            retries=retries,
            error_parser=pioreactor_error_parser,
        )
        self.converter = make_converter("snake")
        self.task_timeout = task_timeout
        self._mqtt_option = mqtt
        self._mqtt: MQTTConnection | None = None
        self._mqtt_lock = asyncio.Lock()
        self._contract: Contract | None = (
            None if version is None else Contract(parse_version(version))
        )

    def __repr__(self) -> str:
        return f"AsyncPioreactor({self.leader_url!r})"

    # -- version ------------------------------------------------------------------------------

    async def contract(self) -> Contract:
        """The leader's wire contract, from ``/unit_api/versions/app`` (asked once, cached)."""
        if self._contract is None:
            try:
                response = await self.http.request("GET", "/unit_api/versions/app")
                text = str(response.json().get("version", ""))
                self._contract = Contract(parse_version(text))
            except NotFoundError:
                logger.warning(
                    "the leader does not expose /unit_api/versions/app;"
                    " assuming the latest contract"
                )
                self._contract = Contract()
        return self._contract

    async def version(self) -> str:
        """The leader's software version, e.g. ``"26.11.1"``."""
        return (await self.contract()).text

    # -- decoding -----------------------------------------------------------------------------

    def _decoder(self, name: str, response: Response | None = None) -> Callable[[Any], Any]:
        """The decoder registered under *name* (``fanout:<kind>`` or a plain result kind)."""
        if name.startswith("fanout:"):
            value_type = FANOUT_VALUES[name.split(":", 1)[1]]
            return lambda raw: decode_fanout(self.converter, raw, value_type, response=response)
        result_type = PLAIN_RESULTS[name]
        return lambda raw: decode(self.converter, raw, result_type, response=response)

    # -- MQTT -----------------------------------------------------------------------------------

    def mqtt_settings(self) -> MQTTSettings:
        """The broker settings for live data (see the ``mqtt`` argument)."""
        from tether._core.mqtt import MQTTSettings

        option = self._mqtt_option
        if isinstance(option, MQTTSettings):
            return option
        if isinstance(option, str):
            host, _, port = option.rpartition(":")
            if not host or not port.isdigit():
                raise ValidationError(f"mqtt must be 'host:port', got {option!r}")
            return MQTTSettings(
                host=host,
                port=int(port),
                username=DEFAULT_MQTT_USER,
                password=DEFAULT_MQTT_PASSWORD,
            )
        host = urlsplit(self.leader_url).hostname or "127.0.0.1"
        return MQTTSettings(host=host, username=DEFAULT_MQTT_USER, password=DEFAULT_MQTT_PASSWORD)

    async def _mqtt_connection(self) -> MQTTConnection:
        """The client's MQTT connection, opened on first use (needs ``tether[mqtt]``)."""
        async with self._mqtt_lock:
            if self._mqtt is None:
                try:
                    from tether._core.mqtt import MQTTConnection
                except ImportError as exc:  # pragma: no cover - without the extra
                    raise ValidationError(
                        "live data needs the mqtt extra: pip install 'tether[mqtt]'"
                    ) from exc
                connection = MQTTConnection(self.mqtt_settings())
                await connection.connect()
                self._mqtt = connection
            return self._mqtt

    async def aclose(self) -> None:
        """Close the HTTP session and the MQTT connection. Idempotent."""
        mqtt, self._mqtt = self._mqtt, None
        try:
            if mqtt is not None:
                await mqtt.close()
        finally:
            await super().aclose()

    # -- resources ----------------------------------------------------------------------------

    @cached_property
    def experiments(self) -> AsyncExperiments:
        """Experiments, their workers, labels, logs and chart preferences."""
        return AsyncExperiments(self)

    @cached_property
    def workers(self) -> AsyncWorkers:
        """The leader's inventory of workers."""
        return AsyncWorkers(self)

    @cached_property
    def jobs(self) -> AsyncJobs:
        """Running, stopping and updating jobs on units."""
        return AsyncJobs(self)

    @cached_property
    def system(self) -> AsyncSystem:
        """Leader health, versions, clock, models and system operations."""
        return AsyncSystem(self)

    @cached_property
    def calibrations(self) -> AsyncCalibrations:
        """Device calibrations on workers, calibration protocols and guided sessions."""
        return AsyncCalibrations(self)

    @cached_property
    def estimators(self) -> AsyncEstimators:
        """Estimators on workers (leaders ≥ 26.2.3)."""
        return AsyncEstimators(self)

    @cached_property
    def config(self) -> AsyncConfig:
        """The shared ``config.ini``, unit-specific files, merged configs and their history."""
        return AsyncConfig(self)

    @cached_property
    def profiles(self) -> AsyncProfiles:
        """Experiment profiles (YAML) on the leader."""
        return AsyncProfiles(self)

    @cached_property
    def datasets(self) -> AsyncDatasets:
        """Exportable datasets: list, preview, export to a zip, download."""
        return AsyncDatasets(self)

    @cached_property
    def logs(self) -> AsyncLogs:
        """Stored logs, and posting a line into an experiment's log."""
        return AsyncLogs(self)

    @cached_property
    def time_series(self) -> AsyncTimeSeriesReader:
        """Stored time series: OD readings, growth rates, temperature, any column."""
        return AsyncTimeSeriesReader(self)

    @cached_property
    def plugins(self) -> AsyncPlugins:
        """Plugins on units: list, install, uninstall."""
        return AsyncPlugins(self)

    @cached_property
    def units(self) -> AsyncUnits:
        """Whole-unit operations: reboot, shutdown, clock, updates, files, hardware model."""
        return AsyncUnits(self)

    @cached_property
    def descriptors(self) -> AsyncDescriptors:
        """UI descriptors: jobs, charts, automations, published settings."""
        return AsyncDescriptors(self)

    @cached_property
    def historical(self) -> AsyncHistorical:
        """Media and organisms of past experiments (leaders < 26.6.0)."""
        return AsyncHistorical(self)

    @cached_property
    def events(self) -> AsyncEvents:
        """Live data over MQTT: job states, settings, OD readings, growth, temperature, logs."""
        from tether.pioreactor.events import AsyncEvents

        return AsyncEvents(self)


class Pioreactor(ClientFacade[AsyncPioreactor], mirrors=AsyncPioreactor):
    """Blocking client of a Pioreactor leader; the same API as :class:`AsyncPioreactor`.

    Example::

        with Pioreactor("http://pioreactor.local") as client:
            client.experiments.create("demo")
            print(client.jobs.running())
    """

    experiments: Experiments
    workers: Workers
    jobs: Jobs
    system: System
    calibrations: Calibrations
    estimators: Estimators
    config: Config
    profiles: Profiles
    datasets: Datasets
    logs: Logs
    time_series: TimeSeriesReader
    plugins: Plugins
    units: Units
    descriptors: Descriptors
    historical: Historical
    events: Events

    def __init__(
        self,
        leader_url: str | None = None,
        *,
        api_key: str | None = None,
        mqtt: str | MQTTSettings | None = None,
        timeout: float = 30.0,
        retries: RetryPolicy | None = None,
        task_timeout: float = 300.0,
        version: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            AsyncPioreactor(
                leader_url,
                api_key=api_key,
                mqtt=mqtt,
                timeout=timeout,
                retries=retries,
                task_timeout=task_timeout,
                version=version,
                session=session,
            )
        )

    def __repr__(self) -> str:
        return f"Pioreactor({self._wrapped.leader_url!r})"

    @property
    def leader_url(self) -> str:
        """The leader's address."""
        return self._wrapped.leader_url

    def contract(self) -> Contract:
        """The leader's wire contract, from ``/unit_api/versions/app`` (asked once, cached)."""
        return self._run(self._wrapped.contract)

    def version(self) -> str:
        """The leader's software version, e.g. ``"26.11.1"``."""
        return self._run(self._wrapped.version)

    def mqtt_settings(self) -> MQTTSettings:
        """The broker settings for live data (see the ``mqtt`` argument)."""
        return self._wrapped.mqtt_settings()
