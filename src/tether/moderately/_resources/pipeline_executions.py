"""Pipeline executions: run, wait (a tether Job), cancel, update, and read the output."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ResponseDecodeError, ValidationError
from tether._core.jobs import (
    BlockingJob,
    BlockingJobMethod,
    Job,
    JobMethod,
    ProgressCallback,
    ResumeToken,
)
from tether._core.models import json_object
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path, response_json
from tether.moderately._download import (
    StreamDecoder,
    decode_output,
    download_bytes,
    download_to_path,
)
from tether.moderately._jobs import (
    DEFAULT_PAUSED_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    execution_job,
    pipeline_error,
    pipeline_progress,
)
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, is_mapping, order, ref
from tether.moderately.models import PipelineExecution

__all__ = ["AsyncPipelineExecutions", "PipelineExecutions"]

PathLike = str | os.PathLike[str]


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class AsyncPipelineExecutions(ModeratelyResource):
    """Runs of pipeline configuration versions.

    Example::

        execution = await client.pipeline_executions.create(
            pipeline_configuration_version_id=version_id,
            pipeline_input={"documents": ["a", "b"]},
            pipeline_input_summary="2 documents",
        )
        done = await client.pipeline_executions.wait_for_completion(execution, timeout=300)
        output = await client.pipeline_executions.get_output(done)

        job = await client.pipeline_executions.wait_for_completion.start(execution)
        job.on_progress(lambda state: print(state.progress))
        done = await job
    """

    def list(
        self,
        *,
        pipeline_ids: Ids | None = None,
        pipeline_configuration_version_ids: Ids | None = None,
        pipeline_execution_ids: Ids | None = None,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_ids: Ids | None = None,
    ) -> AsyncPager[PipelineExecution]:
        """Executions, a page at a time (``order_by``: createdAt, updatedAt, startedAt)."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "pipelineIds": ids(pipeline_ids),
            "pipelineConfigurationVersionIds": ids(pipeline_configuration_version_ids),
            "pipelineExecutionIds": ids(pipeline_execution_ids),
            "status": status,
            "statuses": ids(statuses),
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager(
            "/pipeline-executions", PipelineExecution, params, page=page, page_size=page_size
        )

    async def retrieve(self, execution: PipelineExecution | str) -> PipelineExecution:
        """One execution, as it is now (also the way to refresh a model)."""
        return await self._call("GET", _url(execution), PipelineExecution)

    async def create(
        self,
        *,
        pipeline_configuration_version_id: str,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        current_step: int | None = None,
        total_steps: int | None = None,
    ) -> PipelineExecution:
        """Start an execution (it begins ``pending``); see :meth:`run` to also wait for it."""
        if not is_mapping(pipeline_input):
            raise ValidationError("pipeline_input must be a JSON object (a dict)")
        body: dict[str, Any] = {
            "pipelineConfigurationVersionId": ref(
                pipeline_configuration_version_id,
                "pipeline_configuration_version_id",
                "configuration version",
            ),
            "pipelineInput": dict(pipeline_input),
            "pipelineInputSummary": pipeline_input_summary,
        }
        if current_step is not None:
            body["currentStep"] = current_step
        if total_steps is not None:
            body["totalSteps"] = total_steps
        return await self._call("POST", "/pipeline-executions", PipelineExecution, json=body)

    async def update(
        self,
        execution: PipelineExecution | str,
        *,
        pipeline_output: Mapping[str, Any] | None = None,
        pipeline_output_summary: str | None = None,
        status: str | None = None,
        progress_data: Mapping[str, Any] | None = None,
        current_step: int | None = None,
        total_steps: int | None = None,
        started_at: datetime | str | None = None,
        completed_at: datetime | str | None = None,
        failed_at: datetime | str | None = None,
        cancelled_at: datetime | str | None = None,
        paused_at: datetime | str | None = None,
    ) -> PipelineExecution:
        """Report progress or results (what workers do); ``status="paused"`` pauses it."""
        body: dict[str, Any] = {}
        for key, value in (
            ("pipelineOutput", dict(pipeline_output) if pipeline_output is not None else None),
            ("pipelineOutputSummary", pipeline_output_summary),
            ("status", status),
            ("progressData", dict(progress_data) if progress_data is not None else None),
            ("currentStep", current_step),
            ("totalSteps", total_steps),
            ("startedAt", _iso(started_at)),
            ("completedAt", _iso(completed_at)),
            ("failedAt", _iso(failed_at)),
            ("cancelledAt", _iso(cancelled_at)),
            ("pausedAt", _iso(paused_at)),
        ):
            if value is not None:
                body[key] = value
        if not body:
            raise ValidationError("give at least one field to update")
        return await self._call("PATCH", _url(execution), PipelineExecution, json=body)

    async def cancel(
        self, execution: PipelineExecution | str, *, reason: str | None = None
    ) -> PipelineExecution:
        """Cancel an execution; the platform answers 400 (``BadRequestError``) once it ended."""
        body: dict[str, Any] = {} if reason is None else {"reason": reason}
        return await self._call("POST", _url(execution) + "/cancel", PipelineExecution, json=body)

    async def get_output(self, execution: PipelineExecution | str) -> Any:
        """The execution's output: inline data, or the stored object downloaded and decoded.

        Stored outputs are decompressed per their ``compressionType`` (gzip or none) and parsed
        when their ``fileType`` is ``json``; csv, parquet and binary outputs are returned as
        bytes. Returns ``None`` when the platform describes no output it can serve.

        Raises:
            NotFoundError: the execution has no output (yet).
            ResponseDecodeError: a compression tether cannot decode (brotli, lz4) or bad JSON.
        """
        descriptor = await self._output(execution)
        kind = descriptor.get("type")
        if kind == "inline":
            data = descriptor.get("data")
            return {} if data is None else data
        url = descriptor.get("downloadUrl")
        if kind != "s3" or not isinstance(url, str):
            return None
        metadata = json_object(descriptor.get("metadata")) or {}
        compression = metadata.get("compressionType")
        file_type = metadata.get("fileType")
        raw = await download_bytes(self._client.http, url)
        return decode_output(
            raw,
            compression=compression if isinstance(compression, str) else None,
            file_type=file_type if isinstance(file_type, str) else None,
        )

    async def download_output(
        self,
        execution: PipelineExecution | str,
        *,
        path: PathLike,
        decompress: bool = True,
    ) -> Path:
        """Write the execution's output to *path* (atomically), streamed for stored outputs.

        Stored outputs are decompressed while streaming unless ``decompress=False``; inline
        outputs are written as JSON.
        """
        descriptor = await self._output(execution)
        target = Path(path)
        if descriptor.get("type") == "inline":
            text = json.dumps(descriptor.get("data") or {}, indent=2, sort_keys=True)
            await asyncio.to_thread(_write_atomically, target, text.encode("utf-8"))
            return target
        url = descriptor.get("downloadUrl")
        if not isinstance(url, str):
            raise ResponseDecodeError("the output descriptor has no downloadUrl", body=descriptor)
        metadata = json_object(descriptor.get("metadata")) or {}
        compression = metadata.get("compressionType")
        decoder = (
            StreamDecoder(compression if isinstance(compression, str) else None)
            if decompress
            else None
        )
        return await download_to_path(self._client.http, url, target, decoder=decoder)

    async def _output(self, execution: PipelineExecution | str) -> dict[str, Any]:
        response = await self._request("GET", _url(execution) + "/output")
        body = json_object(response_json(response))
        if body is None:
            raise ResponseDecodeError(
                "an output answer must be a JSON object",
                request=response.request,
                status=response.status,
                body=response.text()[:2000],
            )
        return body

    @JobMethod
    async def wait_for_completion(
        self,
        execution: PipelineExecution | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        paused_timeout: float | None = DEFAULT_PAUSED_TIMEOUT,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> Job[PipelineExecution]:
        """Wait until an execution ends; returns it completed (``.start(...)`` gives the Job).

        Checks at once, then every *poll_interval* seconds (default: backoff from 0.5 s to
        5 s). Progress is ``currentStep`` of ``totalSteps`` with ``progressData.message``.

        Args:
            execution: the execution or its id.
            timeout: overall deadline in seconds (``None``: none) → ``JobTimeoutError``.
            poll_interval: seconds between checks.
            paused_timeout: ``paused`` is not terminal; a continuous pause longer than this
                raises ``ExecutionPausedError`` (``None``: wait it out, bounded by
                ``timeout`` only).
            show_progress: show a progress bar on stderr (rich, when installed).
            on_progress: called with each new :class:`~tether.JobState`.

        Raises:
            ExecutionFailedError: it failed; ``error`` is ``progressData.error`` (or
                ``errors`` joined).
            ExecutionCancelledError: it was cancelled.
            ExecutionPausedError: paused longer than ``paused_timeout``.
            JobTimeoutError: the deadline passed first (it may still be running).
        """
        execution_id = ref(execution, "pipeline_execution_id", "pipeline execution")
        return execution_job(
            kind="pipeline_execution",
            execution_id=execution_id,
            fetch=lambda: self.retrieve(execution_id),
            progress=pipeline_progress,
            error=pipeline_error,
            cancel=lambda: self.cancel(execution_id),
            timeout=timeout,
            poll_interval=poll_interval,
            paused_timeout=paused_timeout,
            show_progress=show_progress,
            on_progress=on_progress,
        )

    @JobMethod
    async def run(
        self,
        *,
        pipeline_configuration_version_id: str,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        paused_timeout: float | None = DEFAULT_PAUSED_TIMEOUT,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> Job[PipelineExecution]:
        """Create an execution and wait for it (``.start(...)`` creates it and gives the Job).

        The arguments are those of :meth:`create` and :meth:`wait_for_completion`.
        """
        created = await self.create(
            pipeline_configuration_version_id=pipeline_configuration_version_id,
            pipeline_input=pipeline_input,
            pipeline_input_summary=pipeline_input_summary,
        )
        return await self.wait_for_completion.start(
            created,
            timeout=timeout,
            poll_interval=poll_interval,
            paused_timeout=paused_timeout,
            show_progress=show_progress,
            on_progress=on_progress,
        )

    async def job(
        self,
        resume_token: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        paused_timeout: float | None = DEFAULT_PAUSED_TIMEOUT,
    ) -> Job[PipelineExecution]:
        """The Job of an execution from a resume token (``job.resume_token``), e.g. in
        another process; the options are those of :meth:`wait_for_completion`."""
        token = ResumeToken.parse(resume_token, platform="moderately")
        if token.kind != "pipeline_execution" or not isinstance(token.data.get("id"), str):
            raise ValidationError(f"not a pipeline execution token (kind {token.kind!r})")
        return await self.wait_for_completion.start(
            str(token.data["id"]),
            timeout=timeout,
            poll_interval=poll_interval,
            paused_timeout=paused_timeout,
        )


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _url(execution: PipelineExecution | str) -> str:
    return path(
        "/pipeline-executions/{id}",
        id=ref(execution, "pipeline_execution_id", "pipeline execution"),
    )


class PipelineExecutions(Facade[AsyncPipelineExecutions], mirrors=AsyncPipelineExecutions):
    """Blocking twin of :class:`AsyncPipelineExecutions`."""

    wait_for_completion = BlockingJobMethod(AsyncPipelineExecutions.wait_for_completion)
    run = BlockingJobMethod(AsyncPipelineExecutions.run)

    def list(
        self,
        *,
        pipeline_ids: Ids | None = None,
        pipeline_configuration_version_ids: Ids | None = None,
        pipeline_execution_ids: Ids | None = None,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_ids: Ids | None = None,
    ) -> Pager[PipelineExecution]:
        """Executions, a page at a time (``order_by``: createdAt, updatedAt, startedAt)."""
        return Pager(
            self._wrapped.list(
                pipeline_ids=pipeline_ids,
                pipeline_configuration_version_ids=pipeline_configuration_version_ids,
                pipeline_execution_ids=pipeline_execution_ids,
                status=status,
                statuses=statuses,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                team_ids=team_ids,
            )
        )

    def retrieve(self, execution: PipelineExecution | str) -> PipelineExecution:
        """One execution, as it is now (also the way to refresh a model)."""
        return self._run(self._wrapped.retrieve, execution)

    def create(
        self,
        *,
        pipeline_configuration_version_id: str,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        current_step: int | None = None,
        total_steps: int | None = None,
    ) -> PipelineExecution:
        """Start an execution (it begins ``pending``); see :meth:`run` to also wait for it."""
        return self._run(
            self._wrapped.create,
            pipeline_configuration_version_id=pipeline_configuration_version_id,
            pipeline_input=pipeline_input,
            pipeline_input_summary=pipeline_input_summary,
            current_step=current_step,
            total_steps=total_steps,
        )

    def update(
        self,
        execution: PipelineExecution | str,
        *,
        pipeline_output: Mapping[str, Any] | None = None,
        pipeline_output_summary: str | None = None,
        status: str | None = None,
        progress_data: Mapping[str, Any] | None = None,
        current_step: int | None = None,
        total_steps: int | None = None,
        started_at: datetime | str | None = None,
        completed_at: datetime | str | None = None,
        failed_at: datetime | str | None = None,
        cancelled_at: datetime | str | None = None,
        paused_at: datetime | str | None = None,
    ) -> PipelineExecution:
        """Report progress or results (what workers do); ``status="paused"`` pauses it."""
        return self._run(
            self._wrapped.update,
            execution,
            pipeline_output=pipeline_output,
            pipeline_output_summary=pipeline_output_summary,
            status=status,
            progress_data=progress_data,
            current_step=current_step,
            total_steps=total_steps,
            started_at=started_at,
            completed_at=completed_at,
            failed_at=failed_at,
            cancelled_at=cancelled_at,
            paused_at=paused_at,
        )

    def cancel(
        self, execution: PipelineExecution | str, *, reason: str | None = None
    ) -> PipelineExecution:
        """Cancel an execution; the platform answers 400 (``BadRequestError``) once it ended."""
        return self._run(self._wrapped.cancel, execution, reason=reason)

    def get_output(self, execution: PipelineExecution | str) -> Any:
        """The execution's output: inline data, or the stored object downloaded and decoded.

        Stored outputs are decompressed per their ``compressionType`` (gzip or none) and parsed
        when their ``fileType`` is ``json``; csv, parquet and binary outputs are returned as
        bytes. Returns ``None`` when the platform describes no output it can serve.

        Raises:
            NotFoundError: the execution has no output (yet).
            ResponseDecodeError: a compression tether cannot decode (brotli, lz4) or bad JSON.
        """
        return self._run(self._wrapped.get_output, execution)

    def download_output(
        self,
        execution: PipelineExecution | str,
        *,
        path: PathLike,
        decompress: bool = True,
    ) -> Path:
        """Write the execution's output to *path* (atomically), streamed for stored outputs.

        Stored outputs are decompressed while streaming unless ``decompress=False``; inline
        outputs are written as JSON.
        """
        return self._run(self._wrapped.download_output, execution, path=path, decompress=decompress)

    def job(
        self,
        resume_token: str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        paused_timeout: float | None = DEFAULT_PAUSED_TIMEOUT,
    ) -> BlockingJob[PipelineExecution]:
        """The Job of an execution from a resume token (``job.resume_token``), e.g. in
        another process; the options are those of :meth:`wait_for_completion`."""
        return BlockingJob(
            self._run(
                self._wrapped.job,
                resume_token,
                timeout=timeout,
                poll_interval=poll_interval,
                paused_timeout=paused_timeout,
            )
        )
