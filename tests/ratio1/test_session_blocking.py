"""The blocking ``Session`` (its own loop thread) against a simulator running in another thread."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tether import BlockingJob, FacadeDeadlockError
from tether.ratio1 import (
    DeployTimeoutError,
    Heartbeat,
    Instance,
    NodeOfflineError,
    Payload,
    Pipeline,
    Session,
    SessionClosedError,
)
from tether.testing import running
from tether.testing.mosquitto import Mosquitto
from tether.testing.ratio1 import Simulator

FAST: dict[str, Any] = {
    "heartbeat_interval": 0.2,
    "net_summary_interval": 0.2,
    "process_delay": 0.1,
    "config_push_delay": 0.05,
}


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def network(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    kwargs: dict[str, Any] = dict(FAST)
    if request.param == "mosquitto":
        broker: Mosquitto = request.getfixturevalue("mosquitto")
        kwargs.update(broker=broker.address, root_topic=f"b{uuid.uuid4().hex[:10]}")
    with running(Simulator(**kwargs)) as sim:
        yield sim


def open_session(sim: Simulator, **kwargs: Any) -> Session:
    options: dict[str, Any] = {
        "host": sim.broker_host,
        "port": sim.broker_port,
        "user": sim.username,
        "pwd": sim.password,
        "root_topic": sim.topics.root,
        "name": "tether-blocking",
        "env": {},
    }
    options.update(kwargs)
    return Session(**options)


def _until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_blocking_session_end_to_end(network: Simulator) -> None:
    node = network.node
    beats: list[tuple[Any, str, Heartbeat]] = []
    data: list[tuple[Any, Payload]] = []
    with open_session(network, on_heartbeat=lambda s, n, hb: beats.append((s, n, hb))) as session:
        assert session.connected and session.name == "tether-blocking"
        assert session.wait_for_node(node.address, timeout=5)
        assert session.wait_for_any_node(timeout=1)
        assert session.get_active_nodes() == [node.address]
        assert session.get_node_alias(node.address) == node.alias
        assert _until(lambda: bool(beats))
        assert beats[0][0] is session and beats[0][1] == node.address  # the blocking session
        report = session.get_network_known_nodes(timeout=5)
        assert [n.alias for n in report.nodes] == [node.alias]

        pipeline = session.create_pipeline(node=node.alias, name="bp")
        assert isinstance(pipeline, Pipeline) and pipeline.session is session
        instance = pipeline.create_plugin_instance(
            signature="SAMPLE_PLUGIN_01",
            instance_id="a",
            on_data=lambda pipe, payload: data.append((pipe, payload)),
        )
        assert isinstance(instance, Instance) and instance.pipeline is pipeline
        job = pipeline.deploy.start(timeout=5)
        assert isinstance(job, BlockingJob)
        result = job.wait()
        assert result.confirmed and pipeline.was_last_operation_successful
        assert instance.deployed and instance.config == {}
        with session.payloads(pipeline="bp") as payloads:
            first = next(iter(payloads))
        assert first.instance == "a" and first.verified
        assert _until(lambda: bool(data))
        assert data[0][0] is pipeline  # callbacks get the blocking pipeline
        instance.update_instance_config(EXTRA=1)
        assert pipeline.deploy(timeout=5).command == "BATCH_UPDATE_PIPELINE_INSTANCE"
        reply = instance.send_instance_command_and_wait_for_response_payload("PING")
        assert reply["COMMAND_PARAMS"]["PING"] is True
        assert pipeline.wait_exec(custom_code="return 40 + 2", timeout=5) == (42, None)
        # node reports are eventually consistent: a push sent before the wait_exec cleanup may
        # still be on its way, so ask until the temporary instance is gone
        assert _until(
            lambda: (
                {(a.app, a.instance_id) for a in session.get_nodes_apps(node=node.alias)}
                == {("bp", "a")}
            )
        )
        assert session.stats.rejected == 0
    assert session.closed
    assert "bp" in node.pipelines  # close() leaves pipelines running by default


def test_blocking_close_pipelines_and_retry(network: Simulator) -> None:
    node = network.node
    session = open_session(network)
    try:
        assert session.wait_for_node(node.address, timeout=5)
        pipeline = session.create_pipeline(node=node.address, name="bq")
        pipeline.create_custom_plugin_instance(instance_id="c", custom_code="return 1")
        node.drop_confirmations = True
        with pytest.raises(DeployTimeoutError):
            pipeline.deploy(timeout=0.4)
        node.drop_confirmations = False
        assert pipeline.deploy(timeout=5).confirmed
        with pytest.raises(NodeOfflineError):
            session.create_pipeline(node="not-a-node", name="x")
    finally:
        session.close(close_pipelines=True)
    assert "bq" not in node.pipelines
    with pytest.raises(SessionClosedError):
        session.create_pipeline(node=node.address, name="after")


def test_blocking_callbacks_cannot_block(network: Simulator) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def on_heartbeat(session: Session, node: str, beat: Heartbeat) -> None:
        if done.is_set():
            return
        try:
            session.wait_for_node(node, timeout=1)
        except FacadeDeadlockError as exc:
            errors.append(exc)
        done.set()

    with open_session(network, on_heartbeat=on_heartbeat) as session:
        assert done.wait(5)
        assert session.stats.callback_errors == 0
    assert len(errors) == 1


def test_run_returns_after_its_wait(network: Simulator) -> None:
    session = open_session(network)
    session.wait(seconds=0.05)
    assert session.closed
    other = open_session(network)
    ticks = iter([True, False])
    other.run(lambda: next(ticks), close_session=False)
    assert not other.closed
    other.sleep(0.01)
    assert other.closed
