"""Protocol constants with the official SDK's names and values (``ratio1`` 3.5.60).

The classes mirror ``ratio1.const`` so that code and docs translate one to one; a conformance
test compares every value with the installed SDK. ``PLUGIN_TYPES`` maps each typed-wrapper
name of the SDK to its plugin signature (the SDK holds wrapper classes there).

>>> PLUGIN_SIGNATURES.CUSTOM_WEBAPI_01
'CUSTOM_CODE_FASTAPI_01'
>>> NOTIFICATION_CODES.TAGS[NOTIFICATION_CODES.PLUGIN_CONFIG_OK]
'PLUGIN_CONFIG_OK'
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "ADMIN_PIPELINE",
    "COMMANDS",
    "DEFAULT_PIPELINES",
    "HEARTBEAT_DATA",
    "NET_CONFIG",
    "NOTIFICATION_CODES",
    "PAYLOAD_DATA",
    "PLUGIN_SIGNATURES",
    "PLUGIN_TYPES",
    "STATUS_TYPE",
    "DistributedCustomCodePresets",
    "EventType",
]


class PLUGIN_SIGNATURES:
    """Plugin signatures the SDK knows by name."""

    NET_MON_01: Final = "NET_MON_01"
    VIEW_SCENE_01: Final = "VIEW_SCENE_01"
    CUSTOM_WEBAPI_01: Final = "CUSTOM_CODE_FASTAPI_01"
    GENERIC_WEB_APP: Final = "GENERIC_WEB_APP"
    GENERIC_HTTP_SERVER: Final = "GENERIC_HTTP_SERVER"
    CUSTOM_EXEC_01: Final = "CUSTOM_EXEC_01"
    CHAIN_DIST_CUSTOM_JOB_01: Final = "PROCESS_REAL_TIME_COLLECTED_DATA_CUSTOM_EXEC_CHAIN_DIST"
    TELEGRAM_BASIC_BOT_01: Final = "TELEGRAM_BASIC_BOT_01"
    TELEGRAM_CONVERSATIONAL_BOT_01: Final = "TELEGRAM_CONVERSATIONAL_BOT_01"
    NET_CONFIG_MONITOR: Final = "NET_CONFIG_MONITOR"
    CONTAINER_APP_RUNNER: Final = "CONTAINER_APP_RUNNER"
    WORKER_APP_RUNNER: Final = "WORKER_APP_RUNNER"
    # not in the SDK's class but used by its helpers (wait_exec)
    REST_CUSTOM_EXEC_01: Final = "REST_CUSTOM_EXEC_01"


class PLUGIN_TYPES:
    """The SDK's typed plugin wrappers, as their signatures."""

    NET_MON_01: Final = PLUGIN_SIGNATURES.NET_MON_01
    VIEW_SCENE_01: Final = PLUGIN_SIGNATURES.VIEW_SCENE_01
    CUSTOM_WEBAPI_01: Final = PLUGIN_SIGNATURES.CUSTOM_WEBAPI_01
    CHAIN_DIST_CUSTOM_JOB_01: Final = PLUGIN_SIGNATURES.CHAIN_DIST_CUSTOM_JOB_01
    TELEGRAM_BASIC_BOT_01: Final = PLUGIN_SIGNATURES.TELEGRAM_BASIC_BOT_01
    GENERIC_HTTP_SERVER: Final = PLUGIN_SIGNATURES.GENERIC_HTTP_SERVER


class DEFAULT_PIPELINES:
    """Pipelines every node runs."""

    ADMIN_PIPELINE: Final = "admin_pipeline"


ADMIN_PIPELINE: Final = DEFAULT_PIPELINES.ADMIN_PIPELINE


class EventType:
    """Values of ``EE_EVENT_TYPE``."""

    HEARTBEAT: Final = "HEARTBEAT"
    PAYLOAD: Final = "PAYLOAD"
    NOTIFICATION: Final = "NOTIFICATION"


class STATUS_TYPE:
    """Values of ``NOTIFICATION_TYPE``."""

    NOTIFICATION_TYPE: Final = "NOTIFICATION_TYPE"
    STATUS_NORMAL: Final = "NORMAL"
    STATUS_EXCEPTION: Final = "EXCEPTION"
    STATUS_EMAIL: Final = "EMAIL"
    STATUS_ABNORMAL_FUNCTIONING: Final = "ABNORMAL FUNCTIONING"


