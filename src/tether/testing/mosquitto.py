"""Run the real ``mosquitto`` broker on loopback, for tests and benchmarks.

:class:`Mosquitto` writes a config into a temporary directory (one listener on 127.0.0.1,
anonymous access, no persistence), starts the binary, waits until it accepts connections and
stops it by PID. Use it from sync code (``start()`` / ``stop()``) or as an async context
manager.

Example::

    if mosquitto_path() is not None:
        with Mosquitto() as broker:          # or: async with Mosquitto() as broker:
            print(broker.address)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["Mosquitto", "MosquittoError", "mosquitto_path"]

_FALLBACK_PATHS = (
    "/usr/sbin/mosquitto",
    "/usr/local/sbin/mosquitto",
    "/opt/homebrew/sbin/mosquitto",
)


class MosquittoError(RuntimeError):
    """mosquitto is missing, or did not start; the message includes its log."""


def mosquitto_path() -> str | None:
    """Path of the ``mosquitto`` binary (``PATH``, then the usual sbin folders), or ``None``."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in _FALLBACK_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """A mosquitto process listening on 127.0.0.1.

    Args:
        port: the port; ``0`` picks a free one (retried if another process takes it first).
        max_queued_messages: mosquitto's per-client queue bound (its default is 1000).
        extra_config: more lines for ``mosquitto.conf``.
        binary: the executable; default :func:`mosquitto_path`.
        startup_timeout: seconds to wait for the listener.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        port: int = 0,
        *,
        max_queued_messages: int | None = None,
        extra_config: str = "",
        binary: str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        self._requested_port = port
        self._port: int | None = None
        self._max_queued = max_queued_messages
        self._extra = extra_config
        self._binary = binary
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._dir: Path | None = None

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self._process is not None else "stopped"
        where = f" {self.address}" if self._port is not None else ""
        return f"<Mosquitto{where} {state}>"

    @property
    def port(self) -> int:
        """The port mosquitto listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("mosquitto is not started")
        return self._port

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self._process.pid if self._process is not None else None

    def info(self) -> dict[str, str]:
        """Where to reach the broker: ``{"MQTT": "host:port"}``."""
        return {"MQTT": self.address}

    def log(self) -> str:
        """What mosquitto wrote to its log so far."""
        if self._dir is None:
            return ""
        path = self._dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        """Start mosquitto and wait until it accepts connections (blocking)."""
        if self._process is not None:
            return
        binary = self._binary or mosquitto_path()
        if binary is None:
            raise MosquittoError("mosquitto is not installed (apt-get install mosquitto)")
        self._dir = Path(tempfile.mkdtemp(prefix="tether-mosquitto-"))
        attempts = 1 if self._requested_port else 5
        last_log = ""
        for _ in range(attempts):
            port = self._requested_port or _free_port(self.host)
            if self._launch(binary, port):
                self._port = port
                return
            last_log = self.log()
        self._cleanup()
        raise MosquittoError(f"mosquitto did not start; its log:\n{last_log}")

    def _launch(self, binary: str, port: int) -> bool:
        assert self._dir is not None
        lines = [
            f"listener {port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to "mosquitto" and cannot read us
        if self._max_queued is not None:
            lines.append(f"max_queued_messages {self._max_queued}")
        if self._extra:
            lines.append(self._extra)
        config = self._dir / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        self._log = (self._dir / "mosquitto.log").open("wb")
        try:
            process = subprocess.Popen(
                [binary, "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            self._terminate()
            self._cleanup()
            raise MosquittoError(f"cannot run {binary!r}: {exc}") from exc
        self._process = process
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _accepts(self.host, port):
                return True
            time.sleep(0.02)
        self._terminate()
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL after 5 s) and remove its files. Idempotent."""
        self._terminate()
        self._cleanup()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
