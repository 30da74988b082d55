"""The simulated node, driven over MQTT by a probe client that speaks the protocol."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether.ratio1._protocol.compression import encode_code
from tether.ratio1._protocol.envelope import (
    IncomingMessage,
    MessageKind,
    build_command,
    build_net_config_request,
)
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import sign_message
from tether.testing.mosquitto import Mosquitto
from tether.testing.ratio1 import Simulator

from .conftest import Probe, open_probe

PIPE = "sim_pipe"


def pipeline(*instances: tuple[str, str, dict[str, Any]], name: str = PIPE) -> dict[str, Any]:
    plugins: dict[str, list[dict[str, Any]]] = {}
    for signature, instance_id, config in instances:
        plugins.setdefault(signature, []).append({"INSTANCE_ID": instance_id, **config})
    return {
        "NAME": name,
        "DEFAULT_PLUGIN": False,
        "PLUGINS": [{"SIGNATURE": s, "INSTANCES": i} for s, i in plugins.items()],
        "TYPE": "Void",
    }


async def send(probe: Probe, sim: Simulator, action: str, payload: Any, **kw: Any) -> None:
    node = sim.node
    message = build_command(probe.identity, node.address, action, payload, session_id="probe", **kw)
    await probe.publish(sim.topics.config_for(node.address), message)


def notif(code: int | None, signature: str | None = None, pipe: str = PIPE) -> Any:
    def match(topic: str, m: IncomingMessage) -> bool:
        return (
            topic.endswith("/notif")
            and m.notification_code == code
            and m.path.pipeline == pipe
            and (signature is None or m.path.signature == signature)
        )

    return match


def payload_of(instance: str, key: str | None = None) -> Any:
    def match(topic: str, m: IncomingMessage) -> bool:
        return (
            m.kind is MessageKind.PAYLOAD
            and m.path.instance == instance
            and (key is None or key in m.data)
        )

    return match


# --- broadcast traffic ------------------------------------------------------------------------


async def test_heartbeats_are_signed_compressed_and_mirrored(sim: Simulator, probe: Probe) -> None:
    node = sim.node
    beats = await probe.wait_for(lambda t, m: t == "naeural/ctrl", count=2)
    await probe.wait_for(lambda t, m: t == f"naeural/ctrl/{node.address}")
    beat = beats[-1]
    assert beat.kind is MessageKind.HEARTBEAT and beat.verified
    assert beat.raw["HEARTBEAT_VERSION"] == "v2" and "ENCODED_DATA" in beat.raw
    assert beat.data["EE_ID"] == node.alias
    assert beat.data["EE_ADDR"] == node.address == beat.sender
    assert beat.data["EE_IS_SUPER"] is True
    assert beat.data["SECURED"] is False
    assert beat.raw["EE_ETH_SENDER"] == node.identity.eth_address


async def test_net_summary_lists_every_online_node() -> None:
    async with Simulator(nodes=3, supervisors=2, heartbeat_interval=0.2, net_summary_interval=0.2,
                         compress_net_summary=True) as sim:  # fmt: skip
        async for probe in open_probe(sim.broker_host, sim.broker_port):
            summaries = await probe.wait_for(
                lambda t, m: m.kind is MessageKind.NET_MON, count=4, timeout=3
            )
            senders = {m.sender for m in summaries}
            assert senders == {sim.nodes[0].address, sim.nodes[1].address}
            summary = summaries[-1]
            assert summary.verified and summary.raw["NETMON_VERSION"] == "v2"
            network = summary.data["CURRENT_NETWORK"]
            assert {e["address"] for e in network.values()} == {n.address for n in sim.nodes}
            assert all(e["working"] == "ONLINE" for e in network.values())
            assert len({n.address for n in sim.nodes}) == 3


async def test_identities_are_deterministic() -> None:
    a = Simulator(nodes=2, seed="same")
    b = Simulator(nodes=2, seed="same")
    c = Simulator(nodes=2, seed="other")
    assert [n.address for n in a.nodes] == [n.address for n in b.nodes]
    assert a.nodes[0].address != c.nodes[0].address
    assert a.nodes[0].address == Identity.from_seed("same/node/0").address


def test_info_uses_the_sdk_variable_names() -> None:
    sim = Simulator(broker="127.0.0.1:1883")
    info = sim.info()
    assert info["MQTT"] == "127.0.0.1:1883"
    assert (info["EE_MQTT_HOST"], info["EE_MQTT_PORT"]) == ("127.0.0.1", "1883")
    assert info["EE_MQTT_USER"] == "tether" and info["EE_MQTT"] == "tether-sim"
    assert info["NODE_ADDRESS"] == sim.node.address
    assert "tether-sim" not in repr(sim)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"nodes": 0},
        {"supervisors": 2},
        {"aliases": ["a", "b"]},
        {"heartbeat_version": "v3"},
        {"heartbeat_interval": 0},
        {"payload_rate": -1},
        {"broker": "nohost"},
    ],
)
def test_constructor_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|alias|broker"):
        Simulator(**kwargs)


# --- NET_CONFIG -------------------------------------------------------------------------------


async def test_get_config_is_answered_with_encrypted_set_config(
    sim: Simulator, probe: Probe
) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("SAMPLE_01", "i1", {"PROCESS_DELAY": 5})))
    await probe.wait_for(notif(100))
    request = build_net_config_request(probe.identity, [sim.node.address], session_id="probe")
    await probe.publish(sim.topics.payloads_for(sim.node.address), request)
    replies = await probe.wait_for(
        lambda t, m: m.kind is MessageKind.NET_CONFIG_REPLY and m.decrypted, timeout=3
    )
    reply = replies[-1]
    assert reply.verified and reply.raw["EE_IS_ENCRYPTED"] is True
    assert reply.raw["EE_DEST"] == probe.identity.address
    body = reply.data["NET_CONFIG_DATA"]
    assert body["OP"] == "SET_CONFIG"
    [stored] = body["PIPELINES"]
    assert stored["NAME"] == PIPE
    assert stored["INITIATOR_ADDR"] == probe.identity.address
    assert stored["SESSION_ID"] == "probe"
    [status] = body["PLUGIN_STATUSES"]
    assert (status["STREAM_ID"], status["SIGNATURE"], status["INSTANCE_ID"]) == (
        PIPE, "SAMPLE_01", "i1",
    )  # fmt: skip
    assert probe.identity.address in sim.node.peers


# --- deploy / update / close ------------------------------------------------------------------


async def test_deploy_sequence_then_payloads(sim: Simulator, probe: Probe) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("SAMPLE_01", "i1", {"PROCESS_DELAY": 0.05})))
    await probe.wait_for(notif(100, "SAMPLE_01"))
    assert probe.codes(PIPE)[:2] == [1, 100]
    payloads = await probe.wait_for(payload_of("i1", "ITER"), count=3)
    assert [p.data["ITER"] for p in payloads[:3]] == [1, 2, 3]
    assert payloads[0].data["CONFIG_ECHO"] == {"PROCESS_DELAY": 0.05}
    assert payloads[0].data["INITIATOR_ADDR"] == probe.identity.address
    assert all(p.verified for p in payloads)
    assert sim.node.instances == [(PIPE, "SAMPLE_01", "i1")]
    # a SET_CONFIG push follows every change
    await probe.wait_for(lambda t, m: m.kind is MessageKind.NET_CONFIG_REPLY and m.decrypted)


async def test_update_config_changes_only_what_changed(sim: Simulator, probe: Probe) -> None:
    first = pipeline(("S_A", "a", {"PROCESS_DELAY": 5}), ("S_B", "b", {"PROCESS_DELAY": 5}))
    await send(probe, sim, "UPDATE_CONFIG", first)
    await probe.wait_for(notif(100), count=2)
    second = pipeline(("S_A", "a", {"PROCESS_DELAY": 5}), ("S_C", "c", {"PROCESS_DELAY": 5}))
    await send(probe, sim, "UPDATE_CONFIG", second)
    await probe.wait_for(notif(100, "S_C"))
    await asyncio.sleep(0.1)
    assert probe.codes(PIPE).count(1) == 2
    assert [m.path.signature for m in probe.find(notif(100))] == ["S_A", "S_B", "S_C"]
    assert sim.node.instances == [(PIPE, "S_A", "a"), (PIPE, "S_C", "c")]


async def test_instance_update_and_batch(sim: Simulator, probe: Probe) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S_A", "a", {"PROCESS_DELAY": 5})))
    await probe.wait_for(notif(100))
    update = {"NAME": PIPE, "SIGNATURE": "S_A", "INSTANCE_ID": "a",
              "INSTANCE_CONFIG": {"INSTANCE_ID": "a", "NEW_PARAM": 42}}  # fmt: skip
    missing = {"NAME": PIPE, "SIGNATURE": "S_A", "INSTANCE_ID": "nope", "INSTANCE_CONFIG": {}}
    await send(probe, sim, "BATCH_UPDATE_PIPELINE_INSTANCE", [update, missing])
    await probe.wait_for(notif(100), count=2)
    failed = await probe.wait_for(notif(-1))
    assert failed[0].data["INFO"] and failed[0].path.instance == "nope"
    summary = await probe.wait_for(lambda t, m: t.endswith("/notif") and "Batch" in str(
        m.data.get("NOTIFICATION")))  # fmt: skip
    assert summary[0].notification_code is None
    echo = await probe.wait_for(
        lambda t, m: (
            m.kind is MessageKind.PAYLOAD and m.data.get("CONFIG_ECHO", {}).get("NEW_PARAM") == 42
        )
    )
    assert echo[0].path.instance == "a"
    stored = sim.node.pipelines[PIPE]["PLUGINS"][0]["INSTANCES"][0]
    assert stored["NEW_PARAM"] == 42


async def test_instance_command_with_response(sim: Simulator, probe: Probe) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S_A", "a", {"PROCESS_DELAY": 5})))
    await probe.wait_for(notif(100))
    command = {"SDK_REQUEST": "req-1", "COMMAND_PARAMS": {"PING": True}}
    await send(probe, sim, "UPDATE_PIPELINE_INSTANCE", {
        "NAME": PIPE, "SIGNATURE": "S_A", "INSTANCE_ID": "a",
        "INSTANCE_CONFIG": {"INSTANCE_COMMAND": command}})  # fmt: skip
    await probe.wait_for(notif(101, "S_A"))
    reply = await probe.wait_for(payload_of("a", "COMMAND_PARAMS"))
    assert reply[0].data["COMMAND_PARAMS"] == {"PING": True, "SDK_REQUEST": "req-1"}
    assert reply[0].data["RECEIVED_COMMAND"] == command
    codes = probe.codes(PIPE)
    assert codes.index(101) > codes.index(1, 1)  # 1 for the instance, then 101
    assert 100 not in codes[2:]  # a command is not a reconfiguration


async def test_pipeline_command_and_archive(sim: Simulator, probe: Probe) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S_A", "a", {"PROCESS_DELAY": 5})))
    await probe.wait_for(notif(100))
    await send(probe, sim, "PIPELINE_COMMAND", {"NAME": PIPE, "PIPELINE_COMMAND": {"GO": True}})
    await probe.wait_for(lambda t, m: t.endswith("/notif") and "Pipeline command" in str(
        m.data.get("NOTIFICATION")))  # fmt: skip
    assert sim.node.pipelines[PIPE]["PIPELINE_COMMAND"] == {"GO": True}
    await send(probe, sim, "ARCHIVE_CONFIG", PIPE)
    await probe.wait_for(notif(4))
    assert sim.node.pipelines == {} and sim.node.instances == []
    await send(probe, sim, "ARCHIVE_CONFIG", PIPE)
    await probe.wait_for(notif(-4))
    await send(probe, sim, "PIPELINE_COMMAND", {"NAME": "ghost", "PIPELINE_COMMAND": {}})
    await probe.wait_for(lambda t, m: t.endswith("/notif") and "unknown pipeline" in str(
        m.data.get("NOTIFICATION")))  # fmt: skip


async def test_archive_all_and_unknown_action(sim: Simulator, probe: Probe) -> None:
    for name in ("p1", "p2"):
        await send(
            probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {"PROCESS_DELAY": 5}), name=name)
        )
        await probe.wait_for(notif(100, pipe=name))
    await send(probe, sim, "ARCHIVE_CONFIG_ALL", None)
    await probe.wait_for(notif(4, pipe="p1"))
    await probe.wait_for(notif(4, pipe="p2"))
    await send(probe, sim, "FLY_TO_THE_MOON", None)
    await probe.wait_for(lambda t, m: "Unknown command" in str(m.data.get("NOTIFICATION")))


# --- custom code ------------------------------------------------------------------------------


async def test_rest_custom_exec_runs_once_per_request(sim: Simulator, probe: Probe) -> None:
    code = encode_code("x = 2 + 3\nreturn {'sum': x, 'node': plugin.node_id}")
    config = {
        "REQUEST": {"DATA": {"CODE": code}, "TIMESTAMP": "t1"},
        "RESULT_KEY": "REST_EXECUTION_RESULT",
        "ERROR_KEY": "REST_EXECUTION_ERROR",
    }
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("REST_CUSTOM_EXEC_01", "r", config)))
    result = await probe.wait_for(payload_of("r", "REST_EXECUTION_RESULT"))
    assert result[0].data["REST_EXECUTION_RESULT"] == {"sum": 5, "node": sim.node.alias}
    assert result[0].data["REST_EXECUTION_ERROR"] is None
    assert result[0].data["TIMESTAMP"] == "t1"
    await probe.wait_for(notif(100, "REST_CUSTOM_EXEC_01"))
    await asyncio.sleep(0.35)  # several iterations: still one result
    assert len(probe.find(payload_of("r", "REST_EXECUTION_RESULT"))) == 1


async def test_rest_custom_exec_reports_rejected_code(sim: Simulator, probe: Probe) -> None:
    config = {"REQUEST": {"DATA": {"CODE": encode_code("import os\nreturn os.getcwd()")},
                          "TIMESTAMP": "t"}}  # fmt: skip
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("REST_CUSTOM_EXEC_01", "r", config)))
    result = await probe.wait_for(payload_of("r", "REST_EXECUTION_ERROR"))
    assert result[0].data["REST_EXECUTION_RESULT"] is None
    assert "imports are not allowed" in result[0].data["REST_EXECUTION_ERROR"]


async def test_custom_exec_runs_every_iteration(sim: Simulator, probe: Probe) -> None:
    code = encode_code("plugin.obj_cache['n'] = plugin.obj_cache.get('n', 0) + 1\n"
                       "return plugin.obj_cache['n']")  # fmt: skip
    config = {"CODE": code, "PROCESS_DELAY": 0.05}
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("CUSTOM_EXEC_01", "c", config)))
    results = await probe.wait_for(payload_of("c", "EXEC_RESULT"), count=3)
    assert [r.data["EXEC_RESULT"] for r in results[:3]] == [1, 2, 3]
    assert all(r.data["EXEC_ERRORS"] is None and "EXEC_INFO" in r.data for r in results)


async def test_web_apps_report_an_app_url(sim: Simulator, probe: Probe) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("CUSTOM_CODE_FASTAPI_01", "w", {})))
    found = await probe.wait_for(payload_of("w", "APP_URL"))
    assert found[0].data["APP_URL"].startswith("https://")


# --- security and misbehaviour ----------------------------------------------------------------


async def test_badly_signed_command_gets_minus_5000_on_an_unsecured_node(
    sim: Simulator, probe: Probe
) -> None:
    config = pipeline(("S", "i", {"PROCESS_DELAY": 5}))
    message = build_command(
        probe.identity, sim.node.address, "UPDATE_CONFIG", config, session_id="probe"
    )
    forged = sign_message(message, Identity.from_seed("tests/forger"))
    forged["EE_SENDER"] = probe.identity.address
    await probe.publish(sim.topics.config_for(sim.node.address), forged)
    await probe.wait_for(lambda t, m: m.notification_code == -5000)
    await probe.wait_for(notif(1))  # still applied
    assert sim.node.stats.bad_signatures == 1


async def test_secured_node_drops_bad_signatures_and_strangers() -> None:
    friend = Identity.from_seed("tests/whitelisted-client")
    async with Simulator(secured=True, whitelist=[friend.address], heartbeat_interval=0.2,
                         net_summary_interval=0.2) as sim:  # fmt: skip
        async for probe in open_probe(sim.broker_host, sim.broker_port):
            # the probe's own key is not whitelisted
            await send(probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {})))
            forged = sign_message(
                build_command(friend, sim.node.address, "UPDATE_CONFIG", pipeline(("S", "i", {})),
                              session_id="x"), probe.identity)  # fmt: skip
            forged["EE_SENDER"] = friend.address
            await probe.publish(sim.topics.config_for(sim.node.address), forged)
            # a well-signed command from the whitelisted key afterwards is the marker
            marker = build_command(friend, sim.node.address, "FULL_HEARTBEAT", None, session_id="x")
            await probe.publish(sim.topics.config_for(sim.node.address), marker)
            await probe.wait_for(lambda t, m: t.endswith("/config"), count=3)
            await asyncio.sleep(0.2)
            assert sim.node.stats.commands == 1  # only the marker
            assert sim.node.stats.rejected == 2
            assert probe.codes() == []
            beat = await probe.wait_for(lambda t, m: m.kind is MessageKind.HEARTBEAT)
            assert beat[0].data["SECURED"] is True
            assert beat[0].data["EE_WHITELIST"] == [friend.address]


@pytest.mark.parametrize("drop", [True, {100}])
async def test_drop_confirmations(sim: Simulator, probe: Probe, drop: bool | set[int]) -> None:
    sim.node.drop_confirmations = drop
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {"PROCESS_DELAY": 0.05})))
    await probe.wait_for(payload_of("i"), count=2)
    await asyncio.sleep(0.1)
    assert probe.codes(PIPE) == ([] if drop is True else [1])
    assert sim.node.stats.dropped_confirmations >= 1


async def test_fail_deploys(sim: Simulator, probe: Probe) -> None:
    sim.node.fail_deploys = True
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {})))
    failed = await probe.wait_for(notif(-1))
    assert failed[0].data["NOTIFICATION_TYPE"] == "EXCEPTION"
    assert sim.node.pipelines == {}


async def test_forged_and_unsigned_messages(sim: Simulator, probe: Probe) -> None:
    sim.node.forge_signatures = True
    forged = await probe.wait_for(lambda t, m: t == "naeural/ctrl" and not m.verified)
    assert forged[0].sender == sim.node.address
    assert forged[0].signature_error is not None
    assert forged[0].signature_error.reason == "invalid_signature"
    sim.node.forge_signatures = False
    sim.node.unsigned = True
    bare = await probe.wait_for(
        lambda t, m: t == "naeural/ctrl" and "EE_SIGN" not in m.raw, timeout=3
    )
    assert bare[0].sender == sim.node.address
    assert bare[0].signature_error is not None
    assert bare[0].signature_error.reason == "missing_signature"


async def test_encrypted_payloads_go_to_the_initiator(sim: Simulator, probe: Probe) -> None:
    sim.node.encrypt_payloads = True
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {"PROCESS_DELAY": 0.05})))
    found = await probe.wait_for(payload_of("i", "ITER"))
    assert found[0].encrypted and found[0].decrypted and found[0].verified
    topics = [t for t, m in probe.messages if m is found[0]]
    assert topics == [sim.topics.payloads_for(probe.identity.address)]


async def test_go_offline_and_come_online(sim: Simulator, probe: Probe) -> None:
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {"PROCESS_DELAY": 0.05})))
    await probe.wait_for(payload_of("i"), count=2)
    await sim.go_offline(0)
    assert not sim.node.online
    await asyncio.sleep(0.05)
    seen = len(probe.messages)
    await asyncio.sleep(0.4)
    assert len(probe.messages) == seen  # silence while offline
    await sim.come_online(sim.node)
    before = len(probe.find(payload_of("i")))
    await probe.wait_for(payload_of("i"), count=before + 2)  # the stored pipeline resumed
    await probe.wait_for(lambda t, m: m.kind is MessageKind.HEARTBEAT, count=1)


async def test_payload_rate(sim: Simulator, probe: Probe) -> None:
    sim.node.payload_rate = 500
    await send(probe, sim, "UPDATE_CONFIG", pipeline(("S", "i", {})))
    await probe.wait_for(payload_of("i"), count=10)
    start = len(probe.find(payload_of("i")))
    await asyncio.sleep(0.5)
    rate = (len(probe.find(payload_of("i"))) - start) / 0.5
    assert 200 < rate < 800


# --- joining an external broker ---------------------------------------------------------------


@pytest.fixture
async def mosquitto_sim(mosquitto: Mosquitto) -> AsyncIterator[Simulator]:
    async with Simulator(broker=mosquitto.address, heartbeat_interval=0.2,
                         net_summary_interval=0.2) as sim:  # fmt: skip
        yield sim


@pytest.mark.mosquitto
async def test_joins_an_existing_broker(mosquitto_sim: Simulator, mosquitto: Mosquitto) -> None:
    assert mosquitto_sim.info()["MQTT"] == mosquitto.address
    async for probe in open_probe(mosquitto.host, mosquitto.port):
        await send(probe, mosquitto_sim, "UPDATE_CONFIG", pipeline(("S", "i", {})))
        await probe.wait_for(notif(100))
        beat = await probe.wait_for(lambda t, m: m.kind is MessageKind.HEARTBEAT)
        assert beat[0].verified
