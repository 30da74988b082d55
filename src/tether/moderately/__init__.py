"""Moderately AI: agents, datasets, pipelines and files (REST).

The same resource and method names as the official ``moderatelyai-sdk``, so code migrates by
changing the import; models are typed and pure, operations live on the resources and accept
a model or an id; waits are tether Jobs; lists auto-paginate.

Example::

    from tether.moderately import AsyncModeratelyAI

    async with AsyncModeratelyAI() as client:        # MODERATELY_API_KEY / _TEAM_ID / _BASE_URL
        file = await client.files.upload("report.pdf")
        dataset = await client.datasets.create(name="Scores")
        version = await client.datasets.upload_data(dataset, "scores.csv")
        async for execution in client.pipeline_executions.list(statuses=["running"]):
            done = await client.pipeline_executions.wait_for_completion(execution)
"""

from tether.moderately._client import AsyncModeratelyAI, ModeratelyAI
from tether.moderately._errors import (
    ExecutionCancelledError,
    ExecutionFailedError,
    ExecutionPausedError,
    UploadError,
)
from tether.moderately._schema import SchemaBuilder, infer_columns, infer_type
from tether.moderately._upload import sniff_mime_type
from tether.moderately.models import (
    Agent,
    AgentConfigurationVersion,
    AgentExecution,
    AgentLiveTail,
    AgentMemoryState,
    AgentThought,
    ApiToken,
    ApiTokenCreated,
    ApiTokenDetail,
    ApiTokenUsage,
    AuditLog,
    Dataset,
    DatasetDataVersion,
    DatasetSchemaVersion,
    DataVersionUpload,
    DownloadLink,
    ExecutionStatus,
    File,
    FileUploadTarget,
    Health,
    Pagination,
    ParsingOptions,
    Pipeline,
    PipelineConfigurationVersion,
    PipelineExecution,
    ProcessingStatus,
    SchemaColumn,
    Team,
    TeamUser,
    UploadStatus,
    User,
    ValidationResult,
    VersionStatus,
    WhoAmI,
)

__all__ = [
    "Agent",
    "AgentConfigurationVersion",
    "AgentExecution",
    "AgentLiveTail",
    "AgentMemoryState",
    "AgentThought",
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenDetail",
    "ApiTokenUsage",
    "AsyncModeratelyAI",
    "AuditLog",
    "DataVersionUpload",
    "Dataset",
    "DatasetDataVersion",
    "DatasetSchemaVersion",
    "DownloadLink",
    "ExecutionCancelledError",
    "ExecutionFailedError",
    "ExecutionPausedError",
    "ExecutionStatus",
    "File",
    "FileUploadTarget",
    "Health",
    "ModeratelyAI",
    "Pagination",
    "ParsingOptions",
    "Pipeline",
    "PipelineConfigurationVersion",
    "PipelineExecution",
    "ProcessingStatus",
    "SchemaBuilder",
    "SchemaColumn",
    "Team",
    "TeamUser",
    "UploadError",
    "UploadStatus",
    "User",
    "ValidationResult",
    "VersionStatus",
    "WhoAmI",
    "infer_columns",
    "infer_type",
    "sniff_mime_type",
]
