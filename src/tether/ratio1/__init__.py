"""Ratio1 edge-network client: :class:`AsyncSession` (asyncio) and :class:`Session` (blocking).

The names follow the official ``ratio1`` SDK (``Session``, ``create_pipeline``,
``create_plugin_instance``, ``deploy``, ``wait_exec``...), built on tether's MQTT layer and on
a wire-protocol implementation checked against the official SDK's own vectors. What differs:

- every incoming message is **verified** (``verify=False`` opts out); forged or unsigned ones are
  dropped, counted (``session.stats``) and reported (``session.rejections()``);
- deploys, instance commands, ``wait_exec`` and closes are :class:`tether.Job`\\ s driven by the
  node's notifications (no polling); a deploy that is not confirmed raises
  :class:`DeployTimeoutError` and keeps the proposal for a retry;
- payloads, notifications and heartbeats are also typed async streams;
- offline by default: no dAuth, no ``~/.ratio1`` files, no default production broker; the key is
  yours (``identity=`` / ``pem_path=``) or ephemeral.

Example::

    from tether.ratio1 import AsyncSession, PLUGIN_SIGNATURES

    async with AsyncSession(host="127.0.0.1", port=1883, name="me") as session:
        await session.wait_for_node(node_address)
        pipeline = await session.create_pipeline(node=node_address, name="demo")
        pipeline.create_custom_plugin_instance(instance_id="tick", custom_code="return 1")
        await pipeline.deploy()

Install with ``pip install 'tether[mqtt,ratio1]'``.
"""

from tether.ratio1._config import ConnectionSettings, resolve_settings
from tether.ratio1._instance import AsyncInstance, Instance
from tether.ratio1._pipeline import AsyncPipeline, Pipeline
from tether.ratio1._protocol.constants import (
    COMMANDS,
    HEARTBEAT_DATA,
    NOTIFICATION_CODES,
    PAYLOAD_DATA,
    PLUGIN_SIGNATURES,
    PLUGIN_TYPES,
    DistributedCustomCodePresets,
)
from tether.ratio1._protocol.identity import Identity, load_identity, save_identity
from tether.ratio1._session import AsyncSession, Session
from tether.ratio1._streams import EventStream
from tether.ratio1.errors import (
    CloseFailedError,
    CloseTimeoutError,
    CommandFailedError,
    CommandTimeoutError,
    ConfirmationFailedError,
    ConfirmationTimeoutError,
    DeployFailedError,
    DeployTimeoutError,
    NodeOfflineError,
    PipelineNotFoundError,
    Ratio1Error,
    ResponseTimeoutError,
    SessionClosedError,
)
from tether.ratio1.models import (
    AppInfo,
    DeployResult,
    Heartbeat,
    InstanceStatus,
    NetworkNode,
    NetworkReport,
    Notification,
    Payload,
    RejectedMessage,
    SessionStats,
)

__all__ = [
    "COMMANDS",
    "HEARTBEAT_DATA",
    "NOTIFICATION_CODES",
    "PAYLOAD_DATA",
    "PLUGIN_SIGNATURES",
    "PLUGIN_TYPES",
    "AppInfo",
    "AsyncInstance",
    "AsyncPipeline",
    "AsyncSession",
    "CloseFailedError",
    "CloseTimeoutError",
    "CommandFailedError",
    "CommandTimeoutError",
    "ConfirmationFailedError",
    "ConfirmationTimeoutError",
    "ConnectionSettings",
    "DeployFailedError",
    "DeployResult",
    "DeployTimeoutError",
    "DistributedCustomCodePresets",
    "EventStream",
    "Heartbeat",
    "Identity",
    "Instance",
    "InstanceStatus",
    "NetworkNode",
    "NetworkReport",
    "NodeOfflineError",
    "Notification",
    "Payload",
    "Pipeline",
    "PipelineNotFoundError",
    "Ratio1Error",
    "RejectedMessage",
    "ResponseTimeoutError",
    "Session",
    "SessionClosedError",
    "SessionStats",
    "load_identity",
    "resolve_settings",
    "save_identity",
]
