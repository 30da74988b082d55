"""Agents, agent configuration versions and agent executions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

from tether.testing.moderately._executions import STATUSES, TERMINAL, ExecutionEngine
from tether.testing.moderately._models import Ctx, Reply, Route
from tether.testing.moderately._util import (
    JSON,
    ApiError,
    BodyReader,
    ListSpec,
    QueryReader,
    as_list,
    as_obj,
    like,
    paginate,
    public,
)

AGENT_FIELDS = ("agentId", "teamId", "name", "description", "createdAt", "updatedAt")
ACV_FIELDS = (
    "agentConfigurationVersionId",
    "agentId",
    "instructions",
    "inputSchema",
    "outputSchema",
    "versionNumber",
    "isCurrent",
    "createdAt",
    "updatedAt",
    "systemPrompt",
    "llmConfig",
    "toolConfig",
    "executionConfig",
)
EXECUTION_FIELDS = (
    "agentExecutionId",
    "agentConfigurationVersionId",
    "agentInput",
    "agentInputSchema",
    "agentInputSummary",
    "agentOutput",
    "agentOutputSchema",
    "agentOutputSummary",
    "status",
    "thoughts",
    "maxActions",
    "currentStep",
    "planningInterval",
    "createdAt",
    "updatedAt",
    "startedAt",
    "completedAt",
    "failedAt",
    "cancelledAt",
    "pausedAt",
)
TOOL_TYPES = (
    "GetDateTool",
    "ResourceSearchTool",
    "ResourceListTool",
    "ResourceStructureTool",
    "RelatedResourcesTool",
    "ResourceSampleTool",
    "ResourceSectionTool",
    "ResourceFindLinesTool",
    "ResourceReadLinesTool",
    "ResourceSummarizationTool",
    "ResourceQuestionAnsweringTool",
    "ResourceStructuredExtractionTool",
    "ResourceEntitiesExtractionTool",
    "ResourcePrioritizationTool",
    "TavilySearchTool",
    "GenericSearchTool",
    "PatentSearchTool",
    "PubmedSearchTool",
    "ClinicalTrialSearchTool",
    "SummaryTool",
    "CriticalAnalysisTool",
    "DraftWritingTool",
    "WritingFeedbackTool",
    "ResourceGroundedEditorTool",
    "ClassifyEntitiesFromTextTool",
    "RegexSearchTool",
    "ScrapeWebsiteTool",
    "ResourceCreationTool",
    "AskAgentRunTool",
)
LLM_ROLES = ("thought_llm", "fact_extraction_llm", "planner_llm")
DEFAULT_EXECUTION_CONFIG: JSON = {
    "max_actions": 10,
    "planning_interval": 4,
    "feedback_rounds": 0,
    "timeout_minutes": 30,
}


def stats(executions: list[JSON]) -> JSON:
    """``lastRunAt/totalRuns/successfulRuns/successRate`` over *executions* (rate in 0..1)."""
    total = len(executions)
    ok = sum(1 for e in executions if e["status"] == "completed")
    last = max((e["createdAt"] for e in executions), default=None)
    return {
        "lastRunAt": last,
        "totalRuns": total,
        "successfulRuns": ok,
        "successRate": round(ok / total, 4) if total else 0,
    }


_ID_FIELDS: dict[str, str] = {
    "agents": "agentId",
    "pipelines": "pipelineId",
    "datasets": "datasetId",
}


class AgentRoutes(ExecutionEngine):
    """Mixin: ``/agents``, ``/agent-configuration-versions`` and ``/agent-executions``."""

    def _routes_agents(self) -> list[Route]:
        ae = "/agent-executions/{agentExecutionId}"
        return [
            Route(
                "POST",
                "/agents",
                self._create_agent,
                audit=("agent", "create"),
                audit_kind="agents",
                audit_id="agentId",
            ),
            Route("GET", "/agents", self._list_agents),
            Route("GET", "/agents/{agentId}", self._get_agent),
            Route(
                "PATCH",
                "/agents/{agentId}",
                self._patch_agent,
                audit=("agent", "update"),
                audit_kind="agents",
            ),
            Route(
                "DELETE",
                "/agents/{agentId}",
                self._delete_agent,
                audit=("agent", "delete"),
                audit_kind="agents",
            ),
            Route(
                "POST",
                "/agent-configuration-versions",
                self._create_acv,
                audit=("agentConfigurationVersion", "create"),
                audit_kind="agentConfigurationVersions",
                audit_id="agentConfigurationVersionId",
            ),
            Route("GET", "/agent-configuration-versions", self._list_acvs),
            Route(
                "GET", "/agent-configuration-versions/{agentConfigurationVersionId}", self._get_acv
            ),
            Route(
                "PATCH",
                "/agent-configuration-versions/{agentConfigurationVersionId}",
                self._patch_acv,
                audit=("agentConfigurationVersion", "update"),
                audit_kind="agentConfigurationVersions",
            ),
            Route(
                "POST",
                "/agent-executions",
                self._create_agent_execution,
                audit=("agentExecution", "execute"),
                audit_kind="agentExecutions",
                audit_id="agentExecutionId",
            ),
            Route("GET", "/agent-executions", self._list_agent_executions),
            Route("GET", ae, self._get_agent_execution),
            Route("GET", ae + "/memory-states", self._list_memory_states),
            Route("GET", ae + "/memory-states/{version}", self._get_memory_state),
            Route("GET", ae + "/live-tail", self._live_tail),
            Route(
                "POST",
                ae + "/cancel",
                self._cancel_agent_execution,
                audit=("agentExecution", "update"),
                audit_kind="agentExecutions",
                compat=True,
                spec=False,
            ),
            Route(
                "PATCH",
                ae + "/cancel",
                self._cancel_agent_execution,
                audit=("agentExecution", "update"),
                audit_kind="agentExecutions",
                compat=True,
                spec=False,
            ),
            Route(
                "DELETE",
                ae,
                self._delete_agent_execution,
                audit=("agentExecution", "delete"),
                audit_kind="agentExecutions",
                compat=True,
                spec=False,
            ),
        ]

    # ------------------------------------------------------------------ agents

    def _agent_executions_of(self, agent_id: str) -> list[JSON]:
        self._observe_kind("agentExecutions")
        return [e for e in self._all("agentExecutions") if e["_agentId"] == agent_id]

    def _agent_view(self, agent: JSON, *, with_stats: bool) -> JSON:
        view = public(agent, AGENT_FIELDS)
        if with_stats:
            view.update(stats(self._agent_executions_of(agent["agentId"])))
        return view

    def _name_taken(
        self, kind: Any, team_id: str, name: str, *, exclude: str | None = None
    ) -> bool:
        id_field = _ID_FIELDS[kind]
        return any(
            r["teamId"] == team_id and r["name"] == name and r[id_field] != exclude
            for r in self._db[kind].values()
        )

    # -- named team resources (agents, pipelines): the same create / list / patch rules ----

    def _create_named(
        self,
        ctx: Ctx,
        kind: Any,
        noun: str,
        view: Callable[..., JSON],
        *,
        team_aliases: Sequence[str] = (),
    ) -> Reply:
        """``POST`` of a team resource with a unique ``name``; *noun* is "An agent", …"""
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        team_id = body.text("teamId", required=True, min_len=1, aliases=team_aliases)
        name = body.text("name", required=True, min_len=1, max_len=255)
        description = body.text("description", nullable=True, max_len=2000)
        body.check()
        assert team_id is not None and name is not None
        self._require_team(ctx, team_id)
        if self._name_taken(kind, team_id, name):
            raise ApiError(409, f"{noun} named {name!r} already exists in this team")
        now = self._now()
        id_field = _ID_FIELDS[kind]
        record = self._insert(
            kind,
            {
                id_field: self._ids.new(id_field.removesuffix("Id")),
                "teamId": team_id,
                "name": name,
                "description": description,
                "createdAt": now,
                "updatedAt": now,
            },
        )
        return Reply(201, view(record, with_stats=False))

    def _list_named(self, ctx: Ctx, kind: Any, view: Callable[..., JSON]) -> Reply:
        """``GET`` list of a team resource: ``teamIds``, ``<kind>Ids``, ``nameLike``, paging."""
        id_field = _ID_FIELDS[kind]
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids(id_field + "s")
        name_like = q.get("nameLike")
        items = [
            r
            for r in self._all(kind)
            if r["teamId"] in teams
            and (ids is None or r[id_field] in ids)
            and like(r["name"], name_like)
        ]
        page = paginate(items, q, ListSpec(order_by=("name", "createdAt", "updatedAt")))
        page["items"] = [view(r, with_stats=True) for r in page["items"]]
        return Reply(200, page)

    def _patch_named(
        self, ctx: Ctx, kind: Any, record: JSON, noun: str, view: Callable[..., JSON]
    ) -> Reply:
        """``PATCH`` of ``name`` and ``description`` of a team resource."""
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        name = body.text("name", min_len=1, max_len=255)
        description = body.text("description", nullable=True, max_len=2000)
        body.check()
        if name is not None and self._name_taken(
            kind, record["teamId"], name, exclude=record[_ID_FIELDS[kind]]
        ):
            raise ApiError(409, f"{noun} named {name!r} already exists in this team")
        if name is not None:
            record["name"] = name
        if body.has("description"):
            record["description"] = description
        record["updatedAt"] = self._now()
        return Reply(200, view(record, with_stats=False))

    def _create_agent(self, ctx: Ctx) -> Reply:
        aliases = ("team_id",) if self.compat else ()
        return self._create_named(ctx, "agents", "An agent", self._agent_view, team_aliases=aliases)

    def _list_agents(self, ctx: Ctx) -> Reply:
        return self._list_named(ctx, "agents", self._agent_view)

    def _get_agent(self, ctx: Ctx) -> Reply:
        agent = self._owned(ctx, "agents", ctx.params["agentId"], "Agent")
        return Reply(200, self._agent_view(agent, with_stats=True))

    def _patch_agent(self, ctx: Ctx) -> Reply:
        agent = self._owned(ctx, "agents", ctx.params["agentId"], "Agent")
        return self._patch_named(ctx, "agents", agent, "An agent", self._agent_view)

    def _delete_agent(self, ctx: Ctx) -> Reply:
        agent = self._owned(ctx, "agents", ctx.params["agentId"], "Agent")
        self._require_write(ctx)
        agent_id = agent["agentId"]
        del self._db["agents"][agent_id]
        acvs = {
            k for k, v in self._db["agentConfigurationVersions"].items() if v["agentId"] == agent_id
        }
        for key in acvs:
            del self._db["agentConfigurationVersions"][key]
        for key in [k for k, v in self._db["agentExecutions"].items() if v["_agentId"] == agent_id]:
            del self._db["agentExecutions"][key]
            self._runs.pop(key, None)
        return Reply(200, {"success": True, "message": "Agent deleted"})

    # ------------------------------------------------------------------ configuration versions

    def _check_llm_and_tools(
        self, body: BodyReader, llm: JSON | None, tools: list[Any] | None
    ) -> None:
        for role, value in (llm or {}).items():
            cfg = as_obj(value)
            if role not in LLM_ROLES or cfg is None:
                body.errors.append({"field": f"llmConfig.{role}", "message": "unknown or invalid"})
                continue
            if cfg.get("provider") not in ("vertexai", "anthropic", "openai"):
                body.errors.append({"field": f"llmConfig.{role}.provider", "message": "invalid"})
            if cfg.get("model_tier") not in ("large", "medium", "small"):
                body.errors.append({"field": f"llmConfig.{role}.model_tier", "message": "invalid"})
        for index, tool in enumerate(tools or []):
            tool_obj = as_obj(tool)
            if tool_obj is None or tool_obj.get("type") not in TOOL_TYPES:
                body.errors.append(
                    {"field": f"toolConfig[{index}].type", "message": "unknown tool type"}
                )

    def _create_acv(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        agent_id = body.text("agentId", required=True, min_len=1)
        instructions = body.text("instructions", required=True, min_len=1)
        version = body.integer("versionNumber", required=True, minimum=1)
        is_current = body.flag("isCurrent", required=True)
        system_prompt = body.text("systemPrompt", nullable=True)
        llm = body.mapping("llmConfig", nullable=True)
        tools = body.array("toolConfig")
        execution_config = body.mapping("executionConfig", nullable=True)
        self._check_llm_and_tools(body, llm, tools)
        body.check()
        assert agent_id is not None and version is not None and is_current is not None
        agent = self._owned(ctx, "agents", agent_id, "Agent")
        if any(
            v["agentId"] == agent_id and v["versionNumber"] == version
            for v in self._db["agentConfigurationVersions"].values()
        ):
            raise ApiError(409, f"Version {version} already exists for this agent")
        acv = self._new_acv(
            agent["agentId"],
            instructions=instructions or "",
            version=version,
            is_current=is_current,
            extra={
                "inputSchema": ctx.body.get("inputSchema"),
                "outputSchema": ctx.body.get("outputSchema"),
                "systemPrompt": system_prompt,
                "llmConfig": llm or {},
                "toolConfig": tools or [],
                "executionConfig": {**DEFAULT_EXECUTION_CONFIG, **(execution_config or {})},
            },
        )
        return Reply(201, public(acv, ACV_FIELDS))

    def _new_acv(
        self, agent_id: str, *, instructions: str, version: int, is_current: bool, extra: JSON
    ) -> JSON:
        if is_current:
            for other in self._db["agentConfigurationVersions"].values():
                if other["agentId"] == agent_id:
                    other["isCurrent"] = False
        now = self._now()
        record: JSON = {
            "agentConfigurationVersionId": self._ids.new("agentConfigurationVersion"),
            "agentId": agent_id,
            "instructions": instructions,
            "inputSchema": None,
            "outputSchema": None,
            "versionNumber": version,
            "isCurrent": is_current,
            "createdAt": now,
            "updatedAt": now,
            "systemPrompt": None,
            "llmConfig": {},
            "toolConfig": [],
            "executionConfig": dict(DEFAULT_EXECUTION_CONFIG),
        }
        record.update(copy.deepcopy(extra))
        return self._insert("agentConfigurationVersions", record)

    def _list_acvs(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        agent_ids = q.ids("agentIds")
        ids = q.ids("agentConfigurationVersionIds")
        versions = q.ids("versionNumbers")
        current = q.flag("isCurrent")
        q.check()
        for agent_id in agent_ids or []:
            self._owned(ctx, "agents", agent_id, "Agent")
        teams = self._teams_of(ctx.principal)
        items = [
            v
            for v in self._all("agentConfigurationVersions")
            if self._team_of("agentConfigurationVersions", v) in teams
            and (agent_ids is None or v["agentId"] in agent_ids)
            and (ids is None or v["agentConfigurationVersionId"] in ids)
            and (versions is None or str(v["versionNumber"]) in versions)
            and (current is None or v["isCurrent"] is current)
        ]
        items.sort(key=lambda v: int(v["_seq"]))
        return Reply(200, [public(v, ACV_FIELDS) for v in items])

    def _get_acv(self, ctx: Ctx) -> Reply:
        acv = self._owned(
            ctx,
            "agentConfigurationVersions",
            ctx.params["agentConfigurationVersionId"],
            "Configuration version",
        )
        return Reply(200, public(acv, ACV_FIELDS))

    def _patch_acv(self, ctx: Ctx) -> Reply:
        acv = self._owned(
            ctx,
            "agentConfigurationVersions",
            ctx.params["agentConfigurationVersionId"],
            "Configuration version",
        )
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        instructions = body.text("instructions", min_len=1)
        is_current = body.flag("isCurrent", nullable=True)
        system_prompt = body.text("systemPrompt", nullable=True)
        llm = body.mapping("llmConfig")
        tools = body.array("toolConfig")
        execution_config = body.mapping("executionConfig")
        self._check_llm_and_tools(body, llm, tools)
        body.check()
        if instructions is not None:
            acv["instructions"] = instructions
        for key in ("inputSchema", "outputSchema"):
            if key in ctx.body:
                acv[key] = copy.deepcopy(ctx.body[key])
        if body.has("systemPrompt"):
            acv["systemPrompt"] = system_prompt
        if llm is not None:
            acv["llmConfig"] = copy.deepcopy(llm)
        if tools is not None:
            acv["toolConfig"] = copy.deepcopy(tools)
        if execution_config is not None:
            acv["executionConfig"] = {**DEFAULT_EXECUTION_CONFIG, **execution_config}
        if is_current is True:
            for other in self._db["agentConfigurationVersions"].values():
                if other["agentId"] == acv["agentId"]:
                    other["isCurrent"] = False
        if is_current is not None:
            acv["isCurrent"] = is_current
        acv["updatedAt"] = self._now()
        return Reply(200, public(acv, ACV_FIELDS))

    # ------------------------------------------------------------------ executions

    def _current_acv(self, agent: JSON) -> JSON:
        """The agent's current configuration version, created on first use (compat mode)."""
        versions = [
            v
            for v in self._db["agentConfigurationVersions"].values()
            if v["agentId"] == agent["agentId"]
        ]
        for version in versions:
            if version["isCurrent"]:
                return version
        if versions:
            return max(versions, key=lambda v: int(v["versionNumber"]))
        return self._new_acv(
            agent["agentId"],
            instructions=agent.get("description") or f"Default instructions for {agent['name']}",
            version=1,
            is_current=True,
            extra={},
        )

    def _create_agent_execution(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        legacy = (
            self.compat and "agentConfigurationVersionId" not in ctx.body and "agent_id" in ctx.body
        )
        if legacy:
            agent_id = body.text("agent_id", required=True, min_len=1)
            agent_input = body.mapping("input_data", nullable=True) or {}
            summary = body.text("agentInputSummary")
            body.check()
            assert agent_id is not None
            agent = self._owned(ctx, "agents", agent_id, "Agent")
            acv = self._current_acv(agent)
            summary = summary or f"Run of agent {agent['name']}"
        else:
            acv_id = body.text("agentConfigurationVersionId", required=True, min_len=1)
            agent_input = body.mapping("agentInput", required=True) or {}
            summary = body.text("agentInputSummary", required=True)
            body.check()
            assert acv_id is not None
            acv = self._owned(
                ctx, "agentConfigurationVersions", acv_id, "Agent configuration version"
            )
        max_actions = body.integer("maxActions", nullable=True, minimum=1, maximum=100)
        planning = body.integer("planningInterval", nullable=True, minimum=1, maximum=50)
        body.check()
        plan = self._next_plan(agent_input.get("__sim__"))
        execution_id = self._ids.new("agentExecution")
        now = self._now()
        record = self._insert(
            "agentExecutions",
            {
                "agentExecutionId": execution_id,
                "agentConfigurationVersionId": acv["agentConfigurationVersionId"],
                "agentInput": copy.deepcopy(agent_input),
                "agentInputSchema": copy.deepcopy(ctx.body.get("agentInputSchema")),
                "agentInputSummary": summary or "",
                "agentOutput": None,
                "agentOutputSchema": copy.deepcopy(ctx.body.get("agentOutputSchema")),
                "agentOutputSummary": None,
                "status": "pending",
                "thoughts": [],
                "maxActions": max_actions,
                "currentStep": None,
                "planningInterval": planning,
                "createdAt": now,
                "updatedAt": now,
                "startedAt": None,
                "completedAt": None,
                "failedAt": None,
                "cancelledAt": None,
                "pausedAt": None,
                "_agentId": acv["agentId"],
            },
        )
        self._runs[execution_id] = self._new_run("agent", plan, self.default_total_steps)
        return Reply(201, public(self._observe(execution_id, record), EXECUTION_FIELDS))

    def _list_agent_executions(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query, {"agent_id": "agentIds", "status": "statuses"})
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids("agentExecutionIds")
        agents = q.ids("agentIds")
        acvs = q.ids("agentConfigurationVersionIds")
        statuses = q.enums("statuses", STATUSES)
        has_output = q.flag("hasAgentOutput")
        q.check()
        self._observe_kind("agentExecutions")
        items = [
            e
            for e in self._all("agentExecutions")
            if self._team_of("agentExecutions", e) in teams
            and (ids is None or e["agentExecutionId"] in ids)
            and (agents is None or e["_agentId"] in agents)
            and (acvs is None or e["agentConfigurationVersionId"] in acvs)
            and (statuses is None or e["status"] in statuses)
            and (has_output is None or (e["agentOutput"] is not None) is has_output)
        ]
        spec = ListSpec(
            order_by=("createdAt", "updatedAt"),
            default_direction="desc",
            default_size=20,
            max_size=100,
        )
        page = paginate(items, q, spec)
        page["items"] = [public(e, EXECUTION_FIELDS) for e in page["items"]]
        return Reply(200, page)

    def _agent_execution(self, ctx: Ctx) -> JSON:
        execution_id = ctx.params["agentExecutionId"]
        record = self._owned(ctx, "agentExecutions", execution_id, "Agent execution")
        return self._observe(execution_id, record)

    def _get_agent_execution(self, ctx: Ctx) -> Reply:
        execution_id = ctx.params["agentExecutionId"]
        self._owned(ctx, "agentExecutions", execution_id, "Agent execution")
        self._poll(execution_id)
        return Reply(200, public(self._agent_execution(ctx), EXECUTION_FIELDS))

    def _memory_states(self, record: JSON) -> list[JSON]:
        execution_id = record["agentExecutionId"]
        thoughts: list[JSON] = [
            t
            for t in as_list(record.get("thoughts")) or []
            if not str(t["text"]).startswith("Error:")
        ]
        states: list[JSON] = []
        for version, thought in enumerate(thoughts, start=1):
            key = (execution_id, version)
            if key not in self._memory_ids:
                self._memory_ids[key] = self._ids.new("memoryState")
            states.append(
                {
                    "agentExecutionMemoryStateId": self._memory_ids[key],
                    "agentExecutionId": execution_id,
                    "state": {
                        "step": version,
                        "lastThought": thought["text"],
                        "facts": [f"fact {i}" for i in range(1, version + 1)],
                    },
                    "version": version,
                    "createdAt": thought["createdAt"],
                    "updatedAt": thought["createdAt"],
                    "_seq": version,
                }
            )
        return states

    def _list_memory_states(self, ctx: Ctx) -> Reply:
        record = self._agent_execution(ctx)
        q = QueryReader(ctx.query)
        version = q.integer("version", None, minimum=0)
        latest = q.flag("latest")
        q.check()
        states = self._memory_states(record)
        if version is not None:
            states = [s for s in states if s["version"] == version]
        if latest:
            states = states[-1:]
        page = paginate(
            states, q, ListSpec(order_by=("version", "createdAt"), default_order="version")
        )
        page["items"] = [public(s) for s in page["items"]]
        return Reply(200, page)

    def _get_memory_state(self, ctx: Ctx) -> Reply:
        record = self._agent_execution(ctx)
        raw = ctx.params["version"]
        for state in self._memory_states(record):
            if raw.isdigit() and state["version"] == int(raw):
                return Reply(200, public(state))
        raise ApiError(404, "Memory state version not found")

    def _live_tail(self, ctx: Ctx) -> Reply:
        record = self._agent_execution(ctx)
        states = self._memory_states(record)
        thoughts: list[JSON] = record.get("thoughts") or []
        steps: list[JSON] = []
        for index, thought in enumerate(thoughts):
            ended = thoughts[index + 1]["createdAt"] if index + 1 < len(thoughts) else None
            if str(thought["text"]).startswith("Error:"):
                steps.append(
                    {
                        "startedAt": thought["createdAt"],
                        "endedAt": thought["createdAt"],
                        "summary": "Execution failed",
                        "stepType": "system",
                        "system": thought["text"],
                    }
                )
                continue
            steps.append(
                {
                    "startedAt": thought["createdAt"],
                    "endedAt": ended or record.get("completedAt"),
                    "summary": f"Step {index + 1}",
                    "stepType": "thought",
                    "thought": thought["text"],
                }
            )
        if record["status"] == "completed":
            steps.append(
                {
                    "startedAt": record["completedAt"],
                    "endedAt": record["completedAt"],
                    "summary": record.get("agentOutputSummary") or "Final answer",
                    "stepType": "final_answer",
                    "finalAnswer": {
                        "type": "final_answer",
                        "output": json.dumps(record.get("agentOutput"), sort_keys=True),
                        "resourceIds": [],
                    },
                }
            )
        execution = {
            key: record.get(key)
            for key in (
                "agentExecutionId",
                "status",
                "currentStep",
                "createdAt",
                "updatedAt",
                "startedAt",
                "completedAt",
            )
        }
        return Reply(
            200,
            {
                "execution": execution,
                "latestMemoryState": public(states[-1]) if states else None,
                "steps": steps,
                "totalVersions": len(states),
            },
        )

    def _cancel_agent_execution(self, ctx: Ctx) -> Reply:
        record = self._agent_execution(ctx)
        self._require_write(ctx)
        reason = ctx.body.get("reason")
        self._cancel(
            record["agentExecutionId"], record, reason if isinstance(reason, str) else None
        )
        return Reply(200, public(record, EXECUTION_FIELDS))

    def _delete_agent_execution(self, ctx: Ctx) -> Reply:
        record = self._agent_execution(ctx)
        self._require_write(ctx)
        if record["status"] not in TERMINAL and record["status"] != "pending":
            raise ApiError(400, f"Execution is {record['status']}; cancel it before deleting")
        del self._db["agentExecutions"][record["agentExecutionId"]]
        self._runs.pop(record["agentExecutionId"], None)
        return Reply(204)
