"""Typed models of the Moderately AI API (attrs, frozen).

Field names are the snake_case forms of the wire's camelCase keys (``fileName`` →
``file_name``); the few exceptions name their wire key in the field metadata
(``columnsJson`` → ``columns``). Unknown fields sent by a newer server are ignored; unknown
status words are kept (:class:`~tether._core.models.OpenEnum`).

Models are pure data: their helpers (``File.is_csv()``, ``User.display_name()``,
``PipelineExecution.is_terminal``…) never do I/O. Operations live on the client's resources,
which accept a model or an id::

    file = await client.files.retrieve("file_1")
    if file.is_ready() and file.is_csv():
        data = await client.files.download(file)

For code migrating from the official SDK, where several methods returned plain dicts,
``model["wireKey"]`` reads a field by its wire name (``team["teamId"]``) and ``to_dict()``
returns the wire form. Prefer attributes in new code.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, Final, cast

import attrs
import cattrs

from tether._core.models import OpenEnum, json_object, make_converter, to_camel

__all__ = [
    "Agent",
    "AgentConfigurationVersion",
    "AgentExecution",
    "AgentLiveTail",
    "AgentMemoryState",
    "AgentThought",
    "ApiToken",
    "ApiTokenCreated",
    "ApiTokenCreator",
    "ApiTokenDetail",
    "ApiTokenUsage",
    "ApiTokenUsageStats",
    "AuditLog",
    "Dataset",
    "DatasetDataVersion",
    "DatasetSchemaVersion",
    "DataVersionUpload",
    "DownloadLink",
    "ExecutionStatus",
    "File",
    "FileUploadTarget",
    "Health",
    "Pagination",
    "ParsingOptions",
    "Pipeline",
    "PipelineConfigurationVersion",
    "PipelineExecution",
    "ProcessingStatus",
    "SchemaColumn",
    "Team",
    "TeamUser",
    "UploadStatus",
    "User",
    "ValidationResult",
    "VersionStatus",
    "WhoAmI",
    "converter",
]


# --- vocabularies ------------------------------------------------------------------------------


class ExecutionStatus(OpenEnum):
    """Status of a pipeline or agent execution. Terminal: completed, failed, cancelled."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"

    @property
    def is_terminal(self) -> bool:
        """Whether the execution will not change any more (``paused`` is not terminal)."""
        return self in _TERMINAL


_TERMINAL: Final = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)


class VersionStatus(OpenEnum):
    """Status of a dataset data/schema version or a pipeline configuration version."""

    DRAFT = "draft"
    CURRENT = "current"
    ARCHIVED = "archived"


class UploadStatus(OpenEnum):
    """Upload status of a file: ``pending`` after the upload URL, ``completed`` after completion."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class ProcessingStatus(OpenEnum):
    """Processing status of a dataset."""

    COMPLETED = "completed"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    NEEDS_PROCESSING = "needs-processing"


# --- the wire-access mixin ---------------------------------------------------------------------


_WIRE_NAMES: dict[type[Any], Mapping[str, str]] = {}


def _wire_names(cls: type[Any]) -> Mapping[str, str]:
    names = _WIRE_NAMES.get(cls)
    if names is None:
        found: dict[str, str] = {}
        for field in attrs.fields(cls):
            wire = field.metadata.get("wire")
            found[wire if isinstance(wire, str) else to_camel(field.name)] = field.name
        names = _WIRE_NAMES[cls] = found
    return names


class _Model:
    """Base of every model: wire-key access and ``to_dict()`` for migrating code."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        """The field whose wire name is *key* (``execution["status"]``), for migrating code."""
        name = _wire_names(type(self)).get(key)
        if name is None:
            raise KeyError(key)
        return getattr(self, name)

    def get(self, key: str, default: Any = None) -> Any:
        """Like ``dict.get`` on the wire form: the field named *key*, or *default*."""
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """The model in its wire form (camelCase keys; datetimes as ISO-8601 text)."""
        data: dict[str, Any] = converter.unstructure(self)
        return data


# --- pagination --------------------------------------------------------------------------------


@attrs.frozen
class Pagination(_Model):
    """The ``pagination`` object of every list answer."""

    page: int
    page_size: int
    total_items: int
    total_pages: int
    has_next_page: bool
    has_previous_page: bool


# --- identity ----------------------------------------------------------------------------------


@attrs.frozen
class Health(_Model):
    """``GET /health``."""

    status: str
    version: str


@attrs.frozen
class WhoAmI(_Model):
    """``GET /authentication/whoami``: who the credentials belong to."""

    user_id: str


@attrs.frozen
class User(_Model):
    """A user.

    Example::

        user = await client.users.retrieve("usr_1")
        print(user.display_name(), user.is_recent(days=30))
    """

    user_id: str
    full_name: str
    nickname: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def display_name(self) -> str:
        """The nickname when set, else the full name."""
        return self.nickname if self.has_nickname() and self.nickname else self.full_name

    def has_nickname(self) -> bool:
        """Whether a non-blank nickname is set."""
        return self.nickname is not None and self.nickname.strip() != ""

    def formatted_created_at(self, format_str: str = "%Y-%m-%d %H:%M:%S") -> str:
        """The creation time formatted with :meth:`datetime.strftime` (``""`` when unknown)."""
        return self.created_at.strftime(format_str) if self.created_at is not None else ""

    def is_recent(self, days: int = 7, *, now: datetime | None = None) -> bool:
        """Whether the user was created within the last *days* days (of *now*, default now)."""
        if self.created_at is None:
            return False
        current = now if now is not None else datetime.now(UTC)
        created = self.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if current.tzinfo is None:
            current = current.replace(tzinfo=UTC)
        return created > current - timedelta(days=days)


@attrs.frozen
class Team(_Model):
    """A team, the scope of every resource."""

    team_id: str
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class TeamUser(_Model):
    """A user's membership of a team."""

    team_user_id: str
    team_id: str
    user_id: str
    role: str
    is_default: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    email: str | None = None


