"""The Moderately AI client: ``AsyncModeratelyAI`` and its blocking twin ``ModeratelyAI``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Final

import aiohttp

from tether._core.blocking import ClientFacade
from tether._core.errors import ValidationError
from tether._core.http import HTTPClient, RetryPolicy, Transport
from tether._core.resource import AsyncClientBase, decode, response_json
from tether.moderately._errors import moderately_error_parser
from tether.moderately._resources.account import (
    ApiTokens,
    AsyncApiTokens,
    AsyncAuditLogs,
    AsyncAuthentication,
    AuditLogs,
    Authentication,
)
from tether.moderately._resources.agent_executions import AgentExecutions, AsyncAgentExecutions
from tether.moderately._resources.agents import (
    AgentConfigurationVersions,
    Agents,
    AsyncAgentConfigurationVersions,
    AsyncAgents,
)
from tether.moderately._resources.dataset_versions import (
    AsyncDatasetDataVersions,
    AsyncDatasetSchemaVersions,
    DatasetDataVersions,
    DatasetSchemaVersions,
)
from tether.moderately._resources.datasets import AsyncDatasets, Datasets
from tether.moderately._resources.files import AsyncFiles, Files
from tether.moderately._resources.pipeline_executions import (
    AsyncPipelineExecutions,
    PipelineExecutions,
)
from tether.moderately._resources.pipelines import (
    AsyncPipelineConfigurationVersions,
    AsyncPipelines,
    PipelineConfigurationVersions,
    Pipelines,
)
from tether.moderately._resources.teams import AsyncTeams, AsyncTeamUsers, Teams, TeamUsers
from tether.moderately._resources.users import AsyncUsers, Users
from tether.moderately.models import Health, converter

__all__ = ["AsyncModeratelyAI", "ModeratelyAI"]

ENV_API_KEY: Final = "MODERATELY_API_KEY"
ENV_TEAM_ID: Final = "MODERATELY_TEAM_ID"
ENV_BASE_URL: Final = "MODERATELY_BASE_URL"
DEFAULT_BASE_URL: Final = "https://api.moderately.ai"

RETRIED_STATUSES: Final = frozenset({408, 429, 502, 503, 504})
"""Retried for idempotent requests (429 for every method); a 500 is never retried."""


def _setting(value: str | None, variable: str, what: str) -> str:
    found = value if value is not None else os.environ.get(variable)
    if not found or not found.strip():
        raise ValidationError(f"no {what}: pass {what}=... or set {variable}")
    return found.strip()


class AsyncModeratelyAI(AsyncClientBase):
    """Async client of the Moderately AI API.

    Every argument falls back to an environment variable: ``MODERATELY_API_KEY``,
    ``MODERATELY_TEAM_ID``, ``MODERATELY_BASE_URL`` (default ``https://api.moderately.ai``).

    Args:
        team_id: the team every request is scoped to.
        api_key: the API key (sent as ``Authorization: Bearer …``; never logged or shown).
        base_url: the API's address; a path prefix is kept.
        timeout: seconds for one HTTP attempt (also the idle limit of storage transfers).
        max_retries: retries of idempotent requests on 408/429/502/503/504 and connection
            failures (a POST only on 429 or when it never reached the server).
        retries: a full :class:`~tether.RetryPolicy` (overrides *max_retries*).
        default_headers: headers added to every API request.
        default_query: query parameters added to every API request.
        session: an aiohttp session to use (never closed by tether).

    Example::

        async with AsyncModeratelyAI() as client:           # reads MODERATELY_* variables
            async for dataset in client.datasets.list():
                print(dataset.name)
    """

    def __init__(
        self,
        *,
        team_id: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        retries: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        key = _setting(api_key, ENV_API_KEY, "api_key")
        self.team_id = _setting(team_id, ENV_TEAM_ID, "team_id")
        url = base_url if base_url is not None else os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        policy = (
            retries
            if retries is not None
            else RetryPolicy(max_retries=max_retries, statuses=RETRIED_STATUSES)
        )
        header = {"Authorization": f"Bearer {key}"}
        self.http = HTTPClient(
            url,
            transport=Transport(session),
            headers={"Accept": "application/json", **(default_headers or {})},
            auth=header.copy,
            timeout=timeout,
            retries=policy,
            error_parser=moderately_error_parser,
        )
        self.base_url = self.http.base_url
        self.default_query: Mapping[str, Any] = dict(default_query or {})
        self.converter = converter

    def __repr__(self) -> str:
        return f"AsyncModeratelyAI(base_url={self.base_url!r}, team_id={self.team_id!r})"

    async def health(self) -> Health:
        """The API's health and version (``GET /health``)."""
        response = await self.http.request("GET", "/health")
        return decode(self.converter, response_json(response), Health, response=response)

    @cached_property
    def users(self) -> AsyncUsers:
        """Users, and the teams they belong to."""
        return AsyncUsers(self)

    @cached_property
    def teams(self) -> AsyncTeams:
        """Teams."""
        return AsyncTeams(self)

    @cached_property
    def team_users(self) -> AsyncTeamUsers:
        """Team memberships and roles."""
        return AsyncTeamUsers(self)

    @cached_property
    def api_tokens(self) -> AsyncApiTokens:
        """Team-scoped API tokens."""
        return AsyncApiTokens(self)

    @cached_property
    def audit_logs(self) -> AsyncAuditLogs:
        """The audit trail."""
        return AsyncAuditLogs(self)

    @cached_property
    def authentication(self) -> AsyncAuthentication:
        """Sign-in flows and ``whoami``."""
        return AsyncAuthentication(self)

    @cached_property
    def agents(self) -> AsyncAgents:
        """Agents."""
        return AsyncAgents(self)

    @cached_property
    def agent_configuration_versions(self) -> AsyncAgentConfigurationVersions:
        """Versions of agents' configurations."""
        return AsyncAgentConfigurationVersions(self)

    @cached_property
    def agent_executions(self) -> AsyncAgentExecutions:
        """Runs of agents."""
        return AsyncAgentExecutions(self)

    @cached_property
    def datasets(self) -> AsyncDatasets:
        """Datasets, their data and their schemas."""
        return AsyncDatasets(self)

    @cached_property
    def dataset_data_versions(self) -> AsyncDatasetDataVersions:
        """Dataset data versions (the building blocks of ``datasets.upload_data``)."""
        return AsyncDatasetDataVersions(self)

    @cached_property
    def dataset_schema_versions(self) -> AsyncDatasetSchemaVersions:
        """Dataset schema versions."""
        return AsyncDatasetSchemaVersions(self)

    @cached_property
    def pipelines(self) -> AsyncPipelines:
        """Pipelines."""
        return AsyncPipelines(self)

    @cached_property
    def pipeline_configuration_versions(self) -> AsyncPipelineConfigurationVersions:
        """Versions of pipelines' configurations."""
        return AsyncPipelineConfigurationVersions(self)

    @cached_property
    def pipeline_executions(self) -> AsyncPipelineExecutions:
        """Runs of pipelines."""
        return AsyncPipelineExecutions(self)

    @cached_property
    def files(self) -> AsyncFiles:
        """Files: uploads and downloads through presigned URLs."""
        return AsyncFiles(self)


class ModeratelyAI(ClientFacade[AsyncModeratelyAI], mirrors=AsyncModeratelyAI):
    """Blocking client of the Moderately AI API; the same API as :class:`AsyncModeratelyAI`.

    Example::

        with ModeratelyAI() as client:                      # reads MODERATELY_* variables
            dataset = client.datasets.create(name="Scores")
            client.datasets.upload_data(dataset, "scores.csv")
    """

    users: Users
    teams: Teams
    team_users: TeamUsers
    api_tokens: ApiTokens
    audit_logs: AuditLogs
    authentication: Authentication
    agents: Agents
    agent_configuration_versions: AgentConfigurationVersions
    agent_executions: AgentExecutions
    datasets: Datasets
    dataset_data_versions: DatasetDataVersions
    dataset_schema_versions: DatasetSchemaVersions
    pipelines: Pipelines
    pipeline_configuration_versions: PipelineConfigurationVersions
    pipeline_executions: PipelineExecutions
    files: Files

    def __init__(
        self,
        *,
        team_id: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        retries: RetryPolicy | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            AsyncModeratelyAI(
                team_id=team_id,
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                retries=retries,
                default_headers=default_headers,
                default_query=default_query,
                session=session,
            )
        )

    def __repr__(self) -> str:
        return f"ModeratelyAI(base_url={self.base_url!r}, team_id={self.team_id!r})"

    @property
    def team_id(self) -> str:
        """The team every request is scoped to."""
        return self._wrapped.team_id

    @property
    def base_url(self) -> str:
        """The API's address."""
        return self._wrapped.base_url

    def health(self) -> Health:
        """The API's health and version (``GET /health``)."""
        return self._run(self._wrapped.health)
