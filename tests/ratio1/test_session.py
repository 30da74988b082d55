"""``AsyncSession`` against the simulated network, on the embedded broker and on mosquitto."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tether.ratio1 import (
    PLUGIN_SIGNATURES,
    AsyncPipeline,
    AsyncSession,
    DeployResult,
    Heartbeat,
    NodeOfflineError,
    Notification,
    Payload,
    PipelineNotFoundError,
)
from tether.ratio1._protocol.compression import decode_code
from tether.ratio1._protocol.identity import Identity
from tether.testing.mosquitto import Mosquitto
from tether.testing.ratio1 import Simulator

FAST: dict[str, Any] = {
    "heartbeat_interval": 0.2,
    "net_summary_interval": 0.2,
    "process_delay": 0.1,
    "config_push_delay": 0.05,
}


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def network(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """Two nodes (the first one a supervisor) on the embedded broker or on mosquitto."""
    kwargs: dict[str, Any] = {**FAST, "nodes": 2}
    if request.param == "mosquitto":
        broker: Mosquitto = request.getfixturevalue("mosquitto")
        kwargs.update(broker=broker.address, root_topic=f"s{uuid.uuid4().hex[:10]}")
    async with Simulator(**kwargs) as sim:
        yield sim


def session_for(sim: Simulator, **kwargs: Any) -> AsyncSession:
    """A session on the simulator's broker, isolated from the process environment."""
    options: dict[str, Any] = {
        "host": sim.broker_host,
        "port": sim.broker_port,
        "user": sim.username,
        "pwd": sim.password,
        "root_topic": sim.topics.root,
        "name": "tether-test",
        "env": {},
    }
    options.update(kwargs)
    return AsyncSession(**options)


@pytest.fixture
async def session(network: Simulator) -> AsyncIterator[AsyncSession]:
    async with session_for(network) as opened:
        assert await opened.wait_for_node(network.node.address, timeout=5)
        yield opened


