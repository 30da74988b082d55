"""A simulated Ratio1 edge network: nodes that speak the real protocol over MQTT.

:class:`Simulator` starts an embedded MQTT broker (or joins one you give it) and runs ``nodes``
simulated edge nodes with deterministic identities. Each node publishes signed v2 heartbeats,
the first ``supervisors`` nodes publish NET_MON_01 summaries, and every node answers
``GET_CONFIG`` with an encrypted ``SET_CONFIG``, applies pipeline / instance updates with the
notification codes the official SDK waits for, runs instance commands (echoing
``SDK_REQUEST``), stores ``PIPELINE_COMMAND``, archives pipelines, emits payloads and runs
``CUSTOM_EXEC_01`` / ``REST_CUSTOM_EXEC_01`` code in a restricted runner (see
:mod:`tether.testing.ratio1._sandbox` for its limits). Incoming signatures are verified; a
badly signed command is dropped on a ``secured`` node and answered with -5000 otherwise.

The official ``ratio1.Session`` works against it (see the conformance tests)::

    async with Simulator(heartbeat_interval=1, net_summary_interval=1) as sim:
        env = sim.info()          # MQTT, EE_MQTT_HOST, EE_MQTT_PORT, EE_MQTT_USER, EE_MQTT, ...
        node = sim.nodes[0]
        node.drop_confirmations = {100}      # misbehave: withhold PLUGIN_CONFIG_OK
        await sim.go_offline(0)
        await sim.come_online(0)
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence

from tether.ratio1._protocol.envelope import DEFAULT_ROOT_TOPIC, Topics
from tether.ratio1._protocol.identity import Identity
from tether.testing._base import SimulatorBase
from tether.testing.broker import Broker
from tether.testing.ratio1._node import NodeStats, SimulatedNode

__all__ = ["NodeStats", "SimulatedNode", "Simulator"]


class Simulator(SimulatorBase):
    """A set of simulated Ratio1 edge nodes on an MQTT broker.

    Args:
        host: where the embedded broker listens (``port=0``: the kernel picks).
        port: where the embedded broker listens (``port=0``: the kernel picks).
        broker: ``"host:port"`` of an existing broker to join instead of starting one.
        nodes: how many nodes (1..n).
        supervisors: how many of them (the first ones) publish NET_MON_01.
        heartbeat_interval: seconds between heartbeats / summaries.
        net_summary_interval: seconds between heartbeats / summaries.
        seed: identities are derived from it (``Identity.from_seed(f"{seed}/node/{i}")``).
        aliases: node aliases (default ``sim-node-01``, ``sim-node-02``, ...).
        root_topic: the topic root (``naeural``).
        username: MQTT credentials (the embedded broker requires them).
        password: MQTT credentials (the embedded broker requires them).
        secured: node security: a secured node drops badly signed commands and
        whitelist: node security: a secured node drops badly signed commands and
            answers only whitelisted clients.
        heartbeat_version: ``"v2"`` (compressed) or ``"v1"``.
        compress_net_summary: send NET_MON_01 in the v2 compressed form.
        process_delay: seconds between payloads of an instance without ``PROCESS_DELAY``.
        custom_code_timeout: time limit of one custom-code run.
        config_push_delay: delay of the ``SET_CONFIG`` push after a pipeline change.
        drop_confirmations, forge_signatures, unsigned, fail_deploys, payload_rate,
            encrypt_payloads: initial misbehaviour switches of every node
            (see :class:`SimulatedNode`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        broker: str | None = None,
        nodes: int = 1,
        supervisors: int = 1,
        heartbeat_interval: float = 5.0,
        net_summary_interval: float = 5.0,
        seed: str = "tether-simulator",
        aliases: Sequence[str] | None = None,
        root_topic: str = DEFAULT_ROOT_TOPIC,
        username: str = "tether",
        password: str = "tether-sim",
        secured: bool = False,
        whitelist: Iterable[str] = (),
        heartbeat_version: str = "v2",
        compress_net_summary: bool = False,
        process_delay: float = 1.0,
        custom_code_timeout: float = 2.0,
        config_push_delay: float = 0.3,
        drop_confirmations: bool | Collection[int] = False,
        forge_signatures: bool = False,
        unsigned: bool = False,
        fail_deploys: bool = False,
        payload_rate: float | None = None,
        encrypt_payloads: bool = False,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be at least 1")
        if not 0 <= supervisors <= nodes:
            raise ValueError("supervisors must be between 0 and nodes")
        if aliases is not None and len(aliases) != nodes:
            raise ValueError("give one alias per node")
        if heartbeat_version not in ("v1", "v2"):
            raise ValueError("heartbeat_version must be 'v1' or 'v2'")
        if heartbeat_interval <= 0 or net_summary_interval <= 0:
            raise ValueError("intervals must be positive")
        if payload_rate is not None and payload_rate <= 0:
            raise ValueError("payload_rate must be positive")
        self.host = host
        self._requested_port = port
        self._join = _parse_broker(broker) if broker is not None else None
        self._broker: Broker | None = None
        self.heartbeat_interval = heartbeat_interval
        self.net_summary_interval = net_summary_interval
        self.topics = Topics(root_topic)
        self.username = username
        self.password = password
        self.secured = secured
        self.whitelist = tuple(whitelist)
        self.heartbeat_version = heartbeat_version
        self.compress_net_summary = compress_net_summary
        self.process_delay = process_delay
        self.custom_code_timeout = custom_code_timeout
        self.config_push_delay = config_push_delay
        self.drop_confirmations = drop_confirmations
        self.forge_signatures = forge_signatures
        self.unsigned = unsigned
        self.fail_deploys = fail_deploys
        self.payload_rate = payload_rate
        self.encrypt_payloads = encrypt_payloads
        names = (
            list(aliases)
            if aliases is not None
            else [f"sim-node-{i + 1:02d}" for i in range(nodes)]
        )
        self.nodes: tuple[SimulatedNode, ...] = tuple(
            SimulatedNode(
                self,
                index=i,
                identity=Identity.from_seed(f"{seed}/node/{i}"),
                alias=names[i],
                is_supervisor=i < supervisors,
            )
            for i in range(nodes)
        )
        self._started = False

    def __repr__(self) -> str:
        where = f"{self.broker_host}:{self.broker_port}" if self._started else "not started"
        return f"<ratio1.Simulator nodes={len(self.nodes)} broker={where}>"

    # -- where ---------------------------------------------------------------------------------

    @property
    def broker_host(self) -> str:
        """Host of the broker the nodes use."""
        if self._join is not None:
            return self._join[0]
        return self.host

    @property
    def broker_port(self) -> int:
        """Port of the broker the nodes use (known once started)."""
        if self._join is not None:
            return self._join[1]
        if self._broker is None:
            raise RuntimeError("the simulator is not started")
        return self._broker.port

    @property
    def node(self) -> SimulatedNode:
        """The first node."""
        return self.nodes[0]

    def info(self) -> dict[str, str]:
        """Connection settings, with the official SDK's environment variable names.

        ``EE_MQTT`` is the SDK's name for the password; ``EE_SECURED`` is ``"false"`` (no TLS).
        """
        return {
            "MQTT": f"{self.broker_host}:{self.broker_port}",
            "EE_MQTT_HOST": self.broker_host,
            "EE_MQTT_PORT": str(self.broker_port),
            "EE_MQTT_USER": self.username,
            "EE_MQTT": self.password,
            "EE_SECURED": "false",
            "EE_ROOT_TOPIC": self.topics.root,
            "NODE_ADDRESS": self.nodes[0].address,
            "NODE_ALIAS": self.nodes[0].alias,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the broker (unless joining one) and bring every node online."""
        if self._started:
            return
        if self._join is None:
            self._broker = Broker(
                self.host, self._requested_port, users={self.username: self.password}
            )
            await self._broker.start()
        self._started = True
        try:
            await asyncio.gather(*(node.come_online() for node in self.nodes))
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Take every node offline and stop the embedded broker. Idempotent."""
        await asyncio.gather(*(node.go_offline() for node in self.nodes), return_exceptions=True)
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.stop()
        self._started = False

    def _select(self, node: int | SimulatedNode | None) -> list[SimulatedNode]:
        if node is None:
            return list(self.nodes)
        if isinstance(node, int):
            return [self.nodes[node]]
        return [node]

    async def go_offline(self, node: int | SimulatedNode | None = None) -> None:
        """Disconnect one node (index or object) or, by default, all of them."""
        await asyncio.gather(*(n.go_offline() for n in self._select(node)))

    async def come_online(self, node: int | SimulatedNode | None = None) -> None:
        """Reconnect one node or all of them; stored pipelines resume."""
        await asyncio.gather(*(n.come_online() for n in self._select(node)))


def _parse_broker(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"broker must be 'host:port', not {value!r}")
    return host, int(port)