@attrs.frozen
class ApiToken(_Model):
    """An API token as listed (the secret itself is never listed)."""

    token_id: str
    team_id: str
    name: str
    token_prefix: str
    last4: str = attrs.field(default="", metadata={"wire": "last4"})
    role: str = "member"
    created_by_user_id: str | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    is_active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    usage7_days: float | None = attrs.field(default=None, metadata={"wire": "usage7Days"})


@attrs.frozen
class ApiTokenCreated(_Model):
    """A new API token. ``token`` is the secret, shown once; it is kept out of ``repr``."""

    token: str = attrs.field(repr=False)
    token_id: str
    name: str
    role: str
    team_id: str
    expires_at: datetime | None = None
    created_at: datetime | None = None


@attrs.frozen
class ApiTokenCreator(_Model):
    """Who created an API token."""

    user_id: str
    full_name: str
    nickname: str | None = None


@attrs.frozen
class ApiTokenUsageStats(_Model):
    """Request counts of an API token."""

    total_requests: float
    requests_last24_hours: float = attrs.field(default=0, metadata={"wire": "requestsLast24Hours"})
    requests_last7_days: float = attrs.field(default=0, metadata={"wire": "requestsLast7Days"})
    requests_last30_days: float = attrs.field(default=0, metadata={"wire": "requestsLast30Days"})


@attrs.frozen
class ApiTokenDetail(_Model):
    """One API token with its creator and usage statistics."""

    token_id: str
    team_id: str
    name: str
    token_prefix: str
    last4: str = attrs.field(default="", metadata={"wire": "last4"})
    role: str = "member"
    created_by: ApiTokenCreator | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    is_active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    usage_stats: ApiTokenUsageStats | None = None


@attrs.frozen
class ApiTokenUsage(_Model):
    """Usage of an API token over a period."""

    total_requests: float
    requests_by_endpoint: dict[str, Any] = attrs.field(factory=dict[str, Any])
    requests_by_method: dict[str, Any] = attrs.field(factory=dict[str, Any])
    average_response_time: float = 0.0
    error_rate: float = 0.0


@attrs.frozen
class AuditLog(_Model):
    """One audit log entry."""

    audit_log_id: str
    event_type: str
    resource_type: str
    resource_id: str
    action: str
    team_id: str | None = None
    user_id: str | None = None
    api_token_id: str | None = None
    session_id: str | None = None
    changes: dict[str, Any] | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict[str, Any])
    created_at: datetime | None = None


# --- agents ------------------------------------------------------------------------------------


