"""Agents and their configuration versions."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, order, ref
from tether.moderately.models import Agent, AgentConfigurationVersion

__all__ = [
    "AgentConfigurationVersions",
    "Agents",
    "AsyncAgentConfigurationVersions",
    "AsyncAgents",
]


class AsyncAgents(ModeratelyResource):
    """Agents of the client's team.

    Example::

        agent = await client.agents.create(name="Researcher", description="Finds things")
        await client.agent_configuration_versions.create(
            agent_id=agent.agent_id, instructions="Answer with sources.", version_number=1
        )
    """

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        agent_ids: Ids | None = None,
        name_like: str | None = None,
        team_ids: Ids | None = None,
    ) -> AsyncPager[Agent]:
        """Agents with their run statistics, a page at a time."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "agentIds": ids(agent_ids),
            "nameLike": name_like,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/agents", Agent, params, page=page, page_size=page_size)

    async def retrieve(self, agent: Agent | str) -> Agent:
        """One agent, with its run statistics."""
        url = path("/agents/{id}", id=ref(agent, "agent_id", "agent"))
        return await self._call("GET", url, Agent)

    async def create(self, *, name: str, description: str | None = None) -> Agent:
        """Create an agent in the client's team."""
        if not name:
            raise ValidationError("an agent needs a name")
        body: dict[str, Any] = {"teamId": self._client.team_id, "name": name}
        if description is not None:
            body["description"] = description
        return await self._call("POST", "/agents", Agent, json=body)

    async def update(
        self,
        agent: Agent | str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Agent:
        """Rename or re-describe an agent."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        url = path("/agents/{id}", id=ref(agent, "agent_id", "agent"))
        return await self._call("PATCH", url, Agent, json=body)

    async def delete(self, agent: Agent | str) -> None:
        """Delete an agent (with its configuration versions and executions)."""
        await self._send("DELETE", path("/agents/{id}", id=ref(agent, "agent_id", "agent")))


class Agents(Facade[AsyncAgents], mirrors=AsyncAgents):
    """Blocking twin of :class:`AsyncAgents`."""

    def list(
        self,
        *,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        agent_ids: Ids | None = None,
        name_like: str | None = None,
        team_ids: Ids | None = None,
    ) -> Pager[Agent]:
        """Agents with their run statistics, a page at a time."""
        return Pager(
            self._wrapped.list(
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                agent_ids=agent_ids,
                name_like=name_like,
                team_ids=team_ids,
            )
        )

    def retrieve(self, agent: Agent | str) -> Agent:
        """One agent, with its run statistics."""
        return self._run(self._wrapped.retrieve, agent)

    def create(self, *, name: str, description: str | None = None) -> Agent:
        """Create an agent in the client's team."""
        return self._run(self._wrapped.create, name=name, description=description)

    def update(
        self,
        agent: Agent | str,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> Agent:
        """Rename or re-describe an agent."""
        return self._run(self._wrapped.update, agent, name=name, description=description)

    def delete(self, agent: Agent | str) -> None:
        """Delete an agent (with its configuration versions and executions)."""
        return self._run(self._wrapped.delete, agent)


class AsyncAgentConfigurationVersions(ModeratelyResource):
    """Versions of an agent's configuration (instructions, models, tools).

    An agent execution runs one configuration version; ``is_current`` marks the one
    ``client.agent_executions.create(agent_id=...)`` uses.
    """

    async def list(
        self,
        *,
        agent_ids: Ids | None = None,
        agent_configuration_version_ids: Ids | None = None,
        version_numbers: Sequence[int] | None = None,
        is_current: bool | None = None,
    ) -> builtins.list[AgentConfigurationVersion]:
        """Configuration versions (the platform answers one unpaged list)."""
        params = {
            "agentIds": ids(agent_ids),
            "agentConfigurationVersionIds": ids(agent_configuration_version_ids),
            "versionNumbers": ",".join(str(n) for n in version_numbers)
            if version_numbers
            else None,
            "isCurrent": is_current,
        }
        return await self._call(
            "GET",
            "/agent-configuration-versions",
            builtins.list[AgentConfigurationVersion],
            params={k: v for k, v in params.items() if v is not None},
        )

    async def retrieve(self, version: AgentConfigurationVersion | str) -> AgentConfigurationVersion:
        """One configuration version."""
        url = path(
            "/agent-configuration-versions/{id}",
            id=ref(version, "agent_configuration_version_id", "agent configuration version"),
        )
        return await self._call("GET", url, AgentConfigurationVersion)

    async def create(
        self,
        *,
        agent_id: str,
        instructions: str,
        version_number: int,
        is_current: bool = True,
        system_prompt: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        llm_config: Mapping[str, Any] | None = None,
        tool_config: Sequence[Mapping[str, Any]] | None = None,
        execution_config: Mapping[str, Any] | None = None,
    ) -> AgentConfigurationVersion:
        """Create a configuration version (current by default, replacing the agent's current one).

        ``llm_config`` maps roles (``thought_llm``, ``planner_llm``, ``fact_extraction_llm``)
        to ``{"provider", "model_tier", ...}``; ``tool_config`` lists ``{"type": "<Tool>"}``;
        ``execution_config`` takes ``max_actions``, ``planning_interval``, ``feedback_rounds``,
        ``timeout_minutes`` (snake_case, as the platform spells them).
        """
        if not instructions:
            raise ValidationError("a configuration version needs instructions")
        body: dict[str, Any] = {
            "agentId": ref(agent_id, "agent_id", "agent"),
            "instructions": instructions,
            "versionNumber": version_number,
            "isCurrent": is_current,
            "systemPrompt": system_prompt,
            "inputSchema": input_schema,
            "outputSchema": output_schema,
            "llmConfig": dict(llm_config or {}),
            "toolConfig": [dict(t) for t in tool_config or ()],
            "executionConfig": dict(execution_config or {}),
        }
        return await self._call(
            "POST", "/agent-configuration-versions", AgentConfigurationVersion, json=body
        )

    async def update(
        self,
        version: AgentConfigurationVersion | str,
        *,
        instructions: str | None = None,
        is_current: bool | None = None,
        system_prompt: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        llm_config: Mapping[str, Any] | None = None,
        tool_config: Sequence[Mapping[str, Any]] | None = None,
        execution_config: Mapping[str, Any] | None = None,
    ) -> AgentConfigurationVersion:
        """Change a configuration version (only the arguments given are sent)."""
        body: dict[str, Any] = {}
        for key, value in (
            ("instructions", instructions),
            ("isCurrent", is_current),
            ("systemPrompt", system_prompt),
            ("inputSchema", input_schema),
            ("outputSchema", output_schema),
            ("llmConfig", dict(llm_config) if llm_config is not None else None),
            ("toolConfig", [dict(t) for t in tool_config] if tool_config is not None else None),
            (
                "executionConfig",
                dict(execution_config) if execution_config is not None else None,
            ),
        ):
            if value is not None:
                body[key] = value
        url = path(
            "/agent-configuration-versions/{id}",
            id=ref(version, "agent_configuration_version_id", "agent configuration version"),
        )
        return await self._call("PATCH", url, AgentConfigurationVersion, json=body)

    async def current(self, agent: Agent | str) -> AgentConfigurationVersion | None:
        """The agent's current configuration version, or ``None`` when it has none."""
        agent_id = ref(agent, "agent_id", "agent")
        found = await self.list(agent_ids=[agent_id], is_current=True)
        return found[0] if found else None


class AgentConfigurationVersions(
    Facade[AsyncAgentConfigurationVersions], mirrors=AsyncAgentConfigurationVersions
):
    """Blocking twin of :class:`AsyncAgentConfigurationVersions`."""

    def list(
        self,
        *,
        agent_ids: Ids | None = None,
        agent_configuration_version_ids: Ids | None = None,
        version_numbers: Sequence[int] | None = None,
        is_current: bool | None = None,
    ) -> builtins.list[AgentConfigurationVersion]:
        """Configuration versions (the platform answers one unpaged list)."""
        return self._run(
            self._wrapped.list,
            agent_ids=agent_ids,
            agent_configuration_version_ids=agent_configuration_version_ids,
            version_numbers=version_numbers,
            is_current=is_current,
        )

    def retrieve(self, version: AgentConfigurationVersion | str) -> AgentConfigurationVersion:
        """One configuration version."""
        return self._run(self._wrapped.retrieve, version)

    def create(
        self,
        *,
        agent_id: str,
        instructions: str,
        version_number: int,
        is_current: bool = True,
        system_prompt: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        llm_config: Mapping[str, Any] | None = None,
        tool_config: Sequence[Mapping[str, Any]] | None = None,
        execution_config: Mapping[str, Any] | None = None,
    ) -> AgentConfigurationVersion:
        """Create a configuration version (current by default, replacing the agent's current one).

        ``llm_config`` maps roles (``thought_llm``, ``planner_llm``, ``fact_extraction_llm``)
        to ``{"provider", "model_tier", ...}``; ``tool_config`` lists ``{"type": "<Tool>"}``;
        ``execution_config`` takes ``max_actions``, ``planning_interval``, ``feedback_rounds``,
        ``timeout_minutes`` (snake_case, as the platform spells them).
        """
        return self._run(
            self._wrapped.create,
            agent_id=agent_id,
            instructions=instructions,
            version_number=version_number,
            is_current=is_current,
            system_prompt=system_prompt,
            input_schema=input_schema,
            output_schema=output_schema,
            llm_config=llm_config,
            tool_config=tool_config,
            execution_config=execution_config,
        )

    def update(
        self,
        version: AgentConfigurationVersion | str,
        *,
        instructions: str | None = None,
        is_current: bool | None = None,
        system_prompt: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        llm_config: Mapping[str, Any] | None = None,
        tool_config: Sequence[Mapping[str, Any]] | None = None,
        execution_config: Mapping[str, Any] | None = None,
    ) -> AgentConfigurationVersion:
        """Change a configuration version (only the arguments given are sent)."""
        return self._run(
            self._wrapped.update,
            version,
            instructions=instructions,
            is_current=is_current,
            system_prompt=system_prompt,
            input_schema=input_schema,
            output_schema=output_schema,
            llm_config=llm_config,
            tool_config=tool_config,
            execution_config=execution_config,
        )

    def current(self, agent: Agent | str) -> AgentConfigurationVersion | None:
        """The agent's current configuration version, or ``None`` when it has none."""
        return self._run(self._wrapped.current, agent)
