"""Jobs on units: run, stop, update settings, list running jobs, read settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.jobs import BlockingJob, BlockingJobMethod, Job, JobMethod, ResumeToken
from tether._core.resource import path
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._tasks import PLATFORM, task_job
from tether.pioreactor._validation import (
    BROADCAST,
    check_experiment_ref,
    check_setting_value,
    check_unit_ref,
)
from tether.pioreactor.models import FanOut, RunningJob

__all__ = ["AsyncJobs", "Jobs"]

_JOB_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _check_job_name(job_name: object) -> str:
    if not isinstance(job_name, str) or not job_name or not set(job_name) <= _JOB_NAME_CHARS:
        raise ValidationError(
            f"job name must be lowercase letters, digits and underscores (e.g. 'od_reading'),"
            f" got {job_name!r}"
        )
    return job_name


class AsyncJobs(PioreactorResource):
    """Run, stop and update jobs on units; ``unit="$broadcast"`` means every assigned unit.

    Running a job needs the unit to be an active worker assigned to the experiment (or
    ``experiment="$experiment"`` for unit-wide jobs).

    Example::

        await client.jobs.run("stirring", experiment="demo", options={"target_rpm": 400})
        await client.jobs.update("stirring", {"target_rpm": 500}, experiment="demo")
        running = await client.jobs.running()
    """

    @JobMethod
    async def run(
        self,
        job_name: str,
        *,
        experiment: str,
        unit: str = BROADCAST,
        options: Mapping[str, Any] | None = None,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        config_overrides: Sequence[tuple[str, str, str]] | None = None,
    ) -> Job[FanOut[Any]]:
        """Start *job_name* on *unit*; the result says, per unit, whether it started.

        The leader waits through a 1 s start-up grace window, so this takes about a second.
        A unit whose job exits at once, or which already runs it, shows up as a failure in
        the :class:`FanOut` (the task itself succeeds): call ``raise_for_failures()``.

        Args:
            job_name: e.g. ``"stirring"``, ``"od_reading"``, ``"growth_rate_calculating"``.
            experiment: the experiment the unit is assigned to, or ``"$experiment"``.
            unit: a worker, or ``"$broadcast"`` for every worker assigned to *experiment*.
            options: command-line options (``{"target_rpm": 400}`` → ``--target-rpm 400``).
            args: positional arguments.
            env: extra environment variables (the leader keeps only an allowlist).
            config_overrides: ``(section, key, value)`` triples.
        """
        _check_job_name(job_name)
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        body: dict[str, Any] = {}
        if options:
            for key, value in options.items():
                if not isinstance(value, str | int | float | bool) and value is not None:
                    raise ValidationError(
                        f"option {key!r} must be a string, number, boolean or None"
                    )
            body["options"] = dict(options)
        if args:
            body["args"] = [str(a) for a in args]
        if env:
            body["env"] = dict(env)
        if config_overrides:
            body["config_overrides"] = [list(triple) for triple in config_overrides]
        url = path(
            "/api/units/{unit}/jobs/run/job_name/{job}/experiments/{experiment}",
            unit=unit,
            job=job_name,
            experiment=experiment,
        )
        return await self._task(
            "POST", url, json=body, decoder="fanout:any", describe=f"run {job_name} on {unit}"
        )

    @JobMethod
    async def stop(
        self, job_name: str, *, experiment: str, unit: str = BROADCAST
    ) -> Job[FanOut[Any]]:
        """Stop *job_name* on *unit*. A job that was not running still reports success."""
        _check_job_name(job_name)
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        url = path(
            "/api/units/{unit}/jobs/stop/job_name/{job}/experiments/{experiment}",
            unit=unit,
            job=job_name,
            experiment=experiment,
        )
        return await self._task(
            "POST", url, decoder="fanout:any", describe=f"stop {job_name} on {unit}"
        )

    async def stop_all(self, *, experiment: str, unit: str = BROADCAST) -> None:
        """Stop every job of *experiment* on *unit*. The leader reports no outcome."""
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        url = path(
            "/api/workers/{unit}/jobs/stop/experiments/{experiment}",
            unit=unit,
            experiment=experiment,
        )
        await self._request("POST", url)

    async def update(
        self,
        job_name: str,
        settings: Mapping[str, str | int | float | bool | None],
        *,
        experiment: str,
        unit: str = BROADCAST,
    ) -> None:
        """Change settings of a running job (``{"target_rpm": 500}``, ``{"$state": "sleeping"}``).

        The leader forwards the change over MQTT and confirms nothing; watch
        ``client.events.settings(...)`` or read :meth:`settings` to see it applied.
        """
        _check_job_name(job_name)
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        if not settings:
            raise ValidationError("settings must name at least one setting to change")
        for name, value in settings.items():
            check_setting_value(job_name, name, value)
        url = path(
            "/api/units/{unit}/jobs/update/job_name/{job}/experiments/{experiment}",
            unit=unit,
            job=job_name,
            experiment=experiment,
        )
        await self._request("PATCH", url, json={"settings": dict(settings)})

    @JobMethod
    async def running(self, unit: str = BROADCAST) -> Job[FanOut[list[RunningJob]]]:
        """The jobs running on *unit* (every unit by default), per unit.

        Example::

            running = await client.jobs.running()
            for unit, jobs in running.values_by_unit().items():
                print(unit, [job.job_name for job in jobs])
        """
        check_unit_ref(unit)
        url = path("/api/units/{unit}/jobs/running", unit=unit)
        return await self._task(
            "GET", url, decoder="fanout:running_jobs", describe=f"running jobs on {unit}"
        )

    @JobMethod
    async def settings(
        self, job_name: str, *, experiment: str, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """The published settings of a running job, per unit (``{"settings": {...}}``).

        Values come from the unit's database: booleans as ``0``/``1``, structs as JSON text.
        """
        _check_job_name(job_name)
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        url = path(
            "/api/workers/{unit}/jobs/settings/job_name/{job}/experiments/{experiment}",
            unit=unit,
            job=job_name,
            experiment=experiment,
        )
        return await self._task(
            "GET", url, decoder="fanout:dict", describe=f"settings of {job_name} on {unit}"
        )

    @JobMethod
    async def setting(
        self, job_name: str, setting: str, *, experiment: str, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """One published setting of a running job, per unit (``{"target_rpm": 400.0}``)."""
        _check_job_name(job_name)
        check_unit_ref(unit)
        check_experiment_ref(experiment)
        if not setting:
            raise ValidationError("setting must not be empty")
        url = path(
            "/api/workers/{unit}/jobs/settings/job_name/{job}/setting/{setting}"
            "/experiments/{experiment}",
            unit=unit,
            job=job_name,
            setting=setting,
            experiment=experiment,
        )
        return await self._task(
            "GET",
            url,
            decoder="fanout:dict",
            describe=f"{job_name}.{setting} on {unit}",
        )

    async def resume(self, token: str) -> Job[Any]:
        """Rebuild the :class:`~tether.Job` of a leader task from its ``resume_token``.

        The token carries the task id, the result path and how to decode the result, so
        another process (or a restarted one) can pick up the wait. On leaders older than
        26.4.3 a finished task's result is consumed by its first read, so a task that was
        already read elsewhere pends until the deadline.

        Example::

            job = await client.experiments.delete.start("old")
            token = job.resume_token              # store it
            ...
            result = await (await client.jobs.resume(token)).wait(timeout=60)
        """
        parsed = ResumeToken.parse(token, platform=PLATFORM)
        if parsed.kind != "task":
            raise ValidationError(f"a {parsed.kind!r} token does not describe a leader task")
        data = parsed.data
        try:
            task_id = str(data["task_id"])
            result_path = str(data["result_url_path"])
            decoder = str(data["decoder"])
        except KeyError as exc:
            raise ValidationError(f"resume token lacks {exc.args[0]!r}") from exc
        return task_job(
            self._client,
            task_id,
            result_path,
            self._client._decoder(decoder),
            decoder_name=decoder,
            describe=f"task {task_id}",
            contract=await self._contract(),
            timeout=self._client.task_timeout,
        )

    async def descriptors(self) -> list[dict[str, Any]]:
        """The UI descriptors of every job the leader knows (free-form, from YAML)."""
        contract = await self._contract()
        url = "/api/contrib/jobs" if contract.contrib_routes else "/api/jobs/descriptors"
        response = await self._request("GET", url)
        return self._decode(response.json(), list[dict[str, Any]], response=response)


class Jobs(Facade[AsyncJobs], mirrors=AsyncJobs):
    """Blocking twin of :class:`AsyncJobs`."""

    run = BlockingJobMethod(AsyncJobs.run)
    stop = BlockingJobMethod(AsyncJobs.stop)
    running = BlockingJobMethod(AsyncJobs.running)
    settings = BlockingJobMethod(AsyncJobs.settings)
    setting = BlockingJobMethod(AsyncJobs.setting)

    def stop_all(self, *, experiment: str, unit: str = BROADCAST) -> None:
        """Stop every job of *experiment* on *unit*. The leader reports no outcome."""
        return self._run(self._wrapped.stop_all, experiment=experiment, unit=unit)

    def update(
        self,
        job_name: str,
        settings: Mapping[str, str | int | float | bool | None],
        *,
        experiment: str,
        unit: str = BROADCAST,
    ) -> None:
        """Change settings of a running job (``{"target_rpm": 500}``, ``{"$state": ...}``)."""
        return self._run(self._wrapped.update, job_name, settings, experiment=experiment, unit=unit)

    def resume(self, token: str) -> BlockingJob[Any]:
        """Rebuild the :class:`~tether.BlockingJob` of a leader task from its ``resume_token``."""
        return BlockingJob(self._run(self._wrapped.resume, token))

    def descriptors(self) -> list[dict[str, Any]]:
        """The UI descriptors of every job the leader knows (free-form, from YAML)."""
        return self._run(self._wrapped.descriptors)