@attrs.frozen
class Agent(_Model):
    """An agent. Reads (``retrieve``, ``list``) carry run statistics; writes do not."""

    agent_id: str
    team_id: str
    name: str
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_run_at: datetime | None = None
    total_runs: int | None = None
    successful_runs: int | None = None
    success_rate: float | None = None


@attrs.frozen
class AgentConfigurationVersion(_Model):
    """A version of an agent's configuration; an execution runs one of them."""

    agent_configuration_version_id: str
    agent_id: str
    instructions: str
    version_number: int
    is_current: bool
    input_schema: Any = None
    output_schema: Any = None
    system_prompt: str | None = None
    llm_config: dict[str, Any] = attrs.field(factory=dict[str, Any])
    tool_config: list[dict[str, Any]] = attrs.field(factory=list[dict[str, Any]])
    execution_config: dict[str, Any] = attrs.field(factory=dict[str, Any])
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class AgentThought(_Model):
    """One thought an agent recorded while running."""

    text: str
    created_at: datetime | None = None


@attrs.frozen
class AgentExecution(_Model):
    """A run of an agent.

    Example::

        run = await client.agent_executions.wait_for_completion(run_id, timeout=60)
        print(run.status, run.agent_output)
    """

    agent_execution_id: str
    agent_configuration_version_id: str
    status: ExecutionStatus
    agent_input: dict[str, Any] = attrs.field(factory=dict[str, Any])
    agent_input_summary: str = ""
    agent_input_schema: Any = None
    agent_output: dict[str, Any] | None = None
    agent_output_schema: Any = None
    agent_output_summary: str | None = None
    thoughts: builtins.list[AgentThought] = attrs.field(factory=builtins.list[AgentThought])
    max_actions: int | None = None
    current_step: int | None = None
    planning_interval: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    paused_at: datetime | None = None

    @property
    def execution_id(self) -> str:
        """The execution's id (alias of ``agent_execution_id``)."""
        return self.agent_execution_id

    @property
    def is_terminal(self) -> bool:
        """Whether the run ended (completed, failed or cancelled)."""
        return self.status.is_terminal


@attrs.frozen
class AgentMemoryState(_Model):
    """A snapshot of an agent run's memory."""

    agent_execution_memory_state_id: str
    agent_execution_id: str
    version: int
    state: dict[str, Any] = attrs.field(factory=dict[str, Any])
    created_at: datetime | None = None
    updated_at: datetime | None = None


@attrs.frozen
class AgentLiveTail(_Model):
    """The live view of an agent run: the run, its latest memory and its steps (free-form)."""

    execution: dict[str, Any]
    latest_memory_state: AgentMemoryState | None = None
    steps: builtins.list[dict[str, Any]] = attrs.field(factory=builtins.list[dict[str, Any]])
    total_versions: int = 0


# --- datasets ----------------------------------------------------------------------------------


@attrs.frozen
class Dataset(_Model):
    """A dataset. List items carry fewer fields than ``retrieve``."""

    dataset_id: str
    team_id: str
    name: str
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    current_schema_version_id: str | None = None
    current_data_version_id: str | None = None
    active_data_schema_version_id: str | None = None
    active_data_version_id: str | None = None
    processing_status: ProcessingStatus | None = None
    record_count: int | None = None
    total_size_bytes: int | None = None

    def has_data(self) -> bool:
        """Whether a current data version exists (as of when this model was fetched)."""
        return self.current_data_version_id is not None


@attrs.frozen
class DatasetDataVersion(_Model):
    """One upload of data to a dataset.

    ``row_count`` is the server's when it reports one; after an upload through tether it
    is otherwise the number of data rows tether counted while streaming the CSV.
    """

    dataset_data_version_id: str
    dataset_id: str
    version_no: int
    file_type: str
    status: VersionStatus
    source_file_uri: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    row_count: int | None = None
    file_hash: str | None = None
    file_size_bytes: int | None = None

    @property
    def version_id(self) -> str:
        """The version's id (alias of ``dataset_data_version_id``)."""
        return self.dataset_data_version_id


@attrs.frozen
class DataVersionUpload(_Model):
    """A new data version and where to PUT its bytes."""

    data_version: DatasetDataVersion
    upload_url: str = attrs.field(repr=False)
    upload_expiry: datetime | None = None


