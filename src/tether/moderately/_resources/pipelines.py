"""Pipelines and their configuration versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.models import json_object
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path, response_json
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, is_mapping, order, ref
from tether.moderately.models import (
    Pipeline,
    PipelineConfigurationVersion,
    PipelineExecution,
    ValidationResult,
)

__all__ = [
    "AsyncPipelineConfigurationVersions",
    "AsyncPipelines",
    "PipelineConfigurationVersions",
    "Pipelines",
    "check_configuration",
]


def check_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration as a dict, refused before any request when it lacks ``id``, ``name``
    or ``blocks`` (the spec's required keys)."""
    if not is_mapping(configuration):
        raise ValidationError("configuration must be a JSON object (a dict)")
    missing = [key for key in ("id", "name", "blocks") if key not in configuration]
    if missing:
        raise ValidationError(f"configuration lacks required keys: {', '.join(missing)}")
    return dict(configuration)


class AsyncPipelines(ModeratelyResource):
    """Pipelines of the client's team.

    Example::

        pipeline = await client.pipelines.create(name="Summariser")
        version = await client.pipelines.create_configuration_version(pipeline,
                                                                      configuration=config)
        done = await client.pipelines.execute(
            pipeline, configuration_version_id=version.configuration_version_id,
            pipeline_input={"documents": ["a"]}, pipeline_input_summary="1 document",
            block=True, timeout=300)
    """

    def list(
        self,
        *,
        pipeline_ids: Ids | None = None,
        name_like: str | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_ids: Ids | None = None,
    ) -> AsyncPager[Pipeline]:
        """Pipelines with their run statistics, a page at a time."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "pipelineIds": ids(pipeline_ids),
            "nameLike": name_like,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/pipelines", Pipeline, params, page=page, page_size=page_size)

    async def retrieve(self, pipeline: Pipeline | str) -> Pipeline:
        """One pipeline, with its run statistics."""
        url = path("/pipelines/{id}", id=ref(pipeline, "pipeline_id", "pipeline"))
        return await self._call("GET", url, Pipeline)

    async def create(self, *, name: str, description: str | None = None) -> Pipeline:
        """Create a pipeline in the client's team (names are unique per team)."""
        if not name:
            raise ValidationError("a pipeline needs a name")
        body: dict[str, Any] = {"teamId": self._client.team_id, "name": name}
        if description is not None:
            body["description"] = description
        return await self._call("POST", "/pipelines", Pipeline, json=body)

    async def update(
        self,
        pipeline: Pipeline | str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Pipeline:
        """Rename or re-describe a pipeline."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        url = path("/pipelines/{id}", id=ref(pipeline, "pipeline_id", "pipeline"))
        return await self._call("PATCH", url, Pipeline, json=body)

    async def delete(self, pipeline: Pipeline | str) -> None:
        """Delete a pipeline."""
        url = path("/pipelines/{id}", id=ref(pipeline, "pipeline_id", "pipeline"))
        await self._send("DELETE", url)

    async def create_configuration_version(
        self,
        pipeline: Pipeline | str,
        *,
        configuration: Mapping[str, Any],
        status: str | None = None,
    ) -> PipelineConfigurationVersion:
        """Create a configuration version of *pipeline* (a draft unless *status* says)."""
        return await self._client.pipeline_configuration_versions.create(
            pipeline_id=ref(pipeline, "pipeline_id", "pipeline"),
            configuration=configuration,
            status=status,
        )

    def list_configuration_versions(
        self,
        pipeline: Pipeline | str,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> AsyncPager[PipelineConfigurationVersion]:
        """The pipeline's configuration versions."""
        return self._client.pipeline_configuration_versions.list(
            pipeline_ids=[ref(pipeline, "pipeline_id", "pipeline")],
            status=status,
            page=page,
            page_size=page_size,
        )

    def list_executions(
        self,
        pipeline: Pipeline | str,
        *,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> AsyncPager[PipelineExecution]:
        """The pipeline's executions, oldest first."""
        return self._client.pipeline_executions.list(
            pipeline_ids=[ref(pipeline, "pipeline_id", "pipeline")],
            status=status,
            statuses=statuses,
            page=page,
            page_size=page_size,
        )

    async def get_latest_execution(self, pipeline: Pipeline | str) -> PipelineExecution | None:
        """The pipeline's most recently created execution, or ``None``."""
        page = await self._client.pipeline_executions.list(
            pipeline_ids=[ref(pipeline, "pipeline_id", "pipeline")],
            order_by="createdAt",
            order_direction="desc",
            page_size=1,
        )
        return page.items[0] if page.items else None

    async def execute(
        self,
        pipeline: Pipeline | str,
        *,
        configuration_version_id: str,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        block: bool = False,
        timeout: float | None = None,
        poll_interval: float | None = None,
        show_progress: bool = False,
    ) -> PipelineExecution:
        """Run a configuration version of *pipeline*; with ``block=True``, wait for the end.

        With ``block=True`` this is ``create`` followed by
        ``pipeline_executions.wait_for_completion`` (``timeout=None``: no overall deadline;
        a pause is still bounded by its default ``paused_timeout``), and a failure raises
        ``ExecutionFailedError``.

        Raises:
            ValidationError: the configuration version belongs to another pipeline.
        """
        executions = self._client.pipeline_executions
        pipeline_id = ref(pipeline, "pipeline_id", "pipeline")
        version = await self._client.pipeline_configuration_versions.retrieve(
            configuration_version_id
        )
        if version.pipeline_id != pipeline_id:
            raise ValidationError(
                f"configuration version {configuration_version_id} belongs to pipeline"
                f" {version.pipeline_id}, not {pipeline_id}"
            )
        created = await executions.create(
            pipeline_configuration_version_id=configuration_version_id,
            pipeline_input=pipeline_input,
            pipeline_input_summary=pipeline_input_summary,
        )
        if not block:
            return created
        return await executions.wait_for_completion(
            created, timeout=timeout, poll_interval=poll_interval, show_progress=show_progress
        )


class Pipelines(Facade[AsyncPipelines], mirrors=AsyncPipelines):
    """Blocking twin of :class:`AsyncPipelines`."""

    def list(
        self,
        *,
        pipeline_ids: Ids | None = None,
        name_like: str | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_ids: Ids | None = None,
    ) -> Pager[Pipeline]:
        """Pipelines with their run statistics, a page at a time."""
        return Pager(
            self._wrapped.list(
                pipeline_ids=pipeline_ids,
                name_like=name_like,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                team_ids=team_ids,
            )
        )

    def retrieve(self, pipeline: Pipeline | str) -> Pipeline:
        """One pipeline, with its run statistics."""
        return self._run(self._wrapped.retrieve, pipeline)

    def create(self, *, name: str, description: str | None = None) -> Pipeline:
        """Create a pipeline in the client's team (names are unique per team)."""
        return self._run(self._wrapped.create, name=name, description=description)

    def update(
        self,
        pipeline: Pipeline | str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Pipeline:
        """Rename or re-describe a pipeline."""
        return self._run(self._wrapped.update, pipeline, name=name, description=description)

    def delete(self, pipeline: Pipeline | str) -> None:
        """Delete a pipeline."""
        return self._run(self._wrapped.delete, pipeline)

    def create_configuration_version(
        self,
        pipeline: Pipeline | str,
        *,
        configuration: Mapping[str, Any],
        status: str | None = None,
    ) -> PipelineConfigurationVersion:
        """Create a configuration version of *pipeline* (a draft unless *status* says)."""
        return self._run(
            self._wrapped.create_configuration_version,
            pipeline,
            configuration=configuration,
            status=status,
        )

    def list_configuration_versions(
        self,
        pipeline: Pipeline | str,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> Pager[PipelineConfigurationVersion]:
        """The pipeline's configuration versions."""
        return Pager(
            self._wrapped.list_configuration_versions(
                pipeline, status=status, page=page, page_size=page_size
            )
        )

    def list_executions(
        self,
        pipeline: Pipeline | str,
        *,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> Pager[PipelineExecution]:
        """The pipeline's executions, oldest first."""
        return Pager(
            self._wrapped.list_executions(
                pipeline, status=status, statuses=statuses, page=page, page_size=page_size
            )
        )

    def get_latest_execution(self, pipeline: Pipeline | str) -> PipelineExecution | None:
        """The pipeline's most recently created execution, or ``None``."""
        return self._run(self._wrapped.get_latest_execution, pipeline)

    def execute(
        self,
        pipeline: Pipeline | str,
        *,
        configuration_version_id: str,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        block: bool = False,
        timeout: float | None = None,
        poll_interval: float | None = None,
        show_progress: bool = False,
    ) -> PipelineExecution:
        """Run a configuration version of *pipeline*; with ``block=True``, wait for the end.

        With ``block=True`` this is ``create`` followed by
        ``pipeline_executions.wait_for_completion`` (``timeout=None``: no overall deadline;
        a pause is still bounded by its default ``paused_timeout``), and a failure raises
        ``ExecutionFailedError``.

        Raises:
            ValidationError: the configuration version belongs to another pipeline.
        """
        return self._run(
            self._wrapped.execute,
            pipeline,
            configuration_version_id=configuration_version_id,
            pipeline_input=pipeline_input,
            pipeline_input_summary=pipeline_input_summary,
            block=block,
            timeout=timeout,
            poll_interval=poll_interval,
            show_progress=show_progress,
        )


class AsyncPipelineConfigurationVersions(ModeratelyResource):
    """Configuration versions: a pipeline's blocks and connections, versioned.

    Example::

        result = await client.pipeline_configuration_versions.validate(configuration=config)
        if result.valid:
            version = await client.pipeline_configuration_versions.create(
                pipeline_id=pipeline.pipeline_id, configuration=config)
    """

    def list(
        self,
        *,
        pipeline_ids: Ids | None = None,
        pipeline_configuration_version_ids: Ids | None = None,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_ids: Ids | None = None,
    ) -> AsyncPager[PipelineConfigurationVersion]:
        """Configuration versions, a page at a time (``order_by``: version, createdAt…)."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "pipelineIds": ids(pipeline_ids),
            "pipelineConfigurationVersionIds": ids(pipeline_configuration_version_ids),
            "status": status,
            "statuses": ids(statuses),
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager(
            "/pipeline-configuration-versions",
            PipelineConfigurationVersion,
            params,
            page=page,
            page_size=page_size,
        )

    async def retrieve(
        self, version: PipelineConfigurationVersion | str
    ) -> PipelineConfigurationVersion:
        """One configuration version."""
        return await self._call("GET", _url(version), PipelineConfigurationVersion)

    async def create(
        self,
        *,
        pipeline_id: str,
        configuration: Mapping[str, Any],
        status: str | None = None,
    ) -> PipelineConfigurationVersion:
        """Create a configuration version (``configuration`` needs ``id``, ``name``, ``blocks``).

        Connections use snake_case keys (``source_port``, ``target_block_id``…), as the
        platform spells them.
        """
        body: dict[str, Any] = {
            "pipelineId": ref(pipeline_id, "pipeline_id", "pipeline"),
            "configuration": check_configuration(configuration),
        }
        if status is not None:
            body["status"] = status
        return await self._call(
            "POST", "/pipeline-configuration-versions", PipelineConfigurationVersion, json=body
        )

    async def update(
        self,
        version: PipelineConfigurationVersion | str,
        *,
        configuration: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> PipelineConfigurationVersion:
        """Replace the configuration or change the status (``current`` makes it the one in use)."""
        body: dict[str, Any] = {}
        if configuration is not None:
            body["configuration"] = check_configuration(configuration)
        if status is not None:
            body["status"] = status
        if not body:
            raise ValidationError("give a configuration or a status to update")
        return await self._call("PATCH", _url(version), PipelineConfigurationVersion, json=body)

    async def delete(self, version: PipelineConfigurationVersion | str) -> None:
        """Delete a configuration version (the platform refuses to delete the current one)."""
        await self._send("DELETE", _url(version))

    async def clone(
        self, version: PipelineConfigurationVersion | str
    ) -> PipelineConfigurationVersion:
        """Copy a configuration version into a new draft with the next version number."""
        return await self._call(
            "POST", _url(version) + "/clone", PipelineConfigurationVersion, json={}
        )

    async def validate(self, *, configuration: Mapping[str, Any]) -> ValidationResult:
        """Check a configuration without saving it: errors, warnings, input/output schemas."""
        if not is_mapping(configuration):
            raise ValidationError("configuration must be a JSON object (a dict)")
        return await self._call(
            "POST",
            "/pipeline-configuration-versions/validate",
            ValidationResult,
            json={"configuration": dict(configuration)},
        )

    async def get_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of a configuration."""
        response = await self._request("GET", "/pipeline-configuration-versions/schema")
        return json_object(response_json(response))

    async def execute(
        self,
        version: PipelineConfigurationVersion | str,
        *,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        block: bool = False,
        timeout: float | None = None,
        poll_interval: float | None = None,
        show_progress: bool = False,
    ) -> PipelineExecution:
        """Run this configuration version; with ``block=True``, wait for the end (see
        ``pipelines.execute``)."""
        executions = self._client.pipeline_executions
        created = await executions.create(
            pipeline_configuration_version_id=ref(
                version, "pipeline_configuration_version_id", "configuration version"
            ),
            pipeline_input=pipeline_input,
            pipeline_input_summary=pipeline_input_summary,
        )
        if not block:
            return created
        return await executions.wait_for_completion(
            created, timeout=timeout, poll_interval=poll_interval, show_progress=show_progress
        )

    def list_executions(
        self,
        version: PipelineConfigurationVersion | str,
        *,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> AsyncPager[PipelineExecution]:
        """Executions of this configuration version, oldest first."""
        return self._client.pipeline_executions.list(
            pipeline_configuration_version_ids=[
                ref(version, "pipeline_configuration_version_id", "configuration version")
            ],
            status=status,
            statuses=statuses,
            page=page,
            page_size=page_size,
        )

    async def get_latest_execution(
        self, version: PipelineConfigurationVersion | str
    ) -> PipelineExecution | None:
        """The most recently created execution of this configuration version, or ``None``."""
        page = await self._client.pipeline_executions.list(
            pipeline_configuration_version_ids=[
                ref(version, "pipeline_configuration_version_id", "configuration version")
            ],
            order_by="createdAt",
            order_direction="desc",
            page_size=1,
        )
        return page.items[0] if page.items else None

    async def get_pipeline(self, version: PipelineConfigurationVersion | str) -> Pipeline:
        """The pipeline a configuration version belongs to."""
        if not isinstance(version, PipelineConfigurationVersion):
            version = await self.retrieve(version)
        return await self._client.pipelines.retrieve(version.pipeline_id)


def _url(version: PipelineConfigurationVersion | str) -> str:
    return path(
        "/pipeline-configuration-versions/{id}",
        id=ref(version, "pipeline_configuration_version_id", "configuration version"),
    )


class PipelineConfigurationVersions(
    Facade[AsyncPipelineConfigurationVersions], mirrors=AsyncPipelineConfigurationVersions
):
    """Blocking twin of :class:`AsyncPipelineConfigurationVersions`."""

    def list(
        self,
        *,
        pipeline_ids: Ids | None = None,
        pipeline_configuration_version_ids: Ids | None = None,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        team_ids: Ids | None = None,
    ) -> Pager[PipelineConfigurationVersion]:
        """Configuration versions, a page at a time (``order_by``: version, createdAt…)."""
        return Pager(
            self._wrapped.list(
                pipeline_ids=pipeline_ids,
                pipeline_configuration_version_ids=pipeline_configuration_version_ids,
                status=status,
                statuses=statuses,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                team_ids=team_ids,
            )
        )

    def retrieve(self, version: PipelineConfigurationVersion | str) -> PipelineConfigurationVersion:
        """One configuration version."""
        return self._run(self._wrapped.retrieve, version)

    def create(
        self,
        *,
        pipeline_id: str,
        configuration: Mapping[str, Any],
        status: str | None = None,
    ) -> PipelineConfigurationVersion:
        """Create a configuration version (``configuration`` needs ``id``, ``name``, ``blocks``).

        Connections use snake_case keys (``source_port``, ``target_block_id``…), as the
        platform spells them.
        """
        return self._run(
            self._wrapped.create,
            pipeline_id=pipeline_id,
            configuration=configuration,
            status=status,
        )

    def update(
        self,
        version: PipelineConfigurationVersion | str,
        *,
        configuration: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> PipelineConfigurationVersion:
        """Replace the configuration or change the status (``current`` makes it the one in use)."""
        return self._run(self._wrapped.update, version, configuration=configuration, status=status)

    def delete(self, version: PipelineConfigurationVersion | str) -> None:
        """Delete a configuration version (the platform refuses to delete the current one)."""
        return self._run(self._wrapped.delete, version)

    def clone(self, version: PipelineConfigurationVersion | str) -> PipelineConfigurationVersion:
        """Copy a configuration version into a new draft with the next version number."""
        return self._run(self._wrapped.clone, version)

    def validate(self, *, configuration: Mapping[str, Any]) -> ValidationResult:
        """Check a configuration without saving it: errors, warnings, input/output schemas."""
        return self._run(self._wrapped.validate, configuration=configuration)

    def get_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of a configuration."""
        return self._run(self._wrapped.get_schema)

    def execute(
        self,
        version: PipelineConfigurationVersion | str,
        *,
        pipeline_input: Mapping[str, Any],
        pipeline_input_summary: str,
        block: bool = False,
        timeout: float | None = None,
        poll_interval: float | None = None,
        show_progress: bool = False,
    ) -> PipelineExecution:
        """Run this configuration version; with ``block=True``, wait for the end (see
        ``pipelines.execute``)."""
        return self._run(
            self._wrapped.execute,
            version,
            pipeline_input=pipeline_input,
            pipeline_input_summary=pipeline_input_summary,
            block=block,
            timeout=timeout,
            poll_interval=poll_interval,
            show_progress=show_progress,
        )

    def list_executions(
        self,
        version: PipelineConfigurationVersion | str,
        *,
        status: str | None = None,
        statuses: Ids | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> Pager[PipelineExecution]:
        """Executions of this configuration version, oldest first."""
        return Pager(
            self._wrapped.list_executions(
                version, status=status, statuses=statuses, page=page, page_size=page_size
            )
        )

    def get_latest_execution(
        self, version: PipelineConfigurationVersion | str
    ) -> PipelineExecution | None:
        """The most recently created execution of this configuration version, or ``None``."""
        return self._run(self._wrapped.get_latest_execution, version)

    def get_pipeline(self, version: PipelineConfigurationVersion | str) -> Pipeline:
        """The pipeline a configuration version belongs to."""
        return self._run(self._wrapped.get_pipeline, version)
