"""The official ``ratio1`` SDK against our protocol code and our simulated node.

- :func:`run_official_scenario` drives the official, thread-based ``ratio1.Session`` (offline
  configuration, reference §19) through discovery, a confirmed deploy, payloads, an instance
  command with response, ``wait_exec`` and a confirmed close, and returns a transcript. Run the
  same scenario through tether's own session later and compare the transcripts.
- The official crypto engine and ours must agree: hashes, signatures both ways (high-S
  included), encryption both ways, and every constant table.

``import ratio1`` takes ~3 s, so it happens once, inside a module fixture.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tether.ratio1._protocol import constants as ours
from tether.ratio1._protocol.canon import message_digest
from tether.ratio1._protocol.crypto import decrypt, encrypt_multi, encrypt_single
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import (
    decode_signature,
    is_high_s,
    sign_message,
    verify_message,
)
from tether.testing.ratio1 import Simulator

SESSION_NAME = "tether-conformance"
PIPELINE = "conformance_pipe"
EXEC_CODE = "x = 2 + 3\nreturn {'sum': x, 'node': plugin.node_id}"


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _sdk_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith(SESSION_NAME) or t.name.endswith("-log-writer")
    ]


def run_official_scenario(
    *,
    host: str,
    port: int,
    user: str,
    password: str,
    node_address: str,
    workdir: Path,
    step_timeout: float = 10.0,
) -> dict[str, Any]:
    """Run the reference scenario with the official ``ratio1.Session``; return a transcript.

    The transcript holds only stable facts (no timestamps, no random ids), so the same
    scenario run through another client can be compared with ``==``. Blocking; run it in a
    thread. Every wait is bounded by *step_timeout*.
    """
    from ratio1 import Session  # slow import, on purpose here

    session_payloads: list[tuple[str | None, str | None, str | None]] = []
    notifications: list[tuple[int | None, str | None]] = []
    instance_data: list[dict[str, Any]] = []

    def on_payload(sess: Any, node: str, pipe: Any, sig: Any, inst: Any, data: Any) -> None:
        session_payloads.append((pipe, sig, inst))

    def on_notification(sess: Any, node: str, data: Any) -> None:
        path = data.get("EE_PAYLOAD_PATH") or [None] * 4
        notifications.append((data.get("NOTIFICATION_CODE"), path[1]))

    session = Session(
        host=host,
        port=port,
        user=user,
        pwd=password,
        secured=False,
        name=SESSION_NAME,
        run_dauth=False,
        auto_configuration=False,
        silent=True,
        encrypt_comms=True,
        on_payload=on_payload,
        on_notification=on_notification,
        local_cache_base_folder=str(workdir),
        use_home_folder=False,
    )
    transcript: dict[str, Any] = {}
    try:
        transcript["node_online"] = bool(session.wait_for_node(node_address, timeout=step_timeout))
        transcript["node_alias"] = session.get_node_alias(node_address)
        transcript["net_mon_seen"] = _wait(
            lambda: any(sig == "NET_MON_01" for _, sig, _ in session_payloads), step_timeout
        )

        pipeline = session.create_pipeline(node=node_address, name=PIPELINE, data_source="Void")
        instance = pipeline.create_plugin_instance(
            signature="SAMPLE_PLUGIN_01",
            instance_id="inst_a",
            config={"PROCESS_DELAY": 0.2},
            on_data=lambda pipe, data: instance_data.append(dict(data)),
        )
        pipeline.deploy(timeout=step_timeout)
        transcript["deploy_ok"] = pipeline.was_last_operation_successful
        transcript["payloads_received"] = _wait(lambda: len(instance_data) >= 3, step_timeout)
        first = instance_data[0] if instance_data else {}
        transcript["payload_path"] = first.get("EE_PAYLOAD_PATH")
        transcript["payload_iter_increasing"] = [d.get("ITER") for d in instance_data[:3]] == [
            1,
            2,
            3,
        ]
        transcript["payload_echo"] = first.get("CONFIG_ECHO")

        response = instance.send_instance_command_and_wait_for_response_payload(
            "PING", timeout_command=step_timeout, timeout_response_payload=3
        )
        params = dict(response.get("COMMAND_PARAMS") or {}) if response is not None else {}
        params.pop("SDK_REQUEST", None)  # random per call
        transcript["command_response"] = params

        result, error = pipeline.wait_exec(custom_code=EXEC_CODE, timeout=step_timeout)
        transcript["wait_exec"] = {"result": result, "error": error}

        pipeline.close(timeout=step_timeout)
        transcript["close_ok"] = pipeline.was_last_operation_successful
        mine = [code for code, pipe in notifications if pipe == PIPELINE]
        transcript["notification_codes"] = sorted(set(mine), key=mine.index)
    finally:
        session.close()
        # the SDK's log writer thread only stops at interpreter exit; stop it now
        session.log._shutdown_log_writer()
    transcript["threads_left"] = (
        [] if _wait(lambda: not _sdk_threads(), 5) else [t.name for t in _sdk_threads()]
    )
    return transcript


EXPECTED_TRANSCRIPT: dict[str, Any] = {
    "node_online": True,
    "node_alias": "sim-node-01",
    "net_mon_seen": True,
    "deploy_ok": True,
    "payloads_received": True,
    "payload_path": ["sim-node-01", PIPELINE, "SAMPLE_PLUGIN_01", "inst_a"],
    "payload_iter_increasing": True,
    "payload_echo": {"PROCESS_DELAY": 0.2},
    "command_response": {"PING": True},
    "wait_exec": {"result": {"sum": 5, "node": "sim-node-01"}, "error": None},
    "close_ok": True,
    "notification_codes": [1, 100, 101, 4],
    "threads_left": [],
}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOME, working directory and environment isolated from the developer's (§19)."""
    saved = dict(os.environ)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in ("EE_ROOT_TOPIC", "EE_SDK_ALIAS", "EE_EVM_NET", "EE_VPN_IMPL"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield tmp_path
    finally:
        # the SDK writes into os.environ (dotenv, NAEURAL_PEM_FILE): put it back
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def ratio1_sdk() -> Any:
    return pytest.importorskip("ratio1")


@pytest.mark.slow
async def test_official_session_against_the_simulator(ratio1_sdk: Any, isolated: Path) -> None:
    async with Simulator(heartbeat_interval=0.5, net_summary_interval=0.5) as sim:
        info = sim.info()
        transcript = await asyncio.wait_for(
            asyncio.to_thread(
                run_official_scenario,
                host=info["EE_MQTT_HOST"],
                port=int(info["EE_MQTT_PORT"]),
                user=info["EE_MQTT_USER"],
                password=info["EE_MQTT"],
                node_address=info["NODE_ADDRESS"],
                workdir=isolated,
            ),
            timeout=90,
        )
        stats = sim.node.stats
    assert transcript == EXPECTED_TRANSCRIPT
    assert stats.bad_signatures == 0  # the official Session's commands verify with our code
    assert stats.config_replies >= 1  # it asked for the config (GET_CONFIG) and got SET_CONFIG


# --- the official crypto engine and ours agree ------------------------------------------------


@pytest.fixture(scope="module")
def sdk_engine(
    ratio1_sdk: Any, tmp_path_factory: pytest.TempPathFactory, vectors: dict[str, Any]
) -> Iterator[Any]:
    """The official BC engine loaded with the reference client (SDK) test key."""
    from ratio1.bc import DefaultBlockEngine

    from ratio1 import Logger

    saved = dict(os.environ)
    folder = tmp_path_factory.mktemp("sdk-engine")
    pem = folder / "sdk.pem"
    pem.write_text(vectors["test_keys"]["sdk"]["pem_pkcs8"])
    log = Logger("TCONF", base_folder=str(folder), app_folder="_local_cache", silent=True)
    engine = DefaultBlockEngine(
        name="tether-conformance-engine",
        log=log,
        config={"PEM_FILE": str(pem), "PASSWORD": None, "PEM_LOCATION": "data"},
    )
    try:
        yield engine
    finally:
        log._shutdown_log_writer()
        os.environ.clear()
        os.environ.update(saved)


def test_engine_uses_the_reference_key(sdk_engine: Any, sdk_key: Identity) -> None:
    assert sdk_engine.address == sdk_key.address
    assert sdk_engine.eth_address == sdk_key.eth_address


MESSAGES: list[dict[str, Any]] = [
    {"EE_ID": "n", "X": 1.0, "Y": [0.1, -0.0, 1e16, 12345678901234567890]},
    {"TEXT": 'café ✓ "q" \\ \t \u2028', "NESTED": {"b": {}, "a": [None, True, False]}},
    {"NAN": float("nan"), "INF": [float("inf")], "K": {"z": 1, "A": 2, "_": 3}},
]


@pytest.mark.parametrize("message", MESSAGES)
def test_hashes_agree(sdk_engine: Any, message: dict[str, Any]) -> None:
    theirs = dict(message)
    sdk_engine.sign(theirs)
    assert theirs["EE_HASH"] == message_digest(message).hex()


def test_sdk_signatures_verify_with_ours_including_high_s(sdk_engine: Any) -> None:
    high = 0
    for i in range(48):
        message = {"EE_ID": "n", "I": i, "F": i / 3}
        sdk_engine.sign(message)
        high += is_high_s(decode_signature(message["EE_SIGN"]))
        assert verify_message(json.loads(json.dumps(message))).sender == sdk_engine.address
    assert 0 < high < 48  # the official signer does not normalise S


@pytest.mark.parametrize("message", MESSAGES)
def test_our_signatures_verify_with_the_sdk(
    sdk_engine: Any, node_key: Identity, message: dict[str, Any]
) -> None:
    signed = json.loads(json.dumps(sign_message(message, node_key)))
    result = sdk_engine.verify(signed)
    assert result.valid, result.message


def test_our_reference_resign_verifies_with_the_sdk(
    sdk_engine: Any, node_key: Identity, vectors: dict[str, Any]
) -> None:
    t1 = json.loads(vectors["signed_messages"]["T1_heartbeat_v2"]["wire_text"])
    resigned = sign_message(t1, node_key)
    assert sdk_engine.verify(resigned).valid


def test_encryption_both_ways(sdk_engine: Any, sdk_key: Identity, node_key: Identity) -> None:
    text = '{"ACTION": "UPDATE_CONFIG", "PAYLOAD": {"NAME": "é"}}'
    # SDK → us, both formats
    assert decrypt(node_key, sdk_engine.encrypt(text, node_key.address), sdk_key.address) == text
    assert decrypt(node_key, sdk_engine.encrypt(text, [node_key.address]), sdk_key.address) == text
    # us → SDK, both formats
    single = encrypt_single(node_key, text, sdk_key.address)
    multi = encrypt_multi(node_key, text, [sdk_key.address, Identity.from_seed("x").address])
    assert sdk_engine.decrypt(single, node_key.address) == text
    assert sdk_engine.decrypt(multi, node_key.address) == text


def _public(cls: type) -> dict[str, Any]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_") and not callable(v)}


def test_constants_match_the_sdk(ratio1_sdk: Any) -> None:
    from ratio1.base.distributed_custom_code_presets import DistributedCustomCodePresets
    from ratio1.code_cheker.base import BaseCodeChecker
    from ratio1.const import (
        COMMANDS,
        HB,
        NET_CONFIG,
        NOTIFICATION_CODES,
        PAYLOAD_DATA,
        PLUGIN_SIGNATURES,
        STATUS_TYPE,
    )
    from ratio1.const.apps import DEFAULT_PIPELINES
    from ratio1.default.instance import PLUGIN_TYPES

    for theirs, mine in [
        (PLUGIN_SIGNATURES, ours.PLUGIN_SIGNATURES),
        (COMMANDS, ours.COMMANDS),
        (NET_CONFIG, ours.NET_CONFIG),
        (STATUS_TYPE, ours.STATUS_TYPE),
        (DEFAULT_PIPELINES, ours.DEFAULT_PIPELINES),
    ]:
        expected = _public(theirs)
        got = _public(mine)
        extra = set(got) - set(expected)
        assert extra <= {"REST_CUSTOM_EXEC_01"}, extra
        assert {k: got[k] for k in expected} == expected

    codes = _public(NOTIFICATION_CODES)
    assert {k: v for k, v in _public(ours.NOTIFICATION_CODES).items() if k in codes} == codes
    assert dict(ours.NOTIFICATION_CODES.TAGS) == NOTIFICATION_CODES.TAGS
    assert dict(ours.NOTIFICATION_CODES.CODES) == NOTIFICATION_CODES.CODES

    payload = {k: v for k, v in _public(PAYLOAD_DATA).items() if isinstance(v, str)}
    assert {k: getattr(ours.PAYLOAD_DATA, k) for k in payload} == payload

    heartbeat = {k: v for k, v in vars(HB).items() if k.isupper() and isinstance(v, str)}
    assert {k: getattr(ours.HEARTBEAT_DATA, k) for k in heartbeat} == heartbeat
    assert _public(HB.ACTIVE_PLUGINS_INFO) == {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in _public(ours.HEARTBEAT_DATA.ACTIVE_PLUGINS_INFO).items()
    }

    types = {
        k: v.signature
        for k, v in vars(PLUGIN_TYPES).items()
        if not k.startswith("_") and hasattr(v, "signature")
    }
    assert len(types) == 6
    assert _public(ours.PLUGIN_TYPES) == types

    presets = {k: v for k, v in _public(DistributedCustomCodePresets).items() if isinstance(v, str)}
    assert {k: getattr(ours.DistributedCustomCodePresets, k) for k in presets} == presets
    checker = BaseCodeChecker()
    for name in presets:
        method = getattr(
            DistributedCustomCodePresets, f"_DistributedCustomCodePresets__{name.lower()}"
        )
        assert ours.DistributedCustomCodePresets.SOURCES[name] == checker.get_function_source_code(
            method
        )