@attrs.frozen
class SchemaColumn(_Model):
    """One column of a dataset schema (``nullable`` is ``not required``)."""

    name: str
    type: str
    nullable: bool = True
    pos: int | None = None
    source: str | None = None
    transform_expr: str | None = None
    description: str | None = None
    operations: builtins.list[dict[str, Any]] | None = None

    @property
    def required(self) -> bool:
        """Whether the column must have a value."""
        return not self.nullable


@attrs.frozen
class ParsingOptions(_Model):
    """How a dataset's files are parsed."""

    skip_rows: int | builtins.list[int] | None = None
    header_row: int | None = None
    delimiter: str | None = None
    encoding: str | None = None


@attrs.frozen
class DatasetSchemaVersion(_Model):
    """A version of a dataset's schema (the wire's ``columnsJson`` is ``columns``)."""

    dataset_schema_version_id: str
    dataset_id: str
    version_no: int
    status: VersionStatus
    columns: builtins.list[SchemaColumn] = attrs.field(
        factory=builtins.list[SchemaColumn], metadata={"wire": "columnsJson"}
    )
    parsing_options: ParsingOptions | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def get_column(self, name: str) -> SchemaColumn | None:
        """The column called *name*, or ``None``."""
        return next((c for c in self.columns if c.name == name), None)

    def column_names(self) -> builtins.list[str]:
        """The column names, in order."""
        return [c.name for c in self.columns]


# --- pipelines ---------------------------------------------------------------------------------


@attrs.frozen
class Pipeline(_Model):
    """A pipeline. Reads carry run statistics; writes do not."""

    pipeline_id: str
    team_id: str
    name: str
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_run_at: datetime | None = None
    total_runs: int | None = None
    successful_runs: int | None = None
    success_rate: float | None = None


@attrs.frozen
class PipelineConfigurationVersion(_Model):
    """A version of a pipeline's configuration (blocks and connections)."""

    pipeline_configuration_version_id: str
    pipeline_id: str
    configuration: dict[str, Any]
    version: int
    status: VersionStatus
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def configuration_version_id(self) -> str:
        """The version's id (the official SDK's name for it)."""
        return self.pipeline_configuration_version_id

    def block_ids(self) -> builtins.list[str]:
        """The ids of the configuration's blocks."""
        blocks = json_object(self.configuration.get("blocks"))
        return sorted(blocks) if blocks is not None else []


@attrs.frozen
class ValidationResult(_Model):
    """The answer of ``validate``: ``valid``, plus errors and warnings (free-form objects)."""

    valid: bool
    errors: builtins.list[dict[str, Any]] = attrs.field(factory=builtins.list[dict[str, Any]])
    warnings: builtins.list[dict[str, Any]] = attrs.field(factory=builtins.list[dict[str, Any]])
    input_schema: Any = None
    output_schema: Any = None

    def error_types(self) -> builtins.list[str]:
        """The ``errorType`` of every error, sorted."""
        return sorted(str(e.get("errorType")) for e in self.errors)


@attrs.frozen
class PipelineExecution(_Model):
    """A run of a pipeline configuration version.

    Example::

        done = await client.pipeline_executions.wait_for_completion(execution, timeout=120)
        print(done.status, done.progress_percentage)
    """

    pipeline_execution_id: str
    pipeline_configuration_version_id: str
    status: ExecutionStatus
    pipeline_input: dict[str, Any] = attrs.field(factory=dict[str, Any])
    pipeline_input_summary: str = ""
    pipeline_output: dict[str, Any] | None = None
    pipeline_output_summary: str | None = None
    progress_data: dict[str, Any] = attrs.field(factory=dict[str, Any])
    pipeline_output_file_uri: str | None = None
    current_step: int | None = None
    total_steps: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    paused_at: datetime | None = None

    @property
    def execution_id(self) -> str:
        """The execution's id (the official SDK's name for it)."""
        return self.pipeline_execution_id

    @property
    def configuration_version_id(self) -> str:
        """The configuration version it runs (the official SDK's name)."""
        return self.pipeline_configuration_version_id

    @property
    def is_pending(self) -> bool:
        """Whether it has not started."""
        return self.status == ExecutionStatus.PENDING

    @property
    def is_running(self) -> bool:
        """Whether it is running."""
        return self.status == ExecutionStatus.RUNNING

    @property
    def is_completed(self) -> bool:
        """Whether it completed."""
        return self.status == ExecutionStatus.COMPLETED

    @property
    def is_failed(self) -> bool:
        """Whether it failed."""
        return self.status == ExecutionStatus.FAILED

    @property
    def is_cancelled(self) -> bool:
        """Whether it was cancelled."""
        return self.status == ExecutionStatus.CANCELLED

    @property
    def is_paused(self) -> bool:
        """Whether it is paused (not terminal)."""
        return self.status == ExecutionStatus.PAUSED

    @property
    def is_terminal(self) -> bool:
        """Whether it ended (completed, failed or cancelled)."""
        return self.status.is_terminal

    @property
    def progress_percentage(self) -> float | None:
        """``current_step / total_steps`` as a percentage, when both are known."""
        if self.current_step is None or not self.total_steps:
            return None
        return self.current_step / self.total_steps * 100.0

    @property
    def progress_message(self) -> str | None:
        """The platform's progress words (``progressData.message``), when it sends them."""
        message = self.progress_data.get("message")
        return message if isinstance(message, str) else None

    @property
    def error_message(self) -> str | None:
        """Why it failed: ``progressData.error``, or its ``errors`` joined by ``"; "``."""
        errors: object = self.progress_data.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e) for e in cast(builtins.list[object], errors))
        error = self.progress_data.get("error")
        return str(error) if error is not None else None

    @property
    def has_stored_output(self) -> bool:
        """Whether the output lives in object storage (``get_output`` downloads it)."""
        return self.pipeline_output_file_uri is not None