class NOTIFICATION_CODES:
    """``NOTIFICATION_CODE`` values (integers on the wire) and their tags."""

    PIPELINE_OK: Final = 1
    PIPELINE_FAILED: Final = -1
    PIPELINE_DATA_OK: Final = 2
    PIPELINE_DATA_FAILED: Final = -2
    PIPELINE_DCT_CONFIG_OK: Final = 3
    PIPELINE_DCT_CONFIG_FAILED: Final = -3
    PIPELINE_ARCHIVE_OK: Final = 4
    PIPELINE_ARCHIVE_FAILED: Final = -4
    PLUGIN_CONFIG_OK: Final = 100
    PLUGIN_CONFIG_FAILED: Final = -100
    PLUGIN_INSTANCE_COMMAND_OK: Final = 101
    PLUGIN_INSTANCE_COMMAND_FAILED: Final = -101
    PLUGIN_PAUSE_OK: Final = 110
    PLUGIN_PAUSE_FAILED: Final = -110
    PLUGIN_RESUME_OK: Final = 111
    PLUGIN_RESUME_FAILED: Final = -111
    PLUGIN_WORKING_HOURS_SHIFT_START: Final = 112
    PLUGIN_WORKING_HOURS_SHIFT_START_FAILED: Final = -112
    PLUGIN_WORKING_HOURS_SHIFT_END: Final = 113
    PLUGIN_WORKING_HOURS_SHIFT_END_FAILED: Final = -113
    PLUGIN_CONFIG_IN_PAUSE_OK: Final = 120
    PLUGIN_CONFIG_IN_PAUSE_FAILED: Final = -120
    PLUGIN_DELAYED: Final = -999
    COMMS_OK: Final = 1000
    COMM_RECEIVED_BAD_COMMAND: Final = -5000
    SERVING_START_OK: Final = 10000
    SERVING_START_FAILED: Final = -10000
    SERVING_START_FATAL_FAIL: Final = -99999

    TAGS: Final = MappingProxyType(
        {
            1: "PIPELINE_OK",
            -1: "PIPELINE_FAILED",
            2: "PIPELINE_DATA_OK",
            -2: "PIPELINE_DATA_FAILED",
            3: "PIPELINE_DCT_CONFIG_OK",
            -3: "PIPELINE_DCT_CONFIG_FAILED",
            4: "PIPELINE_ARCHIVE_OK",
            -4: "PIPELINE_ARCHIVE_FAILED",
            100: "PLUGIN_CONFIG_OK",
            -100: "PLUGIN_CONFIG_FAILED",
            101: "PLUGIN_INSTANCE_COMMAND_OK",
            -101: "PLUGIN_INSTANCE_COMMAND_FAILED",
            110: "PLUGIN_PAUSE_OK",
            -110: "PLUGIN_PAUSE_FAILED",
            111: "PLUGIN_RESUME_OK",
            -111: "PLUGIN_RESUME_FAILED",
            -999: "PLUGIN_DELAYED",
            112: "PLUGIN_WORKING_HOURS_SHIFT_START",
            -112: "PLUGIN_WORKING_HOURS_SHIFT_START_FAILED",
            113: "PLUGIN_WORKING_HOURS_SHIFT_END",
            -113: "PLUGIN_WORKING_HOURS_SHIFT_END_FAILED",
            120: "PLUGIN_CONFIG_IN_PAUSE_OK",
            -120: "PLUGIN_CONFIG_IN_PAUSE_FAILED",
            10000: "SERVING_START_OK",
            -10000: "SERVING_START_FAILED",
            -99999: "SERVING_START_FATAL_FAIL",
            -5000: "COMM_RECEIVED_BAD_COMMAND",
        }
    )
    """Code → tag, exactly the SDK's table (``COMMS_OK`` has no tag there)."""
    CODES: Final = MappingProxyType({tag: code for code, tag in TAGS.items()})
    """Tag → code."""
    PIPELINE_OK_TAG: Final = "PIPELINE_OK"
    PIPELINE_FAILED_TAG: Final = "PIPELINE_FAILED"
    PLUGIN_CONFIG_OK_TAG: Final = "PLUGIN_CONFIG_OK"
    PLUGIN_CONFIG_FAILED_TAG: Final = "PLUGIN_CONFIG_FAILED"


