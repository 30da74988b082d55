"""The simulator's one MQTT connection: publishes for every simulated job, and listens.

It plays two parts of a real cluster at once: the jobs' own clients (they publish settings and
logs, and obey ``…/set``) and the leader's ``mqtt_to_db_streaming`` (it copies data and logs
into the database the API reads). Messages are handled one at a time, in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

import aiomqtt

__all__ = ["Incoming", "MqttLink"]

logger = logging.getLogger("tether.testing.pioreactor")

Incoming = Callable[[str, bytes, bool], Awaitable[None]]
"""Handler of one received message: ``(topic, payload, retain)``."""


class MqttLink:
    """A long-lived aiomqtt client owned by a task; :meth:`publish` is safe from any task."""

    def __init__(
        self,
        host: str,
        port: int,
        subscriptions: Sequence[tuple[str, int]],
        on_message: Incoming,
    ) -> None:
        self.host = host
        self.port = port
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._failure: BaseException | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe; raises if the broker cannot be reached."""
        self._task = asyncio.create_task(self._run(), name="pioreactor-sim-mqtt")
        waiter = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if waiter not in done:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
            await self.stop()
            if self._failure is not None:
                raise ConnectionError(
                    f"cannot reach the MQTT broker at {self.host}:{self.port}: {self._failure}"
                ) from self._failure
            raise ConnectionError(f"no answer from the MQTT broker at {self.host}:{self.port}")

    async def _run(self) -> None:
        try:
            async with aiomqtt.Client(
                self.host,
                self.port,
                identifier=f"tether-pioreactor-sim-{uuid.uuid4().hex[:10]}",
                max_queued_incoming_messages=100_000,
            ) as client:
                for topic, qos in self._subscriptions:
                    await client.subscribe(topic, qos=qos)
                self._client = client
                self._ready.set()
                async for message in client.messages:
                    payload = message.payload
                    data = payload.encode() if isinstance(payload, str) else bytes(payload)
                    try:
                        await self._on_message(message.topic.value, data, bool(message.retain))
                    except Exception:
                        logger.exception("simulator failed to handle %s", message.topic.value)
        except aiomqtt.MqttError as exc:
            self._failure = exc
        finally:
            self._client = None

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False
    ) -> None:
        """Publish one message; silently skipped once the link is closed."""
        client = self._client
        if client is None:
            return
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=5.0)
        except aiomqtt.MqttError as exc:
            logger.warning("simulator could not publish %s: %s", topic, exc)

    async def stop(self) -> None:
        """Disconnect and end the reader task. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
