"""The public :class:`Simulator`: a Pioreactor leader (REST + MQTT) on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from aiohttp import web

from tether.testing._base import SimulatorBase
from tether.testing.pioreactor._app import build_app
from tether.testing.pioreactor._catalog import default_config
from tether.testing.pioreactor._contract import Contract
from tether.testing.pioreactor._growth import Culture
from tether.testing.pioreactor._leader import (
    UNIVERSAL_EXPERIMENT,
    Experiment,
    Leader,
    RecordedRequest,
)
from tether.testing.pioreactor._mqtt import MqttLink
from tether.testing.pioreactor._routes_data import demo_profiles
from tether.testing.pioreactor._units import SimUnit, UnitFault
from tether.testing.pioreactor._wire import iso_ms, utcnow

__all__ = ["Simulator"]


def _parse_address(mqtt: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(mqtt, tuple):
        return mqtt[0], int(mqtt[1])
    host, _, port = mqtt.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"mqtt must be 'host:port' or (host, port), got {mqtt!r}")
    return host, int(port)


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            port: int = cast(Any, address)[1]
            return port
    raise RuntimeError("the HTTP server did not bind")


class Simulator(SimulatorBase):
    """A simulated Pioreactor cluster: the leader's ``/api`` and ``/unit_api`` over HTTP, and
    jobs that live on MQTT (retained ``$state`` and settings, ``/set``, logs, OD readings that
    follow a logistic growth curve).

    Args:
        host: interface to serve HTTP on.
        port: HTTP port; ``0`` lets the kernel pick (see :attr:`url`).
        version: the leader version whose wire contract to speak: ``"26.11.1"`` (default),
            ``"26.2.23"`` (the seed document: nested ``error_info`` errors, ``complete``,
            results consumed on read, ``/api/config/files``) or ``"25.11.19"`` (bare errors,
            ``/api/contrib/…``). Other versions in between get the features the reference
            table gives for their range.
        units: unit names; the first is the leader (and its own worker). All are registered
            as active workers (model ``pioreactor_40ml`` 1.5), none assigned.
        mqtt: an existing broker (``"host:port"`` or ``(host, port)``), or None to start an
            embedded :class:`tether.testing.broker.Broker`.
        time_scale: simulated seconds per wall second for the culture model (``3600``: an
            hour of growth per second).
        od_interval: wall seconds between OD readings (and the other periodic readings).
        task_latency: seconds before a task's work starts (a 202's result is ``pending`` at
            least this long).
        startup_grace: the start-up grace window of ``jobs/run`` (1 s on a real unit).
        seed: seed for the growth curves and noise (None: random).
        unreachable: units that start unreachable (``connection_error`` in fan-outs).

    Example::

        async with Simulator(units=("pio1", "pio2"), time_scale=3600, od_interval=0.2) as sim:
            await sim.create_experiment("demo", assign=True)
            print(sim.info())   # {"URL": "http://127.0.0.1:…", "MQTT": "127.0.0.1:…", …}
            sim.set_reachable("pio2", False)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = "26.11.1",
        units: Iterable[str] = ("pio1", "pio2", "pio3"),
        mqtt: str | tuple[str, int] | None = None,
        time_scale: float = 1.0,
        od_interval: float = 5.0,
        task_latency: float = 0.05,
        startup_grace: float = 1.0,
        seed: int | None = None,
        unreachable: Iterable[str] = (),
    ) -> None:
        if time_scale <= 0 or od_interval <= 0 or task_latency < 0 or startup_grace < 0:
            raise ValueError("time_scale and od_interval must be > 0; latencies must be >= 0")
        self.host = host
        self._requested_port = port
        self.contract = Contract.for_version(version)
        self._mqtt_address = _parse_address(mqtt) if mqtt is not None else None
        self.cluster = Leader(
            self.contract,
            units,
            time_scale=time_scale,
            od_interval=od_interval,
            task_latency=task_latency,
            startup_grace=startup_grace,
            seed=seed,
        )
        for name in unreachable:
            self.set_reachable(name, False)
        self._broker: Any = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._mqtt_host = ""
        self._mqtt_port = 0

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<pioreactor.Simulator {self.contract.version} {where} units={self.units}>"

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the broker (if embedded), the MQTT link and the HTTP server."""
        if self._runner is not None:
            return
        if self._mqtt_address is None:
            from tether.testing.broker import Broker

            broker = Broker(self.host, 0)
            await broker.start()
            self._broker = broker
            self._mqtt_host, self._mqtt_port = broker.host, broker.port
        else:
            self._mqtt_host, self._mqtt_port = self._mqtt_address
        cluster = self.cluster
        link = MqttLink(self._mqtt_host, self._mqtt_port, Leader.SUBSCRIPTIONS, cluster.on_message)
        try:
            await link.start()
        except BaseException:
            await self._stop_broker()
            raise
        cluster.mqtt = link
        app = build_app(cluster)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        self._port = _bound_port(runner)
        cluster.config_shared = default_config(
            cluster.leader_unit, list(cluster.units), self._mqtt_host, self._mqtt_port, self._port
        )
        cluster.profiles = demo_profiles()
        await cluster.publish(
            f"pioreactor/{cluster.leader_unit}/{UNIVERSAL_EXPERIMENT}/mqtt_to_db_streaming/$state",
            b"ready",
            qos=2,
            retain=True,
        )
        for unit in cluster.units:
            await cluster.publish_assignment(unit)

    async def stop(self) -> None:
        """Stop every job cleanly (they publish ``disconnected``), then the servers. Idempotent."""
        runner, self._runner = self._runner, None
        cluster = self.cluster
        if runner is not None:
            for sim in cluster.units.values():
                await sim.stop_jobs()
            await cluster.publish(
                f"pioreactor/{cluster.leader_unit}/{UNIVERSAL_EXPERIMENT}/mqtt_to_db_streaming/$state",
                b"disconnected",
                qos=2,
                retain=True,
            )
            await runner.cleanup()
        link, cluster.mqtt = cluster.mqtt, None
        if link is not None:
            await link.stop()
        await cluster.close()
        await self._stop_broker()

    async def _stop_broker(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.stop()

    def info(self) -> dict[str, str]:
        """``{"URL": "http://127.0.0.1:PORT", "MQTT": "127.0.0.1:PORT", "PIO_VERSION": …}``."""
        return {
            "URL": self.url,
            "MQTT": f"{self._mqtt_host}:{self._mqtt_port}",
            "PIO_VERSION": self.contract.version,
        }

    # -- where ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The leader's base URL (once started)."""
        if self._port is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self.host}:{self._port}"

    @property
    def mqtt_host(self) -> str:
        """The broker's host (once started)."""
        return self._mqtt_host

    @property
    def mqtt_port(self) -> int:
        """The broker's port (once started)."""
        return self._mqtt_port

    @property
    def version(self) -> str:
        """The simulated leader version."""
        return self.contract.version

    @property
    def leader(self) -> Leader:
        """Alias of :attr:`cluster` (the leader's state)."""
        return self.cluster

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every HTTP request answered so far: ``(method, path, status)``, in order."""
        return self.cluster.requests

    @property
    def leader_unit(self) -> str:
        """The leader's unit name (the first of ``units``)."""
        return self.cluster.leader_unit

    @property
    def units(self) -> list[str]:
        """Every simulated unit."""
        return list(self.cluster.units)

    # -- control ----------------------------------------------------------------------------------

    def unit(self, name: str) -> SimUnit:
        """The simulated unit *name* (its jobs, calibrations, faults)."""
        return self.cluster.unit(name)

    def set_reachable(self, unit: str, reachable: bool = True) -> None:
        """Make *unit* (un)reachable: fan-outs to it give ``connection_error`` (or ``null`` on
        versions before 26.5.3)."""
        self.cluster.unit(unit).reachable = reachable

    def fail_unit(
        self,
        unit: str,
        status: int = 500,
        message: str = "Internal server error on the unit.",
        *,
        cause: str | None = None,
        remediation: str | None = None,
    ) -> None:
        """Make every call to *unit* answer HTTP *status* (``http_error`` in fan-outs)."""
        self.cluster.set_fault(unit, UnitFault(status, message, cause, remediation))

    def clear_faults(self, unit: str | None = None) -> None:
        """Undo :meth:`fail_unit` and :meth:`set_reachable` for *unit* (or every unit)."""
        names = [unit] if unit is not None else list(self.cluster.units)
        for name in names:
            sim = self.cluster.unit(name)
            sim.fault = None
            sim.reachable = True

    async def crash_job(self, unit: str, job_name: str) -> None:
        """Kill *job_name* on *unit* without cleanup: the broker's last will sets ``$state`` to
        ``lost`` and the job stays recorded as running (as upstream does after SIGKILL)."""
        job = self.cluster.unit(unit).running_job(job_name)
        if job is None:
            raise LookupError(f"{job_name} is not running on {unit}")
        await job.crash()

    async def create_experiment(
        self,
        name: str,
        *,
        description: str = "",
        assign: bool | Iterable[str] = False,
    ) -> None:
        """Create experiment *name* directly (no HTTP), optionally assigning units to it
        (``True``: every unit)."""
        cluster = self.cluster
        if name not in cluster.experiments:
            cluster.experiments[name] = Experiment(name, iso_ms(utcnow()), description)
        targets = list(cluster.units) if assign is True else list(assign or [])
        for unit in targets:
            await cluster.assign(unit, name)

    async def assign(self, unit: str, experiment: str) -> None:
        """Assign *unit* to *experiment* (stopping its jobs in a previous one)."""
        if experiment not in self.cluster.experiments:
            raise LookupError(f"no experiment {experiment!r}")
        await self.cluster.assign(unit, experiment)

    async def start_job(
        self,
        unit: str,
        job_name: str,
        experiment: str,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        """Start a job on *unit* directly (no HTTP, no rate limit); waits the grace window."""
        await self.cluster.unit(unit).run_job(
            job_name, experiment, {"options": dict(options or {})}
        )

    def culture(self, unit: str, experiment: str) -> Culture:
        """The culture model of *unit* in *experiment* (set ``rate_per_hour`` etc. on it)."""
        return self.cluster.culture(unit, experiment)

    async def wait_for(
        self, predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.02
    ) -> None:
        """Wait until ``predicate()`` is true (a helper for tests and demos)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(interval)