class COMMANDS:
    """``ACTION`` values of client → node commands, and the instance-command keys."""

    COMMANDS: Final = "COMMANDS"
    RESTART: Final = "RESTART"
    STATUS: Final = "STATUS"
    STOP: Final = "STOP"
    UPDATE_CONFIG: Final = "UPDATE_CONFIG"
    DELETE_CONFIG: Final = "DELETE_CONFIG"
    UPDATE_PIPELINE_INSTANCE: Final = "UPDATE_PIPELINE_INSTANCE"
    BATCH_UPDATE_PIPELINE_INSTANCE: Final = "BATCH_UPDATE_PIPELINE_INSTANCE"
    PIPELINE_COMMAND: Final = "PIPELINE_COMMAND"
    ARCHIVE_CONFIG: Final = "ARCHIVE_CONFIG"
    DELETE_CONFIG_ALL: Final = "DELETE_CONFIG_ALL"
    ARCHIVE_CONFIG_ALL: Final = "ARCHIVE_CONFIG_ALL"
    ACTIVE_PLUGINS: Final = "ACTIVE_PLUGINS"
    RELOAD_CONFIG_FROM_DISK: Final = "RELOAD_CONFIG_FROM_DISK"
    FULL_HEARTBEAT: Final = "FULL_HEARTBEAT"
    TIMERS_ONLY_HEARTBEAT: Final = "TIMERS_ONLY_HEARTBEAT"
    SIMPLE_HEARTBEAT: Final = "SIMPLE_HEARTBEAT"
    INSTANCE_COMMAND: Final = "INSTANCE_COMMAND"
    COMMAND_PARAMS: Final = "COMMAND_PARAMS"
    FINISH_ACQUISITION: Final = "FINISH_ACQUISITION"


class NET_CONFIG:
    """Keys of the NET_CONFIG (``GET_CONFIG`` / ``SET_CONFIG``) exchange."""

    STORE_COMMAND: Final = "SET_CONFIG"
    REQUEST_COMMAND: Final = "GET_CONFIG"
    NET_CONFIG_DATA: Final = "NET_CONFIG_DATA"
    OPERATION: Final = "OP"
    DESTINATION: Final = "DEST"
    DATA: Final = "DATA"
    PIPELINES: Final = "PIPELINES"
    PLUGINS_STATUSES: Final = "PLUGIN_STATUSES"


