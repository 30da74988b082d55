"""The official SDK's reference scenario, run through tether's ``Session`` / ``AsyncSession``.

:func:`run_tether_scenario` repeats :func:`run_official_scenario` step by step with tether's
API (same names, same arguments) and produces the same transcript keys. The transcripts are
compared with the official SDK's :data:`EXPECTED_TRANSCRIPT`, on the embedded broker and on
mosquitto.

Intended differences (none of them shows in the transcript):

- ``Session`` does not block in its constructor until the first NET_MON_01 (the official one
  waits up to 30 s); the scenario's first step, ``wait_for_node``, does the waiting.
- Every incoming message is verified; the scenario also checks that nothing was dropped.
- ``wait_exec`` removes its temporary ``REST_CUSTOM_EXEC_01`` instance after the result (one
  more ``UPDATE_CONFIG`` confirmed by code 1, which the transcript's set of codes already has).
- ``threads_left``: tether starts no threads of its own per session (the blocking facade's one
  loop thread is shared and long-lived, and is not counted).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tether.ratio1 import AsyncSession, Session
from tether.testing import running
from tether.testing.mosquitto import Mosquitto
from tether.testing.ratio1 import Simulator

from .test_conformance_official import EXEC_CODE, EXPECTED_TRANSCRIPT, PIPELINE, SESSION_NAME


def _settle(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _new_threads(before: set[threading.Thread]) -> list[str]:
    return sorted(
        t.name
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith(("tether-loop", "asyncio_"))
    )


def run_tether_scenario(
    *, host: str, port: int, user: str, password: str, node_address: str, root_topic: str,
    step_timeout: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    """The reference scenario with the blocking ``tether.ratio1.Session`` (same steps)."""
    session_payloads: list[tuple[str | None, str | None, str | None]] = []
    notifications: list[tuple[int | None, str | None]] = []
    instance_data: list[dict[str, Any]] = []
    before = set(threading.enumerate())

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
        encrypt_comms=True,
        root_topic=root_topic,
        on_payload=on_payload,
        on_notification=on_notification,
        env={},
    )
    transcript: dict[str, Any] = {}
    try:
        transcript["node_online"] = bool(session.wait_for_node(node_address, timeout=step_timeout))
        transcript["node_alias"] = session.get_node_alias(node_address)
        transcript["net_mon_seen"] = _settle(
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
        transcript["payloads_received"] = _settle(lambda: len(instance_data) >= 3, step_timeout)
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
        params = dict(response.get("COMMAND_PARAMS") or {})
        params.pop("SDK_REQUEST", None)
        transcript["command_response"] = params

        result, error = pipeline.wait_exec(custom_code=EXEC_CODE, timeout=step_timeout)
        transcript["wait_exec"] = {"result": result, "error": error}

        pipeline.close(timeout=step_timeout)
        transcript["close_ok"] = pipeline.was_last_operation_successful
        mine = [code for code, pipe in notifications if pipe == PIPELINE]
        transcript["notification_codes"] = sorted(set(mine), key=mine.index)
        stats = session.stats
    finally:
        session.close()
    transcript["threads_left"] = _new_threads(before)
    assert stats.rejected == 0, stats
    assert stats.verified == stats.received, stats
    return transcript


async def run_tether_scenario_async(
    *, host: str, port: int, user: str, password: str, node_address: str, root_topic: str,
    step_timeout: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    """The reference scenario with ``AsyncSession``; instance data read from a typed stream."""
    session_payloads: list[tuple[str | None, str | None, str | None]] = []
    before = set(threading.enumerate())
    transcript: dict[str, Any] = {}

    def on_payload(sess: Any, node: str, pipe: Any, sig: Any, inst: Any, data: Any) -> None:
        session_payloads.append((pipe, sig, inst))

    async with AsyncSession(
        host=host,
        port=port,
        user=user,
        pwd=password,
        name=SESSION_NAME,
        root_topic=root_topic,
        on_payload=on_payload,
        env={},
    ) as session:
        async with session.notifications(pipeline=PIPELINE) as notes:
            transcript["node_online"] = await session.wait_for_node(
                node_address, timeout=step_timeout
            )
            transcript["node_alias"] = session.get_node_alias(node_address)
            async with session.payloads(signature="NET_MON_01") as summaries:
                while not any(sig == "NET_MON_01" for _, sig, _ in session_payloads):
                    await asyncio.wait_for(anext(summaries), step_timeout)
            transcript["net_mon_seen"] = True

            pipeline = await session.create_pipeline(node=node_address, name=PIPELINE)
            instance = pipeline.create_plugin_instance(
                signature="SAMPLE_PLUGIN_01", instance_id="inst_a", config={"PROCESS_DELAY": 0.2}
            )
            async with session.payloads(pipeline=PIPELINE, instance="inst_a") as stream:
                await pipeline.deploy(timeout=step_timeout)
                transcript["deploy_ok"] = pipeline.was_last_operation_successful
                data: list[dict[str, Any]] = []
                async with asyncio.timeout(step_timeout):
                    async for payload in stream:
                        data.append(dict(payload))
                        if len(data) == 3:
                            break
            transcript["payloads_received"] = len(data) == 3
            transcript["payload_path"] = data[0]["EE_PAYLOAD_PATH"]
            transcript["payload_iter_increasing"] = [d["ITER"] for d in data] == [1, 2, 3]
            transcript["payload_echo"] = data[0]["CONFIG_ECHO"]

            response = await instance.send_instance_command_and_wait_for_response_payload(
                "PING", timeout_command=step_timeout
            )
            params = dict(response["COMMAND_PARAMS"])
            params.pop("SDK_REQUEST")
            transcript["command_response"] = params

            result, error = await pipeline.wait_exec(custom_code=EXEC_CODE, timeout=step_timeout)
            transcript["wait_exec"] = {"result": result, "error": error}
            await pipeline.close(timeout=step_timeout)
            transcript["close_ok"] = pipeline.was_last_operation_successful
        codes = [n.code async for n in notes]  # the stream ended when it was left
        stats = session.stats
    mine = [c for c in codes if c is not None]
    transcript["notification_codes"] = sorted(set(mine), key=mine.index)
    transcript["threads_left"] = _new_threads(before)
    assert stats.rejected == 0 and stats.verified == stats.received, stats
    return transcript


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
async def network(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    """The simulator on the embedded broker, or joined to the shared mosquitto."""
    kwargs: dict[str, Any] = {"heartbeat_interval": 0.5, "net_summary_interval": 0.5}
    if request.param == "mosquitto":
        broker: Mosquitto = request.getfixturevalue("mosquitto")
        kwargs.update(broker=broker.address, root_topic=f"conf{uuid.uuid4().hex[:8]}")
    async with Simulator(**kwargs) as sim:
        yield sim


def _args(sim: Simulator) -> dict[str, Any]:
    return {
        "host": sim.broker_host,
        "port": sim.broker_port,
        "user": sim.username,
        "password": sim.password,
        "node_address": sim.node.address,
        "root_topic": sim.topics.root,
    }


async def test_async_session_gives_the_official_transcript(network: Simulator) -> None:
    transcript = await asyncio.wait_for(run_tether_scenario_async(**_args(network)), 60)
    assert transcript == EXPECTED_TRANSCRIPT
    assert network.node.stats.bad_signatures == 0
    actions = [c.action for c in network.node.commands]
    # deploy, command, wait_exec deploy, wait_exec cleanup, close
    assert actions == [
        "UPDATE_CONFIG",
        "UPDATE_PIPELINE_INSTANCE",
        "UPDATE_CONFIG",
        "UPDATE_CONFIG",
        "ARCHIVE_CONFIG",
    ]
    assert all(c.encrypted and c.verified for c in network.node.commands)


@pytest.mark.parametrize(
    "broker", ["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)]
)
def test_blocking_session_gives_the_official_transcript(
    broker: str, request: pytest.FixtureRequest
) -> None:
    kwargs: dict[str, Any] = {"heartbeat_interval": 0.5, "net_summary_interval": 0.5}
    if broker == "mosquitto":
        mosquitto: Mosquitto = request.getfixturevalue("mosquitto")
        kwargs.update(broker=mosquitto.address, root_topic=f"conf{uuid.uuid4().hex[:8]}")
    with running(Simulator(**kwargs)) as sim:
        transcript = run_tether_scenario(**_args(sim))
        stats = sim.node.stats
    assert transcript == EXPECTED_TRANSCRIPT
    assert stats.bad_signatures == 0
    assert stats.config_replies >= 1  # the session asked for the configs, like the official one
