"""Misbehaving nodes and networks: forged and unsigned messages, withheld confirmations,
refused deploys, nodes going offline, legacy and compressed encodings."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether import JobTimeoutError
from tether.ratio1 import (
    AsyncSession,
    CloseFailedError,
    CloseTimeoutError,
    CommandTimeoutError,
    DeployFailedError,
    DeployTimeoutError,
    NodeOfflineError,
    RejectedMessage,
    ResponseTimeoutError,
)
from tether.ratio1._protocol.envelope import PayloadPath, build_notification, build_payload
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import sign_message
from tether.testing.mosquitto import Mosquitto
from tether.testing.ratio1 import Simulator

FAST: dict[str, Any] = {
    "heartbeat_interval": 0.2,
    "net_summary_interval": 0.2,
    "process_delay": 0.1,
    "config_push_delay": 0.05,
}


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def broker_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Simulator arguments for the embedded broker, or for the shared mosquitto."""
    if request.param == "mosquitto":
        broker: Mosquitto = request.getfixturevalue("mosquitto")
        return {"broker": broker.address, "root_topic": f"m{uuid.uuid4().hex[:10]}"}
    return {}


def session_for(sim: Simulator, **kwargs: Any) -> AsyncSession:
    options: dict[str, Any] = {
        "host": sim.broker_host,
        "port": sim.broker_port,
        "user": sim.username,
        "pwd": sim.password,
        "root_topic": sim.topics.root,
        "name": "tether-misbehaviour",
        "env": {},
    }
    options.update(kwargs)
    return AsyncSession(**options)


@pytest.fixture
async def network(broker_kwargs: dict[str, Any]) -> AsyncIterator[Simulator]:
    async with Simulator(**FAST, **broker_kwargs) as sim:
        yield sim


async def _until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


# --- signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("switch", "reason", "counter"), [
    ("forge_signatures", "invalid_signature", "forged"),
    ("unsigned", "missing_signature", "unsigned"),
])  # fmt: skip
async def test_forged_and_unsigned_messages_are_dropped_and_counted(
    network: Simulator, switch: str, reason: str, counter: str
) -> None:
    node = network.node
    setattr(node, switch, True)
    await asyncio.sleep(0.3)  # messages built before the switch are on their way
    async with session_for(network) as session:
        async with session.rejections() as rejections:
            rejected: RejectedMessage = await asyncio.wait_for(anext(rejections), 5)
        assert rejected.sender == node.address and rejected.reason == reason
        await _until(lambda: getattr(session.stats, counter) >= 3)
        stats = session.stats
        assert stats.heartbeats == 0 and stats.payloads == 0 and stats.net_summaries == 0
        assert not session.get_active_nodes()  # a forged heartbeat does not make a node online
        assert not await session.wait_for_node(node.address, timeout=0.3)
        assert stats.verified == 0 and stats.rejected == stats.received
    # the official SDK's behaviour, on request: trust EE_SENDER
    async with session_for(network, verify=False) as trusting:
        assert await trusting.wait_for_node(node.address, timeout=5)
        assert trusting.stats.rejected == 0 and trusting.stats.verified == 0


async def test_a_forged_confirmation_does_not_confirm(network: Simulator) -> None:
    """An attacker on the broker answers for the node: the deploy must not believe it."""
    node = network.node
    node.drop_confirmations = True
    attacker = Identity.from_seed("attacker")
    async with session_for(network) as session:
        assert await session.wait_for_node(node.address, timeout=5)
        pipeline = await session.create_pipeline(node=node.address, name="victim")
        pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
        job = await pipeline.deploy.start(timeout=1)
        conn = session._conn
        assert conn is not None
        for code, signature, instance in ((1, None, None), (100, "SAMPLE_PLUGIN_01", "a")):
            forged = build_notification(
                node.info,
                code=code,
                text="ok",
                path=PayloadPath(node.alias, "victim", signature, instance),
                sign=False,
            )
            forged = sign_message(forged, attacker)
            forged["EE_SENDER"] = node.address  # claims to be the node
            await conn.publish(network.topics.notif, json.dumps(forged))
            spoofed = sign_message(dict(forged), attacker)  # honestly signed, by someone else
            await conn.publish(network.topics.notif, json.dumps(spoofed))
        with pytest.raises(DeployTimeoutError):
            await job.wait()
        assert session.stats.forged >= 2
        assert pipeline.was_last_operation_successful is None
        assert pipeline.instances[0].proposed_config == {}