class PAYLOAD_DATA:
    """Envelope and NET_MON field names."""

    EE_ENCRYPTED_DATA: Final = "EE_ENCRYPTED_DATA"
    EE_IS_ENCRYPTED: Final = "EE_IS_ENCRYPTED"
    INITIATOR_ID: Final = "INITIATOR_ID"
    INITIATOR_ADDR: Final = "INITIATOR_ADDR"
    MODIFIED_BY_ID: Final = "MODIFIED_BY_ID"
    MODIFIED_BY_ADDR: Final = "MODIFIED_BY_ADDR"
    SESSION_ID: Final = "SESSION_ID"
    STREAM_NAME: Final = "STREAM_NAME"
    NAME: Final = "NAME"
    INSTANCE_CONFIG: Final = "INSTANCE_CONFIG"
    SIGNATURE: Final = "SIGNATURE"
    INSTANCE_ID: Final = "INSTANCE_ID"
    TIME: Final = "TIME"
    EE_TIMESTAMP: Final = "EE_TIMESTAMP"
    EE_TIMEZONE: Final = "EE_TIMEZONE"
    EE_TZ: Final = "EE_TZ"
    SB_TIMESTAMP: Final = "EE_TIMESTAMP"
    EE_MESSAGE_ID: Final = "EE_MESSAGE_ID"
    EE_MESSAGE_SEQ: Final = "EE_MESSAGE_SEQ"
    SB_MESSAGE_ID: Final = "EE_MESSAGE_ID"
    EE_TOTAL_MESSAGES: Final = "EE_TOTAL_MESSAGES"
    SB_TOTAL_MESSAGES: Final = "EE_TOTAL_MESSAGES"
    EE_FORMATTER: Final = "EE_FORMATTER"
    SB_IMPLEMENTATION: Final = "SB_IMPLEMENTATION"
    EE_EVENT_TYPE: Final = "EE_EVENT_TYPE"
    SB_EVENT_TYPE: Final = "SB_EVENT_TYPE"
    EE_PAYLOAD_PATH: Final = "EE_PAYLOAD_PATH"
    EE_PAYLOAD_INFO: Final = "EE_PAYLOAD_INFO"
    EE_VERSION: Final = "EE_VERSION"
    EE_ID: Final = "EE_ID"
    EE_PIPELINE_NAME: Final = "EE_PIPELINE_NAME"
    EE_SENDER: Final = "EE_SENDER"
    EE_HASH: Final = "EE_HASH"
    EE_SIGN: Final = "EE_SIGN"
    EE_ETH_ADDR: Final = "EE_ETH_SENDER"
    EE_ETH_SIGN: Final = "EE_ETH_SIGN"
    EE_DESTINATION: Final = "EE_DEST"
    EE_DESTINATION_ID: Final = "EE_DEST_ID"
    NOTIFICATION: Final = "NOTIFICATION"
    INFO: Final = "INFO"
    TAGS: Final = "TAGS"
    ID_TAGS: Final = "ID_TAGS"
    NETMON_CURRENT_NETWORK: Final = "CURRENT_NETWORK"
    NETMON_STATUS_KEY: Final = "working"
    NETMON_STATUS_ONLINE: Final = "ONLINE"
    NETMON_ADDRESS: Final = "address"
    NETMON_ETH_ADDRESS: Final = "eth_address"
    NETMON_EEID: Final = "eeid"
    NETMON_LAST_REMOTE_TIME: Final = "last_remote_time"
    NETMON_UPTIME: Final = "uptime"
    NETMON_NODE_UTC: Final = "node_utc"
    NETMON_LAST_SEEN: Final = "last_seen_sec"
    NETMON_IS_SUPERVISOR: Final = "is_supervisor"
    NETMON_WHITELIST: Final = "whitelist"
    NETMON_WHITELIST_MAP: Final = "WHITELIST_MAP"
    NETMON_NODE_SECURED: Final = "secured"
    NETMON_NODE_VERSION: Final = "version"
    NETMON_NODE_R1FS_ID: Final = "r1fs_id"
    NETMON_NODE_R1FS_ONLINE: Final = "r1fs_online"
    NETMON_NODE_R1FS_RELAY: Final = "r1fs_relay"
    NETMON_NODE_COMM_RELAY: Final = "comm_relay"
    NETMON_NODE_TOTAL_CPU: Final = "total_cpu_cores"
    NETMON_NODE_TOTAL_MEM: Final = "total_mem"
    NETMON_NODE_TOTAL_DISK: Final = "total_disk"
    NETMON_VERSION: Final = "NETMON_VERSION"
    NETMON_VERSION_V2: Final = "v2"