async def eventually(condition: Any, timeout: float = 5.0) -> None:
    """Wait until *condition()* holds (state changed by the simulator, polled)."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


async def first(stream: Any, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        return await anext(stream)


# --- presence ----------------------------------------------------------------------------------


async def test_discovery_heartbeats_and_aliases(network: Simulator, session: AsyncSession) -> None:
    a, b = network.nodes
    assert await session.wait_for_node(b.alias, timeout=5)  # an alias works too
    assert set(session.get_active_nodes()) == {a.address, b.address}
    assert session.get_node_alias(a.address) == a.alias
    assert session.get_node_address(b.alias) == b.address
    assert session.get_addr_by_eth_address(a.identity.eth_address) == a.address
    assert session.get_eth_address_by_addr(a.address) == a.identity.eth_address
    assert session.check_node_online(a.alias)
    assert session.get_active_supervisors() == [a.address]
    assert session.is_peered(a.address) and set(session.get_allowed_nodes()) == {
        a.address,
        b.address,
    }
    async with session.heartbeats(node=b.alias) as beats:
        beat: Heartbeat = await first(beats)
    assert beat.node == b.address and beat.alias == b.alias and beat.verified
    assert beat["EE_ADDR"] == b.address  # v2 ENCODED_DATA decoded and merged
    assert not beat.is_supervisor and beat.version == "2.0.0"
    assert session.get_last_hb()[b.address]["EE_ID"] == b.alias
    seen = session.get_last_seen_time(b.address)
    assert seen is not None
    stats = session.stats
    assert stats.heartbeats >= 2 and stats.net_summaries >= 1 and stats.rejected == 0


async def test_network_known_nodes(network: Simulator, session: AsyncSession) -> None:
    async with asyncio.timeout(5):  # the first summary may predate the second node
        while True:
            report = await session.get_network_known_nodes(timeout=5)
            if all(n.online for n in report.nodes) and len(report.nodes) == 2:
                break
            await asyncio.sleep(0.05)
    assert report.complete and report.nr_supervisors == 1
    assert report.reporter == network.nodes[0].address
    assert report.reporter_alias == network.nodes[0].alias
    by_alias = {n.alias: n for n in report.nodes}
    assert set(by_alias) == {n.alias for n in network.nodes}
    node = by_alias[network.nodes[1].alias]
    assert node.online and node.peered and not node.is_supervisor
    assert node.eth_address == network.nodes[1].identity.eth_address
    only = await session.get_network_known_nodes(timeout=1, supervisors_only=True)
    assert [n.address for n in only.nodes] == [network.nodes[0].address]
    filtered = await session.get_network_known_nodes(timeout=1, alias_filter="02")
    assert [n.alias for n in filtered.nodes] == [network.nodes[1].alias]


# --- pipelines -------------------------------------------------------------------------------


async def test_deploy_update_remove_and_close(network: Simulator, session: AsyncSession) -> None:
    node = network.node
    pipeline = await session.create_pipeline(node=node.address, name="p1", extra_key=3)
    inst = pipeline.create_plugin_instance(
        signature="sample_plugin_01", instance_id="a", config={"process_delay": 0.1}
    )
    assert inst.signature == "SAMPLE_PLUGIN_01" and inst.proposed_config == {"PROCESS_DELAY": 0.1}
    result = await pipeline.deploy(timeout=5)
    assert isinstance(result, DeployResult)
    assert result.command == "UPDATE_CONFIG" and result.confirmed and result.elapsed > 0
    assert pipeline.was_last_operation_successful and inst.was_last_operation_successful
    assert inst.config == {"PROCESS_DELAY": 0.1} and inst.proposed_config is None
    assert pipeline.config == {"TYPE": "Void", "EXTRA_KEY": 3}
    sent = node.commands[-1].payload
    assert sent["NAME"] == "p1" and sent["DEFAULT_PLUGIN"] is False and sent["TYPE"] == "Void"
    assert sent["PLUGINS"] == [
        {"SIGNATURE": "SAMPLE_PLUGIN_01", "INSTANCES": [{"INSTANCE_ID": "a", "PROCESS_DELAY": 0.1}]}
    ]
    # nothing staged: nothing sent
    again = await pipeline.deploy()
    assert again.command is None and len(node.commands) == 1
    # an existing instance only: BATCH_UPDATE_PIPELINE_INSTANCE with the changed keys
    inst.update_instance_config(new_param=42, PROCESS_DELAY=0.1)
    assert inst.proposed_config == {"NEW_PARAM": 42}
    async with session.payloads(pipeline="p1", instance="a") as payloads:
        result = await pipeline.deploy(timeout=5)
        assert result.command == "BATCH_UPDATE_PIPELINE_INSTANCE"
        assert node.commands[-1].payload == [
            {
                "NAME": "p1",
                "SIGNATURE": "SAMPLE_PLUGIN_01",
                "INSTANCE_ID": "a",
                "INSTANCE_CONFIG": {"INSTANCE_ID": "a", "NEW_PARAM": 42},
            }
        ]
        async with asyncio.timeout(5):
            async for payload in payloads:
                if payload["CONFIG_ECHO"].get("NEW_PARAM") == 42:
                    break
    assert inst.config == {"PROCESS_DELAY": 0.1, "NEW_PARAM": 42}
    # a second instance, then its removal
    second = pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="b")
    await pipeline.deploy(timeout=5)
    assert ("p1", "SAMPLE_PLUGIN_01", "b") in node.instances and second.deployed
    second.close()
    assert second not in pipeline.instances
    result = await pipeline.deploy(timeout=5)
    assert result.command == "UPDATE_CONFIG"
    assert ("p1", "SAMPLE_PLUGIN_01", "b") not in node.instances
    assert [i.instance_id for i in pipeline.instances] == ["a"]
    full = pipeline.get_full_config()
    assert full["NAME"] == "p1" and full["PLUGINS"][0]["INSTANCES"][0]["NEW_PARAM"] == 42
    await pipeline.close(timeout=5)
    assert pipeline.closed and pipeline.was_last_operation_successful
    assert "p1" not in node.pipelines


async def test_pipeline_callbacks_notifications_and_command(
    network: Simulator, session: AsyncSession
) -> None:
    seen: list[tuple[str | None, str | None, Any]] = []
    notes: list[Notification] = []
    instance_notes: list[int | None] = []
    pipeline = await session.create_pipeline(
        node=network.node.alias,
        name="p2",
        on_data=lambda pipe, sig, inst, payload: seen.append((sig, inst, payload["ITER"])),
        on_notification=lambda pipe, note: notes.append(note),
    )
    inst = pipeline.create_plugin_instance(
        signature="SAMPLE_PLUGIN_01",
        instance_id="a",
        on_notification=lambda pipe, note: instance_notes.append(note.code),
    )
    await pipeline.deploy(timeout=5)
    job = await inst.send_instance_command.start("RESTART", payload={"who": "me"})
    assert await job.wait() is None and inst.was_last_operation_successful
    command = network.node.commands[-1]
    assert command.action == "UPDATE_PIPELINE_INSTANCE"
    assert command.payload["INSTANCE_CONFIG"] == {
        "INSTANCE_COMMAND": {"who": "me", "COMMAND_PARAMS": {"RESTART": True}}
    }
    response = await inst.send_instance_command_and_wait_for_response_payload(
        "PING", command_params={"X": 1}
    )
    assert isinstance(response, Payload)
    assert response["COMMAND_PARAMS"]["X"] == 1 and response["COMMAND_RESULT"] == "ack"
    assert response.pipeline == "p2" and response.instance == "a"
    await pipeline.send_pipeline_command("RESTART_SOMETHING", command_params={"Y": 2})
    await eventually(lambda: "PIPELINE_COMMAND" in network.node.pipelines["p2"])
    assert network.node.pipelines["p2"]["PIPELINE_COMMAND"] == {
        "RESTART_SOMETHING": True,
        "COMMAND_PARAMS": {"Y": 2},
    }
    assert seen and all(
        s == ("SAMPLE_PLUGIN_01", "a") for s, _i, _ in [(x[:2], 0, 0) for x in seen]
    )
    codes = [n.code for n in notes]
    assert 1 in codes and 100 in codes and 101 in codes
    assert 100 in instance_notes and 101 in instance_notes
    assert all(n.verified and n.node == network.node.address for n in notes)


async def test_custom_code_and_wait_exec(network: Simulator, session: AsyncSession) -> None:
    results: list[Any] = []

    def body(plugin: Any) -> Any:
        return plugin.node_id

    pipeline = await session.create_pipeline(node=network.node.address, name="p3")
    pipeline.create_custom_plugin_instance(
        instance_id="c",
        custom_code=body,
        config={"PROCESS_DELAY": 0.1},
        on_data=lambda pipe, result, payload: results.append(result),
    )
    await pipeline.deploy(timeout=5)
    code = network.node.commands[-1].payload["PLUGINS"][0]["INSTANCES"][0]["CODE"]
    assert decode_code(code) == "return plugin.node_id"
    await eventually(lambda: bool(results))
    assert results[0] == network.node.alias

    def compute(plugin: Any) -> Any:
        return {"sum": sum(range(5)), "node": plugin.node_id}

    outcome = await pipeline.wait_exec(custom_code=compute, timeout=5)
    assert outcome == ({"sum": 10, "node": network.node.alias}, None)
    # the temporary instance is removed again (unlike the official SDK)
    await eventually(lambda: all(s != "REST_CUSTOM_EXEC_01" for _, s, _ in network.node.instances))
    assert [i.signature for i in pipeline.instances] == ["CUSTOM_EXEC_01"]
    error = await pipeline.wait_exec(custom_code="return 1 / 0", timeout=5)
    assert error[0] is None and "ZeroDivisionError" in str(error[1])


async def test_web_app_deploy_returns_its_url(network: Simulator, session: AsyncSession) -> None:
    def hello(plugin: Any, name: str = "world") -> Any:
        return f"hello {name}"

    pipeline, instance = await session.create_custom_webapi(
        node=network.node.address, name="My Web API", endpoints=[{"function": hello}]
    )
    assert pipeline.name == "my_web_api" and instance.signature == "CUSTOM_CODE_FASTAPI_01"
    result = await pipeline.deploy(timeout=5)
    assert result.app_url is not None and result.app_url.startswith("https://")
    assert pipeline.app_url == result.app_url
    config = network.node.commands[-1].payload["PLUGINS"][0]["INSTANCES"][0]
    assert config["TUNNEL_ENGINE"] == "ngrok" and config["NGROK_USE_API"] is True
    assert config["API_TITLE"] == "My Web API"
    [endpoint] = config["ENDPOINTS"]
    assert endpoint["NAME"] == "hello" and endpoint["METHOD"] == "get"
    assert endpoint["ARGS"] == ["name: 'str' = 'world'"]  # str(Parameter), as the SDK sends it
    assert decode_code(endpoint["CODE"]) == 'return f"hello {name}"'
    # a preset URL: nothing to wait for
    disabled, _ = await session.create_web_app(
        node=network.node.address, name="quiet", tunnel_engine_enabled=False
    )
    assert (await disabled.deploy(timeout=5)).app_url == "TUNNEL_ENGINE_DISABLED"


async def test_attach_get_nodes_apps_and_create_or_attach(
    network: Simulator, session: AsyncSession
) -> None:
    node = network.node
    pipeline = await session.create_pipeline(node=node.address, name="shared")
    pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
    await pipeline.deploy(timeout=5)
    async with session_for(network, name="other", identity=Identity.from_seed("other")) as other:
        assert await other.wait_for_node(node.address, timeout=5)
        with pytest.raises(PipelineNotFoundError):
            await other.attach_to_pipeline(node=node.address, name="nope", timeout=3)
        seen: list[str | None] = []
        attached = await other.attach_to_pipeline(
            node=node.address, name="shared", on_data=lambda p, s, i, d: seen.append(i)
        )
        assert attached.config["INITIATOR_ID"] == "tether-test"
        [instance] = attached.instances
        assert instance.deployed and instance.signature == "SAMPLE_PLUGIN_01"
        await eventually(lambda: bool(seen))
        assert await other.wait_for_node_configs(node.address, timeout=5)
        status = instance.get_status()
        assert status is not None and status["SIGNATURE"] == "SAMPLE_PLUGIN_01"
        assert status.total_payload_count is not None and status.total_payload_count >= 1
        apps = await other.get_nodes_apps(node=node.address, timeout=5)
        assert [(a.app, a.plugin, a.instance_id, a.owner_alias) for a in apps] == [
            ("shared", "SAMPLE_PLUGIN_01", "a", "tether-test")
        ]
        assert apps[0].started is not None and apps[0].owner == session.address
        everywhere = await other.get_nodes_apps(timeout=5)
        assert [a.app for a in everywhere] == ["shared"]
        again = await other.create_or_attach_to_pipeline(node=node.alias, name="shared", LABEL="x")
        assert again is attached and attached.proposed_config == {"LABEL": "x"}
        created = await other.create_or_attach_to_pipeline(node=node.alias, name="fresh")
        assert created is not attached and created.proposed_config == {"TYPE": "Void"}
        assert other.get_active_pipelines(node.address) is not None
        await attached.close(timeout=5)
    assert "shared" not in node.pipelines


async def test_encrypted_payloads_are_decrypted(network: Simulator) -> None:
    for node in network.nodes:
        node.encrypt_payloads = True
    async with session_for(network) as session:
        assert await session.wait_for_node(network.node.address, timeout=5)
        pipeline = await session.create_pipeline(node=network.node.address, name="secret")
        pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
        async with session.payloads(pipeline="secret") as payloads:
            await pipeline.deploy(timeout=5)
            payload: Payload = await first(payloads)
    assert payload.encrypted and payload.verified and payload["ITER"] >= 1
    assert "EE_ENCRYPTED_DATA" not in payload and payload.alias == network.node.alias


async def test_create_pipeline_needs_an_online_node(
    network: Simulator, session: AsyncSession
) -> None:
    ghost = Identity.from_seed("nobody").address
    with pytest.raises(NodeOfflineError) as caught:
        await session.create_pipeline(node=ghost, name="x", max_wait_time=0.2)
    assert caught.value.node == ghost
    with pytest.raises(NodeOfflineError):
        await session.create_pipeline(node="no-such-alias", name="x")
    assert not await session.wait_for_node(ghost, timeout=0.2)


async def test_streams_filter_and_count_drops(network: Simulator, session: AsyncSession) -> None:
    async with session.payloads(pipeline="admin_pipeline", signature="net_mon_01", maxsize=1) as s:
        await asyncio.sleep(0.7)
        assert s.dropped >= 1 and s.pending == 1
        summary: Payload = await first(s)
    assert summary.signature == "NET_MON_01" and "CURRENT_NETWORK" in summary
    assert session.stats.stream_drops >= 1


async def test_async_callbacks_and_callback_errors(network: Simulator) -> None:
    got = asyncio.Event()

    async def on_heartbeat(sess: AsyncSession, node: str, beat: Heartbeat) -> None:
        got.set()

    def on_payload(*args: Any) -> None:
        raise RuntimeError("user bug")

    async with session_for(network, on_heartbeat=on_heartbeat, on_payload=on_payload) as session:
        async with asyncio.timeout(5):
            await got.wait()
        await eventually(lambda: session.stats.callback_errors > 0)
        assert session.stats.payloads >= 1  # a raising callback does not stop delivery


async def test_run_wait_and_close(network: Simulator) -> None:
    session = session_for(network)
    await session.connect()
    await session.connect()  # idempotent
    assert session.connected
    await session.wait(seconds=0.05)
    assert session.closed and not session.connected
    await session.close()  # idempotent
    other = session_for(network)
    await other.connect()
    task = asyncio.create_task(other.run())
    await asyncio.sleep(0.05)
    await other.close()
    await asyncio.wait_for(task, 5)
    polled = session_for(network)
    await polled.connect()
    calls = iter([True, True, False])
    await polled.sleep(lambda: next(calls))
    assert polled.closed


async def test_session_close_cancels_waiting_jobs(network: Simulator) -> None:
    network.node.drop_confirmations = True
    session = session_for(network)
    await session.connect()
    assert await session.wait_for_node(network.node.address, timeout=5)
    pipeline: AsyncPipeline = await session.create_pipeline(node=network.node.address, name="p")
    pipeline.create_plugin_instance(signature=PLUGIN_SIGNATURES.CUSTOM_EXEC_01, instance_id="i",
                                    CODE=None)  # fmt: skip
    job = await pipeline.deploy.start(timeout=30)
    waiter = asyncio.create_task(job.wait())
    await asyncio.sleep(0.05)
    await session.close()
    from tether import JobCancelledError

    with pytest.raises(JobCancelledError):
        await asyncio.wait_for(waiter, 5)