# --- files -------------------------------------------------------------------------------------

_DOCUMENT_TYPES: Final = frozenset(
    {
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)


@attrs.frozen
class File(_Model):
    """A file in the team's storage.

    Example::

        file = await client.files.upload("report.pdf")
        assert file.is_ready() and file.is_document()
    """

    file_id: str
    team_id: str
    file_name: str
    mime_type: str
    upload_status: UploadStatus
    file_size: int | None = None
    file_hash: str | None = None
    uploaded_by: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict[str, Any])
    created_at: datetime | None = None
    updated_at: datetime | None = None
    dataset_id: str | None = None
    original_name: str | None = None

    @property
    def name(self) -> str:
        """The file name (alias of ``file_name``)."""
        return self.file_name

    @property
    def status(self) -> UploadStatus:
        """The upload status (alias of ``upload_status``)."""
        return self.upload_status

    def is_ready(self) -> bool:
        """Whether the upload completed and the file can be downloaded."""
        return self.upload_status in (UploadStatus.COMPLETED, "ready")

    def is_processing(self) -> bool:
        """Whether the upload has not been completed yet (``pending``)."""
        return self.upload_status in (UploadStatus.PENDING, "processing")

    def has_error(self) -> bool:
        """Whether the upload failed (for example, a checksum mismatch at completion)."""
        return self.upload_status in (UploadStatus.FAILED, "error")

    def get_extension(self) -> str:
        """The extension of the name, with its dot (``".csv"``), or ``""``."""
        return PurePosixPath(self.file_name).suffix

    def is_image(self) -> bool:
        """Whether the MIME type is an image type."""
        return self.mime_type.startswith("image/")

    def is_document(self) -> bool:
        """Whether the MIME type is PDF or an office document."""
        return self.mime_type in _DOCUMENT_TYPES

    def is_text(self) -> bool:
        """Whether the MIME type is a ``text/*`` type."""
        return self.mime_type.startswith("text/")

    def is_csv(self) -> bool:
        """Whether the MIME type is ``text/csv``."""
        return self.mime_type == "text/csv"


@attrs.frozen
class FileUploadTarget(_Model):
    """A registered (pending) file and the presigned URL to PUT its bytes to."""

    file: File
    upload_url: str = attrs.field(repr=False)
    expires_at: datetime | None = None


@attrs.frozen
class DownloadLink(_Model):
    """A presigned URL to GET stored bytes from."""

    download_url: str = attrs.field(repr=False)
    expires_at: datetime | None = None


# --- the converter -----------------------------------------------------------------------------


def _structure_skip_rows(value: Any, _: Any) -> int | builtins.list[int] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [int(v) for v in value]  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    return int(value)


def _make() -> cattrs.Converter:
    made = make_converter("camel")
    made.register_structure_hook(
        int | builtins.list[int] | None,
        _structure_skip_rows,
    )
    return made


converter: Final = _make()
"""The cattrs converter for these models (camelCase on the wire)."""