# --- confirmations -------------------------------------------------------------------------------


async def test_withheld_confirmation_times_out_then_the_retry_succeeds(network: Simulator) -> None:
    node = network.node
    node.drop_confirmations = True
    async with session_for(network) as session:
        assert await session.wait_for_node(node.address, timeout=5)
        pipeline = await session.create_pipeline(node=node.address, name="retry")
        inst = pipeline.create_plugin_instance(
            signature="SAMPLE_PLUGIN_01", instance_id="a", config={"PROCESS_DELAY": 0.1}
        )
        with pytest.raises(DeployTimeoutError) as caught:
            await pipeline.deploy(timeout=0.6)
        error = caught.value
        assert isinstance(error, JobTimeoutError)  # generic job handling still works
        # code 100 is made up for by the node's report (SET_CONFIG) that the instance runs
        assert error.missing == ("PIPELINE_OK retry",)
        assert "not received: PIPELINE_OK retry" in str(error)
        # the proposal is kept (the official SDK discards it and a second deploy sends nothing)
        assert not inst.deployed and inst.proposed_config == {"PROCESS_DELAY": 0.1}
        assert pipeline.proposed_config == {"TYPE": "Void"}
        assert pipeline.was_last_operation_successful is None
        # the node did apply it: a retry gets code 1, and (no code 100 for an unchanged
        # instance) the node's own report that the instance runs with this config
        node.drop_confirmations = False
        result = await pipeline.deploy(timeout=5)
        assert result.confirmed and result.command == "UPDATE_CONFIG"
        assert (
            inst.deployed and inst.proposed_config is None and inst.config == {"PROCESS_DELAY": 0.1}
        )
        assert [c.action for c in node.commands] == ["UPDATE_CONFIG", "UPDATE_CONFIG"]
        assert node.commands[0].payload == node.commands[1].payload
        # a withheld code 100 alone is made up for by that report too
        node.drop_confirmations = {100}
        inst.update_instance_config(PROCESS_DELAY=0.2)
        assert (await pipeline.deploy(timeout=5)).confirmed
        assert node.stats.dropped_confirmations >= 3
        # commands and closes time out with their own types
        node.drop_confirmations = {101}
        with pytest.raises(CommandTimeoutError) as command_error:
            await inst.send_instance_command("PING", timeout=0.4)
        assert command_error.value.missing == (
            "PLUGIN_INSTANCE_COMMAND_OK retry/SAMPLE_PLUGIN_01/a",
        )
        node.drop_confirmations = {4}
        with pytest.raises(CloseTimeoutError):
            await pipeline.close(timeout=0.4)
        assert not pipeline.closed and "retry" not in node.pipelines  # archived, unconfirmed
        node.drop_confirmations = False
        with pytest.raises(CloseFailedError) as refused:  # the node no longer has it
            await pipeline.close(timeout=5)
        assert refused.value.code == -4 and "does not exist" in (refused.value.reason or "")


async def test_refused_deploy_raises_and_keeps_the_proposal(network: Simulator) -> None:
    node = network.node
    node.fail_deploys = True
    async with session_for(network) as session:
        assert await session.wait_for_node(node.address, timeout=5)
        pipeline = await session.create_pipeline(node=node.address, name="refused")
        pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
        with pytest.raises(DeployFailedError) as caught:
            await pipeline.deploy(timeout=5)
        assert caught.value.code == -1 and "fail_deploys" in (caught.value.reason or "")
        assert pipeline.was_last_operation_successful is False
        assert pipeline.instances[0].tainted
        node.fail_deploys = False
        assert (await pipeline.deploy(timeout=5)).confirmed