class HEARTBEAT_DATA:
    """Heartbeat field names (the SDK's ``ratio1.const.heartbeat`` module)."""

    HEARTBEAT_VERSION: Final = "HEARTBEAT_VERSION"
    V1: Final = "v1"
    V2: Final = "v2"
    IS_ALERT_RAM: Final = "IS_ALERT_RAM"
    TIMESTAMP_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f"
    TIMESTAMP_FORMAT_SHORT: Final = "%Y-%m-%d %H:%M:%S"
    ENCODED_DATA: Final = "ENCODED_DATA"
    INITIATOR_ID: Final = "INITIATOR_ID"
    EE_HB_TIME: Final = "EE_HB_TIME"
    EE_ADDR: Final = "EE_ADDR"
    EE_WHITELIST: Final = "EE_WHITELIST"
    EE_IS_SUPER: Final = "EE_IS_SUPER"
    EE_FORMATTER: Final = "EE_FORMATTER"
    EE_ID: Final = "EE_ID"
    SECURED: Final = "SECURED"
    DEVICE_STATUS: Final = "DEVICE_STATUS"
    MACHINE_IP: Final = "MACHINE_IP"
    MACHINE_MEMORY: Final = "MACHINE_MEMORY"
    AVAILABLE_MEMORY: Final = "AVAILABLE_MEMORY"
    PROCESS_MEMORY: Final = "PROCESS_MEMORY"
    CPU_USED: Final = "CPU_USED"
    CPU_NR_CORES: Final = "CPU_NR_CORES"
    GPUS: Final = "GPUS"
    GPU_INFO: Final = "GPU_INFO"
    DEFAULT_CUDA: Final = "DEFAULT_CUDA"
    CPU: Final = "CPU"
    TIMESTAMP: Final = "TIMESTAMP"
    CURRENT_TIME: Final = "CURRENT_TIME"
    RECEIVED_TIME: Final = "RECEIVED_TIME"
    UPTIME: Final = "UPTIME"
    VERSION: Final = "VERSION"
    TOTAL_DISK: Final = "TOTAL_DISK"
    AVAILABLE_DISK: Final = "AVAILABLE_DISK"
    ACTIVE_PLUGINS: Final = "ACTIVE_PLUGINS"
    NR_INFERENCES: Final = "NR_INFERENCES"
    NR_PAYLOADS: Final = "NR_PAYLOADS"
    NR_STREAMS_DATA: Final = "NR_STREAMS_DATA"
    GIT_BRANCH: Final = "GIT_BRANCH"
    CONDA_ENV: Final = "CONDA_ENV"
    SERVING_PIDS: Final = "SERVING_PIDS"
    DCT_STATS: Final = "DCT_STATS"
    COMM_STATS: Final = "COMM_STATS"
    DID: Final = "DID"
    COMM_RELAY: Final = "COMM_RELAY"
    STOP_LOG: Final = "STOP_LOG"
    TIMERS: Final = "TIMERS"
    CONFIG_STREAMS: Final = "CONFIG_STREAMS"
    PIPELINES: Final = "CONFIG_STREAMS"
    LOOPS_TIMINGS: Final = "LOOPS_TIMINGS"
    DEVICE_LOG: Final = "DEVICE_LOG"
    ERROR_LOG: Final = "ERROR_LOG"
    LOGGER_VERSION: Final = "LOGGER_VERSION"
    PY_VER: Final = "PY_VER"
    TEMPERATURE_INFO: Final = "TEMPERATURE_INFO"
    R1FS_ID: Final = "R1FS_ID"
    R1FS_ONLINE: Final = "R1FS_ONLINE"
    R1FS_RELAY: Final = "R1FS_RELAY"
    PREFIX_EE_NODETAG: Final = "EE_NT_"
    TAG_IS_KYB: Final = "IS_KYB"
    TAG_DC: Final = "DC"
    TAG_REG: Final = "REG"
    TAG_CT: Final = "CT"
    EE_NT_IS_KYB: Final = "EE_NT_IS_KYB"
    EE_NT_DC: Final = "EE_NT_DC"
    EE_NT_REG: Final = "EE_NT_REG"
    EE_NT_CT: Final = "EE_NT_CT"

    class COMM_INFO:
        """Traffic counters."""

        IN_KB: Final = "IN_KB"
        OUT_KB: Final = "OUT_KB"

    class ACTIVE_PLUGINS_INFO:
        """Fields of one ``ACTIVE_PLUGINS`` / ``PLUGIN_STATUSES`` item."""

        STREAM_ID: Final = "STREAM_ID"
        SIGNATURE: Final = "SIGNATURE"
        INSTANCE_ID: Final = "INSTANCE_ID"
        FREQUENCY: Final = "FREQUENCY"
        INIT_TIMESTAMP: Final = "INIT_TIMESTAMP"
        EXEC_TIMESTAMP: Final = "EXEC_TIMESTAMP"
        PROCESS_DELAY: Final = "PROCESS_DELAY"
        LAST_CONFIG_TIMESTAMP: Final = "LAST_CONFIG_TIMESTAMP"
        FIRST_ERROR_TIME: Final = "FIRST_ERROR_TIME"
        LAST_ERROR_TIME: Final = "LAST_ERROR_TIME"
        OUTSIDE_WORKING_HOURS: Final = "OUTSIDE_WORKING_HOURS"
        CURRENT_PROCESS_ITERATION: Final = "CURRENT_PROCESS_ITERATION"
        CURRENT_EXEC_ITERATION: Final = "CURRENT_EXEC_ITERATION"
        LAST_PAYLOAD_TIME: Final = "LAST_PAYLOAD_TIME"
        TOTAL_PAYLOAD_COUNT: Final = "TOTAL_PAYLOAD_COUNT"
        INFO: Final = "INFO"
        ACTIVE_PLUGINS_FIELDS: Final = (
            "STREAM_ID",
            "SIGNATURE",
            "INSTANCE_ID",
            "FREQUENCY",
            "INIT_TIMESTAMP",
            "EXEC_TIMESTAMP",
            "LAST_CONFIG_TIMESTAMP",
            "FIRST_ERROR_TIME",
            "LAST_ERROR_TIME",
            "OUTSIDE_WORKING_HOURS",
            "CURRENT_PROCESS_ITERATION",
            "CURRENT_EXEC_ITERATION",
            "LAST_PAYLOAD_TIME",
            "TOTAL_PAYLOAD_COUNT",
            "INFO",
        )


