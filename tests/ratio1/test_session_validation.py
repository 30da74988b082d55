"""Bad input fails before anything is sent; settings, environment and identity; secrets."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tether import ValidationError
from tether._core.mqtt import MQTTAuthenticationError
from tether.ratio1 import (
    PLUGIN_SIGNATURES,
    AsyncSession,
    DistributedCustomCodePresets,
    Identity,
    resolve_settings,
)
from tether.ratio1._protocol.compression import decode_code
from tether.testing.ratio1 import Simulator

FAST: dict[str, Any] = {"heartbeat_interval": 0.2, "net_summary_interval": 0.2}


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(**FAST) as simulator:
        yield simulator


@pytest.fixture
async def session(sim: Simulator) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(env=sim.info(), name="validation") as opened:
        assert await opened.wait_for_node(sim.node.address, timeout=5)
        yield opened


# --- bad input, nothing sent -------------------------------------------------------------------


async def test_bad_input_is_refused_before_anything_is_sent(
    sim: Simulator, session: AsyncSession
) -> None:
    node = sim.node.address
    assert session._conn is not None
    published = session._conn.stats.published
    with pytest.raises(ValidationError, match="not a valid Ratio1 address"):
        await session.create_pipeline(node="0xai_not-a-real-key", name="p")
    with pytest.raises(ValidationError, match="not a valid Ratio1 address"):
        await session.wait_for_node("0xai_AAAA")
    with pytest.raises(ValidationError):
        session.payloads(node="aixp_zzz")
    with pytest.raises(ValidationError):
        session.get_eth_address_by_addr("0xai_x")
    with pytest.raises(ValidationError, match="must be one of"):
        await session.create_web_app(node=node, signature="NOT_A_WEB_APP")
    with pytest.raises(ValidationError, match="must be one of"):
        await session.create_web_app(node=node, signature=PLUGIN_SIGNATURES.CUSTOM_EXEC_01)
    with pytest.raises(ValidationError, match="tunnel_engine"):
        await session.create_web_app(node=node, tunnel_engine="localtunnel")
    with pytest.raises(ValidationError, match="vcs_data"):
        await session.create_worker_web_app(node=node)
    with pytest.raises(ValidationError, match="endpoint"):
        await session.create_custom_webapi(node=node, endpoints=[{"function": lambda p: 1}])
    with pytest.raises(ValidationError, match=r"config\.when is a datetime"):
        await session.create_pipeline(node=node, name="p", config={"when": dt.datetime.now()})
    with pytest.raises(ValidationError, match="needs node="):
        await session.create_chain_dist_custom_job("return 1", "return 1", {}, "return 1",
                                                   "return 1", 1)  # fmt: skip

    pipeline = await session.create_pipeline(node=node, name="p")
    with pytest.raises(ValidationError, match="plugin signature"):
        pipeline.create_plugin_instance(signature="custom exec", instance_id="a")
    with pytest.raises(ValidationError, match="plugin signature"):
        pipeline.create_plugin_instance(signature="", instance_id="a")
    with pytest.raises(ValidationError, match="instance_id"):
        pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="")
    with pytest.raises(ValidationError, match=r"config\.X is a set"):
        pipeline.create_plugin_instance(signature="S_01", instance_id="a", config={"X": {1, 2}})
    with pytest.raises(ValidationError, match="NaN"):
        pipeline.create_plugin_instance(signature="S_01", instance_id="a", ratio=float("nan"))
    with pytest.raises(ValidationError, match="JSON keys are text"):
        pipeline.update_acquisition_parameters({"NESTED": {1: "one"}})
    with pytest.raises(ValidationError, match="imports are not allowed"):
        pipeline.create_custom_plugin_instance(instance_id="c", custom_code="import os\nreturn 1")
    with pytest.raises(ValidationError, match="`open` is not allowed"):
        pipeline.create_custom_plugin_instance(instance_id="c", custom_code="return open('x')")
    with pytest.raises(ValidationError, match="syntax error"):
        pipeline.create_custom_plugin_instance(instance_id="c", custom_code="return (")
    with pytest.raises(ValidationError, match="nr_remote_worker_nodes"):
        pipeline.create_chain_dist_custom_plugin_instance(
            main_node_process_real_time_collected_data="return 1",
            main_node_finish_condition="return 1",
            main_node_aggregate_collected_data="return 1",
            worker_node_code="return 1",
            nr_remote_worker_nodes=0,
        )
    with pytest.raises(ValidationError, match="timeout must be positive"):
        await pipeline.wait_exec(custom_code="return 1", timeout=0)
    instance = pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
    with pytest.raises(ValidationError, match="already exists"):
        pipeline.create_plugin_instance(signature="sample_plugin_01", instance_id="a")
    with pytest.raises(ValidationError, match=r"config\.X"):
        instance.update_instance_config({"X": object()})
    with pytest.raises(ValidationError, match=r"payload\.when"):
        await instance.send_instance_command("GO", payload={"when": dt.date.today()})
    with pytest.raises(ValidationError):
        await pipeline.send_pipeline_command("")
    # nothing left the session; the node saw no command
    assert sim.node.commands == [] and sim.node.stats.commands == 0
    assert session._conn.stats.published == published
    assert len(pipeline.instances) == 1


async def test_custom_code_forms(session: AsyncSession, sim: Simulator, tmp_path: Path) -> None:
    pipeline = await session.create_pipeline(node=sim.node.address, name="code")
    script = tmp_path / "job.py"
    script.write_text("return 7\n", encoding="utf-8")
    from_file = pipeline.create_custom_plugin_instance(instance_id="f", custom_code=str(script))
    assert decode_code(from_file.proposed_config["CODE"]) == "return 7\n"  # type: ignore[index]
    chain = pipeline.create_chain_dist_custom_plugin_instance(
        main_node_process_real_time_collected_data=(
            DistributedCustomCodePresets.PROCESS_REAL_TIME_COLLECTED_DATA__KEEP_IN_NODE_COLLECTED_DATA
        ),
        main_node_finish_condition=(
            DistributedCustomCodePresets.FINISH_CONDITION___AGGREGATED_DATA_MORE_THAN_X
        ),
        main_node_aggregate_collected_data="aggregate_collected_data___aggregate_collected_data",
        worker_node_code="return plugin.node_id",
        nr_remote_worker_nodes=2,
    )
    config = chain.proposed_config
    assert config is not None and chain.signature == PLUGIN_SIGNATURES.CHAIN_DIST_CUSTOM_JOB_01
    assert decode_code(config["CUSTOM_CODE_PROCESS_REAL_TIME_COLLECTED_DATA"]) == "return data"
    assert decode_code(config["CUSTOM_CODE_AGGREGATE_COLLECTED_DATA"]) == (
        "return sum(collected_data.values(), [])"
    )
    assert config["NR_REMOTE_NODES"] == 2 and config["NODE_PIPELINE_CONFIG"] == {
        "stream_type": "Void"
    }
    job, inst = await session.create_chain_dist_custom_job(
        "return data", "return True", {"X": 3}, "return collected_data", "return 1", 1,
        node=sim.node.alias, deploy=True,
    )  # fmt: skip
    assert inst.deployed and inst.config["FINISH_CONDITION_KWARGS"] == {"X": 3}
    assert job.name.startswith("chain_dist_")


# --- settings and environment ----------------------------------------------------------------


def test_settings_come_from_arguments_then_the_official_variables() -> None:
    with pytest.raises(ValidationError, match="EE_MQTT_HOST"):
        resolve_settings(env={})
    env = {
        "EE_MQTT_HOST": "mqtt.example",
        "EE_HOST": "ee.example",  # beats EE_MQTT_HOST (the SDK's order)
        "EE_MQTT_PORT": "1999",
        "EE_MQTT_USER": "u",
        "EE_MQTT": "secret-password",
        "EE_ROOT_TOPIC": "custom",
        "EE_SDK_ALIAS": "from-env",
        "EE_MQTT_COMMAND_QOS": "1",
        "EE_DISABLE_ADDRESSED_PAYLOAD_SUBS": "yes",
    }
    settings = resolve_settings(env=env)
    assert (settings.host, settings.port, settings.user) == ("ee.example", 1999, "u")
    assert settings.password == "secret-password" and settings.root_topic == "custom"
    assert settings.name == "from-env" and settings.command_qos == 1
    assert not settings.addressed_payloads and not settings.secured
    assert "secret-password" not in repr(settings)
    explicit = resolve_settings(
        host="h", port=1, user="x", pwd="y", root_topic="r", name="n", env=env
    )
    assert (explicit.host, explicit.port, explicit.user, explicit.password) == ("h", 1, "x", "y")
    assert explicit.root_topic == "r"  # an explicit argument beats EE_ROOT_TOPIC
    assert resolve_settings(env={"EE_MQTT_HOST": "h", "EE_SECURED": "TRUE"}).port == 8883
    assert resolve_settings(env={"EE_MQTT_HOST": "h", "EE_SECURED": "yes"}).port == 1883
    assert resolve_settings(host="h", env={}).name.startswith("tether-")
    with pytest.raises(ValidationError, match="port"):
        resolve_settings(host="h", port=70000, env={})
    with pytest.raises(ValidationError, match="EE_MQTT_PORT"):
        resolve_settings(env={"EE_MQTT_HOST": "h", "EE_MQTT_PORT": "x"})
    with pytest.raises(ValidationError, match="EE_MQTT_COMMAND_QOS"):
        resolve_settings(env={"EE_MQTT_HOST": "h", "EE_MQTT_COMMAND_QOS": "3"})
    with pytest.raises(ValidationError, match="CA file"):
        resolve_settings(host="h", secured=True, cert_path="/nonexistent/ca.pem", env={})
    with pytest.raises(ValidationError, match="root topic"):
        resolve_settings(host="h", root_topic="a/#", env={})
    tls = resolve_settings(host="h", secured=True, env={}).tls_context()
    assert tls is not None and tls.check_hostname


async def test_environment_only_session_and_no_home_files(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name, value in sim.info().items():
        monkeypatch.setenv(name, value)
    async with AsyncSession() as session:  # everything from the official variable names
        assert await session.wait_for_node(sim.node.alias, timeout=5)
        assert session.settings.user == sim.username
    written = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
    assert written == []  # nothing written to HOME or the working directory


async def test_identity_from_a_pem_path(sim: Simulator, tmp_path: Path) -> None:
    pem = tmp_path / "keys" / "me.pem"
    pem.parent.mkdir()
    first = AsyncSession(env=sim.info(), pem_path=pem)
    assert pem.is_file() and stat.S_IMODE(pem.stat().st_mode) == 0o600
    second = AsyncSession(env=sim.info(), pem_path=pem)
    assert first.address == second.address == Identity.from_pem(pem.read_text()).address
    locked = tmp_path / "locked.pem"
    protected = AsyncSession(env=sim.info(), pem_path=locked, pem_password="pw")
    assert "ENCRYPTED" in locked.read_text()
    assert AsyncSession(env=sim.info(), pem_path=locked, pem_password="pw").address == (
        protected.address
    )
    with pytest.raises(ValidationError):
        AsyncSession(env=sim.info(), pem_path=locked, pem_password="wrong")
    with pytest.raises(ValidationError, match="not both"):
        AsyncSession(env=sim.info(), pem_path=pem, identity=Identity.generate())
    mine = Identity.from_seed("mine")
    assert AsyncSession(env=sim.info(), identity=mine).address == mine.address
    # default: ephemeral, a new address each time
    assert AsyncSession(env=sim.info()).address != AsyncSession(env=sim.info()).address
    with pytest.raises(ValidationError):
        AsyncSession(env=sim.info(), online_timeout=0)
    with pytest.raises(ValidationError):
        AsyncSession(env=sim.info(), on_payload="not callable")  # type: ignore[arg-type]


async def test_credentials_never_leak(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {**sim.info(), "EE_MQTT": "wrong-password-123"}
    session = AsyncSession(env=env, connect_timeout=2)
    assert "wrong-password-123" not in repr(session)
    with pytest.raises(MQTTAuthenticationError) as caught:
        await session.connect()
    assert "wrong-password-123" not in str(caught.value)
    assert "wrong-password-123" not in caplog.text
    await session.close()
    async with AsyncSession(env=sim.info()) as good:
        assert await good.wait_for_node(sim.node.address, timeout=5)
    assert sim.password not in caplog.text and sim.password not in repr(good)
    assert os.environ.get("EE_MQTT") != "wrong-password-123"