async def test_response_and_exec_timeouts(network: Simulator) -> None:
    node = network.node
    async with session_for(network) as session:
        assert await session.wait_for_node(node.address, timeout=5)
        pipeline = await session.create_pipeline(node=node.address, name="slow")
        inst = pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
        await pipeline.deploy(timeout=5)
        node.encrypt_payloads = True  # answers go to the initiator only... still us: drop them
        node.drop_confirmations = set()
        original = node.send_payload

        async def swallow(instance: Any, data: Any) -> None:
            if "COMMAND_PARAMS" not in data and "REST_EXECUTION_RESULT" not in data:
                await original(instance, data)

        node.send_payload = swallow  # type: ignore[method-assign]
        started = asyncio.get_running_loop().time()
        with pytest.raises(ResponseTimeoutError) as caught:
            await inst.send_instance_command_and_wait_for_response_payload(
                "PING", timeout_command=5, timeout_response_payload=0.3
            )
        assert "SDK_REQUEST" in caught.value.missing[0]
        assert asyncio.get_running_loop().time() - started < 3  # 0.3 s after the confirmation
        node.drop_confirmations = {101}
        with pytest.raises(CommandTimeoutError):
            await inst.send_instance_command_and_wait_for_response_payload(
                "PING", timeout_command=0.3, timeout_response_payload=5
            )
        assert asyncio.get_running_loop().time() - started < 4
        node.drop_confirmations = set()
        assert inst._waiters == []  # no leftovers
        with pytest.raises(ResponseTimeoutError):
            await pipeline.wait_exec(custom_code="return 1", timeout=0.5)


# --- presence ----------------------------------------------------------------------------------


async def test_presence_expires_when_a_node_goes_offline(network: Simulator) -> None:
    node = network.node
    async with session_for(network, online_timeout=0.8) as session:
        assert await session.wait_for_node(node.address, timeout=5)
        await network.go_offline(0)
        assert session.check_node_online(node.address)  # still within the window
        await asyncio.sleep(0.9)
        assert not session.check_node_online(node.address)
        assert session.get_active_nodes() == []
        with pytest.raises(NodeOfflineError):
            await session.create_pipeline(node=node.address, name="late")
        waiter = asyncio.create_task(session.wait_for_node(node.alias, timeout=5))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await network.come_online(0)
        assert await waiter  # woken by the first heartbeat (push, no polling)


# --- encodings ---------------------------------------------------------------------------------


async def test_v1_heartbeats_and_compressed_summaries(broker_kwargs: dict[str, Any]) -> None:
    async with Simulator(
        **FAST, **broker_kwargs, heartbeat_version="v1", compress_net_summary=True
    ) as sim:
        async with session_for(sim) as session:
            async with session.heartbeats() as beats:
                beat = await asyncio.wait_for(anext(beats), 5)
            assert beat["HEARTBEAT_VERSION"] == "v1" and beat.alias == sim.node.alias
            async with session.payloads(signature="NET_MON_01") as summaries:
                summary = await asyncio.wait_for(anext(summaries), 5)
            assert (
                summary["NETMON_VERSION"] == "v2" and sim.node.alias in summary["CURRENT_NETWORK"]
            )
            assert "ENCODED_DATA" not in summary
            assert session.stats.net_summaries >= 1


async def test_malformed_and_foreign_messages(network: Simulator) -> None:
    node = network.node
    async with session_for(network) as session:
        assert await session.wait_for_node(node.address, timeout=5)
        conn = session._conn
        assert conn is not None
        await conn.publish(network.topics.payloads, b"not json")
        await conn.publish(network.topics.payloads, b"[1, 2]")
        bad_path = sign_message({"EE_PAYLOAD_PATH": ["a", "b"]}, node.identity)
        await conn.publish(network.topics.payloads, json.dumps(bad_path))
        no_alias = sign_message({"EE_EVENT_TYPE": "HEARTBEAT"}, node.identity)
        await conn.publish(network.topics.ctrl, json.dumps(no_alias))
        # encrypted to us by a node, but corrupted: undecryptable
        sealed = build_payload(
            node.info,
            {"X": 1},
            path=PayloadPath(node.alias, "p", "S", "i"),
            encrypt_to=session.address,
            sign=False,
        )
        sealed["EE_ENCRYPTED_DATA"] = "AAAA" + sealed["EE_ENCRYPTED_DATA"][4:]
        await conn.publish(
            network.topics.payloads_for(session.address),
            json.dumps(sign_message(sealed, node.identity)),
        )
        # encrypted to someone else: delivered with its clear fields only, like the SDK
        other = build_payload(
            node.info,
            {"X": 1},
            path=PayloadPath(node.alias, "p", "S", "i"),
            encrypt_to=Identity.from_seed("someone").address,
        )
        async with session.payloads(pipeline="p") as payloads:
            await conn.publish(network.topics.payloads, json.dumps(other))
            foreign = await asyncio.wait_for(anext(payloads), 5)
        assert foreign.encrypted and "X" not in foreign and foreign.verified
        await _until(lambda: session.stats.malformed >= 4 and session.stats.undecryptable >= 1)