class DistributedCustomCodePresets:
    """Named code presets of chain-distributed jobs (``create_chain_dist_custom_job``).

    The SDK sends the *source body* of the preset function; :attr:`SOURCES` holds those bodies
    exactly as the SDK extracts them (checked against the installed SDK in the tests).
    """

    PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_UNIQUES_IN_AGGREGATED_COLLECTED_DATA: Final = (
        "PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_UNIQUES_IN_AGGREGATED_COLLECTED_DATA"
    )
    PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_UNIQUES_IN_NODE_COLLECTED_DATA: Final = (
        "PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_UNIQUES_IN_NODE_COLLECTED_DATA"
    )
    PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_IN_NODE_COLLECTED_DATA: Final = (
        "PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_IN_NODE_COLLECTED_DATA"
    )
    FINISH_CONDITION___EACH_NODE_COLLECTED_DATA_MORE_THAN_X: Final = (
        "FINISH_CONDITION___EACH_NODE_COLLECTED_DATA_MORE_THAN_X"
    )
    FINISH_CONDITION___AGGREGATED_DATA_MORE_THAN_X: Final = (
        "FINISH_CONDITION___AGGREGATED_DATA_MORE_THAN_X"
    )
    AGGREGATE_COLLECTED_DATA___AGGREGATE_COLLECTED_DATA: Final = (
        "AGGREGATE_COLLECTED_DATA___AGGREGATE_COLLECTED_DATA"
    )
    AGGREGATE_COLLECTED_DATA___COLLECTED_DATA_PER_NODE: Final = (
        "AGGREGATE_COLLECTED_DATA___COLLECTED_DATA_PER_NODE"
    )

    SOURCES: Final = MappingProxyType(
        {
            "PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_UNIQUES_IN_AGGREGATED_COLLECTED_DATA": (
                "all_data = sum(collected_data.values(), [])\n"
                "filtered_data = list(set(d for d in data if d not in all_data))\n"
                "return filtered_data"
            ),
            "PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_UNIQUES_IN_NODE_COLLECTED_DATA": (
                "filtered_data = list(set(d for d in data if d not in collected_data[job_id]))\n"
                "return filtered_data"
            ),
            "PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_IN_NODE_COLLECTED_DATA": "return data",
            "FINISH_CONDITION___EACH_NODE_COLLECTED_DATA_MORE_THAN_X": (
                "kwargs = plugin.cfg_finish_condition_kwargs\n"
                "if kwargs is None:\n"
                '  raise Exception("`FINISH_CONDITION_KWARGS` must be set!")\n'
                'x = kwargs.get("X")\n'
                "if x is None:\n"
                '  raise Exception("`X` must be set in `FINISH_CONDITION_KWARGS`!")\n'
                "return all([len(data) > x for data in collected_data])"
            ),
            "FINISH_CONDITION___AGGREGATED_DATA_MORE_THAN_X": (
                "kwargs = plugin.cfg_finish_condition_kwargs\n"
                "if kwargs is None:\n"
                '  raise Exception("`FINISH_CONDITION_KWARGS` must be set!")\n'
                'x = kwargs.get("X")\n'
                "if x is None:\n"
                '  raise Exception("`X` must be set in `FINISH_CONDITION_KWARGS`!")\n'
                "return len(sum(collected_data.values(), [])) > x"
            ),
            "AGGREGATE_COLLECTED_DATA___AGGREGATE_COLLECTED_DATA": (
                "return sum(collected_data.values(), [])"
            ),
            "AGGREGATE_COLLECTED_DATA___COLLECTED_DATA_PER_NODE": "return collected_data",
        }
    )
    """Preset name → source body the SDK encodes into the ``CUSTOM_CODE_*`` fields."""
