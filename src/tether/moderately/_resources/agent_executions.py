"""Agent executions: start, inspect, wait for, cancel; memory states and the live tail."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.jobs import BlockingJobMethod, Job, JobMethod, ProgressCallback
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path, response_json
from tether.moderately._jobs import (
    DEFAULT_PAUSED_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    agent_error,
    agent_progress,
    execution_job,
)
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, ref
from tether.moderately.models import (
    AgentExecution,
    AgentLiveTail,
    AgentMemoryState,
)

__all__ = ["AgentExecutions", "AsyncAgentExecutions"]

SUMMARY_LIMIT = 1000


def default_summary(agent_input: Mapping[str, Any]) -> str:
    """A one-line summary of an input, for when the caller gives none (the spec requires one)."""
    text = json.dumps(dict(agent_input), separators=(",", ":"), sort_keys=True, default=str)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


class AsyncAgentExecutions(ModeratelyResource):
    """Runs of agents.

    Example::

        run = await client.agent_executions.create(agent_id=agent.agent_id,
                                                   input_data={"question": "why?"})
        done = await client.agent_executions.wait_for_completion(run, timeout=120)
        print(done.agent_output)
    """

    def list(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 20,
        agent_ids: Ids | None = None,
        statuses: Ids | None = None,
        agent_execution_ids: Ids | None = None,
        agent_configuration_version_ids: Ids | None = None,
        has_agent_output: bool | None = None,
        team_ids: Ids | None = None,
    ) -> AsyncPager[AgentExecution]:
        """Agent runs, a page at a time (max 100 per page; the platform offers no sorting).

        ``agent_id`` and ``status`` are the official SDK's single-value filters; they join
        ``agent_ids`` and ``statuses``.
        """
        agents = [*([agent_id] if agent_id else []), *_many(agent_ids)]
        wanted = [*([status] if status else []), *_many(statuses)]
        params = {
            "teamIds": self._team_ids(team_ids),
            "agentIds": ids(agents),
            "statuses": ids(wanted),
            "agentExecutionIds": ids(agent_execution_ids),
            "agentConfigurationVersionIds": ids(agent_configuration_version_ids),
            "hasAgentOutput": has_agent_output,
        }
        return self._pager(
            "/agent-executions", AgentExecution, params, page=page, page_size=page_size, maximum=100
        )

    async def retrieve(self, execution: AgentExecution | str) -> AgentExecution:
        """One agent run."""
        url = path(
            "/agent-executions/{id}", id=ref(execution, "agent_execution_id", "agent execution")
        )
        return await self._call("GET", url, AgentExecution)

    async def create(
        self,
        *,
        agent_id: str | None = None,
        input_data: Mapping[str, Any] | None = None,
        agent_configuration_version_id: str | None = None,
        agent_input: Mapping[str, Any] | None = None,
        agent_input_summary: str | None = None,
        agent_input_schema: Any = None,
        agent_output_schema: Any = None,
        max_actions: int | None = None,
        planning_interval: int | None = None,
    ) -> AgentExecution:
        """Start an agent run.

        The platform runs a configuration version: give ``agent_configuration_version_id``,
        or ``agent_id`` to run that agent's current version (looked up first). ``input_data``
        (the official SDK's name) and ``agent_input`` are the same thing. The spec requires a
        summary of the input; when none is given, a compact JSON rendering is sent.

        Raises:
            ValidationError: neither id given, or the agent has no configuration version
                (create one with ``client.agent_configuration_versions.create``).
        """
        if input_data is not None and agent_input is not None:
            raise ValidationError("pass input_data or agent_input, not both")
        payload = dict(agent_input if agent_input is not None else input_data or {})
        version_id = agent_configuration_version_id
        if version_id is None:
            if agent_id is None:
                raise ValidationError("pass agent_id or agent_configuration_version_id")
            current = await self._client.agent_configuration_versions.current(agent_id)
            if current is None:
                raise ValidationError(
                    f"agent {agent_id} has no configuration version to run; create one with"
                    " client.agent_configuration_versions.create(agent_id=..., ...)"
                )
            version_id = current.agent_configuration_version_id
        body: dict[str, Any] = {
            "agentConfigurationVersionId": version_id,
            "agentInput": payload,
            "agentInputSummary": agent_input_summary
            if agent_input_summary is not None
            else default_summary(payload),
        }
        for key, value in (
            ("agentInputSchema", agent_input_schema),
            ("agentOutputSchema", agent_output_schema),
            ("maxActions", max_actions),
            ("planningInterval", planning_interval),
        ):
            if value is not None:
                body[key] = value
        return await self._call("POST", "/agent-executions", AgentExecution, json=body)

    async def cancel(self, execution: AgentExecution | str) -> AgentExecution:
        """Cancel a run.

        ``POST /agent-executions/{id}/cancel`` is not in the platform's OpenAPI document; it is
        offered because the official SDK calls it (its sync client with POST, its async client
        with PATCH; tether always uses POST). A server that does not serve it answers 404.
        """
        execution_id = ref(execution, "agent_execution_id", "agent execution")
        url = path("/agent-executions/{id}/cancel", id=execution_id)
        response = await self._request("POST", url, json={})
        if not response.content:
            return await self.retrieve(execution_id)
        return self._decode(response_json(response), AgentExecution, response=response)

    async def delete(self, execution: AgentExecution | str) -> None:
        """Delete a run.

        ``DELETE /agent-executions/{id}`` is not in the platform's OpenAPI document; it is
        offered because the official async SDK calls it. A server that does not serve it
        answers 404.
        """
        url = path(
            "/agent-executions/{id}", id=ref(execution, "agent_execution_id", "agent execution")
        )
        await self._send("DELETE", url)

    @JobMethod
    async def wait_for_completion(
        self,
        execution: AgentExecution | str,
        *,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float | None = None,
        paused_timeout: float | None = DEFAULT_PAUSED_TIMEOUT,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> Job[AgentExecution]:
        """Wait until a run ends; returns the completed run (``.start(...)`` gives the Job).

        Args:
            execution: the run or its id.
            timeout: overall deadline in seconds (``None``: none) → ``JobTimeoutError``.
            poll_interval: seconds between checks (default: backoff from 0.5 s to 5 s).
            paused_timeout: how long a continuous ``paused`` is waited out before
                ``ExecutionPausedError`` (``None``: bounded by ``timeout`` only).
            show_progress: show a progress bar on stderr (rich, when installed).
            on_progress: called with each new :class:`~tether.JobState`.

        Raises:
            ExecutionFailedError: the run failed (``error`` says why).
            ExecutionCancelledError: the run was cancelled.
            ExecutionPausedError: paused longer than ``paused_timeout``.
            JobTimeoutError: the deadline passed first.
        """
        execution_id = ref(execution, "agent_execution_id", "agent execution")
        return execution_job(
            kind="agent_execution",
            execution_id=execution_id,
            fetch=lambda: self.retrieve(execution_id),
            progress=agent_progress,
            error=agent_error,
            cancel=lambda: self.cancel(execution_id),
            timeout=timeout,
            poll_interval=poll_interval,
            paused_timeout=paused_timeout,
            show_progress=show_progress,
            on_progress=on_progress,
        )

    def memory_states(
        self,
        execution: AgentExecution | str,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        version: int | None = None,
        latest: bool | None = None,
    ) -> AsyncPager[AgentMemoryState]:
        """Snapshots of a run's memory, a page at a time."""
        params = {
            "orderBy": order_by,
            "orderDirection": order_direction,
            "version": version,
            "latest": latest,
        }
        url = path(
            "/agent-executions/{id}/memory-states",
            id=ref(execution, "agent_execution_id", "agent execution"),
        )
        return self._pager(url, AgentMemoryState, params, page=page, page_size=page_size)

    async def memory_state(self, execution: AgentExecution | str, version: int) -> AgentMemoryState:
        """One snapshot of a run's memory, by version number."""
        url = path(
            "/agent-executions/{id}/memory-states/{version}",
            id=ref(execution, "agent_execution_id", "agent execution"),
            version=version,
        )
        return await self._call("GET", url, AgentMemoryState)

    async def live_tail(self, execution: AgentExecution | str) -> AgentLiveTail:
        """The run's status, latest memory and steps so far."""
        url = path(
            "/agent-executions/{id}/live-tail",
            id=ref(execution, "agent_execution_id", "agent execution"),
        )
        return await self._call("GET", url, AgentLiveTail)


def _many(value: Ids | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


class AgentExecutions(Facade[AsyncAgentExecutions], mirrors=AsyncAgentExecutions):
    """Blocking twin of :class:`AsyncAgentExecutions`."""

    wait_for_completion = BlockingJobMethod(AsyncAgentExecutions.wait_for_completion)

    def list(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        page: int = 1,
        page_size: int = 20,
        agent_ids: Ids | None = None,
        statuses: Ids | None = None,
        agent_execution_ids: Ids | None = None,
        agent_configuration_version_ids: Ids | None = None,
        has_agent_output: bool | None = None,
        team_ids: Ids | None = None,
    ) -> Pager[AgentExecution]:
        """Agent runs, a page at a time (max 100 per page; the platform offers no sorting).

        ``agent_id`` and ``status`` are the official SDK's single-value filters; they join
        ``agent_ids`` and ``statuses``.
        """
        return Pager(
            self._wrapped.list(
                agent_id=agent_id,
                status=status,
                page=page,
                page_size=page_size,
                agent_ids=agent_ids,
                statuses=statuses,
                agent_execution_ids=agent_execution_ids,
                agent_configuration_version_ids=agent_configuration_version_ids,
                has_agent_output=has_agent_output,
                team_ids=team_ids,
            )
        )

    def retrieve(self, execution: AgentExecution | str) -> AgentExecution:
        """One agent run."""
        return self._run(self._wrapped.retrieve, execution)

    def create(
        self,
        *,
        agent_id: str | None = None,
        input_data: Mapping[str, Any] | None = None,
        agent_configuration_version_id: str | None = None,
        agent_input: Mapping[str, Any] | None = None,
        agent_input_summary: str | None = None,
        agent_input_schema: Any = None,
        agent_output_schema: Any = None,
        max_actions: int | None = None,
        planning_interval: int | None = None,
    ) -> AgentExecution:
        """Start an agent run.

        The platform runs a configuration version: give ``agent_configuration_version_id``,
        or ``agent_id`` to run that agent's current version (looked up first). ``input_data``
        (the official SDK's name) and ``agent_input`` are the same thing. The spec requires a
        summary of the input; when none is given, a compact JSON rendering is sent.

        Raises:
            ValidationError: neither id given, or the agent has no configuration version
                (create one with ``client.agent_configuration_versions.create``).
        """
        return self._run(
            self._wrapped.create,
            agent_id=agent_id,
            input_data=input_data,
            agent_configuration_version_id=agent_configuration_version_id,
            agent_input=agent_input,
            agent_input_summary=agent_input_summary,
            agent_input_schema=agent_input_schema,
            agent_output_schema=agent_output_schema,
            max_actions=max_actions,
            planning_interval=planning_interval,
        )

    def cancel(self, execution: AgentExecution | str) -> AgentExecution:
        """Cancel a run.

        ``POST /agent-executions/{id}/cancel`` is not in the platform's OpenAPI document; it is
        offered because the official SDK calls it (its sync client with POST, its async client
        with PATCH; tether always uses POST). A server that does not serve it answers 404.
        """
        return self._run(self._wrapped.cancel, execution)

    def delete(self, execution: AgentExecution | str) -> None:
        """Delete a run.

        ``DELETE /agent-executions/{id}`` is not in the platform's OpenAPI document; it is
        offered because the official async SDK calls it. A server that does not serve it
        answers 404.
        """
        return self._run(self._wrapped.delete, execution)

    def memory_states(
        self,
        execution: AgentExecution | str,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
        version: int | None = None,
        latest: bool | None = None,
    ) -> Pager[AgentMemoryState]:
        """Snapshots of a run's memory, a page at a time."""
        return Pager(
            self._wrapped.memory_states(
                execution,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                version=version,
                latest=latest,
            )
        )

    def memory_state(self, execution: AgentExecution | str, version: int) -> AgentMemoryState:
        """One snapshot of a run's memory, by version number."""
        return self._run(self._wrapped.memory_state, execution, version)

    def live_tail(self, execution: AgentExecution | str) -> AgentLiveTail:
        """The run's status, latest memory and steps so far."""
        return self._run(self._wrapped.live_tail, execution)
