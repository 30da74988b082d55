"""The leader's task queue: 202 + ``task_id`` answers and the version-specific polling rules.

``GET /unit_api/task_results/<id>`` answers as §3.2 of the reference describes for the
simulated version: ``pending`` / ``pending or not present`` while running (and forever for an
id that was never issued), ``succeeded`` / ``complete`` when done, ``failed`` as HTTP 200 (26.4.4+)
or HTTP 500 in the era's error shape, and results consumed by the first terminal read up to
26.4.2.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import attrs

from tether.testing.pioreactor._contract import Contract

__all__ = ["TaskFailed", "TaskRecord", "TaskStore"]

HUEY_CAUSE = "Huey task failed with an exception."
HUEY_REMEDIATION = "Check logs and retry."


class TaskFailed(Exception):
    """Raised inside a task's work to end it ``failed`` with this message."""


@attrs.define
class TaskRecord:
    """One task: its id, state and outcome."""

    task_id: str
    status: Literal["pending", "succeeded", "failed"] = "pending"
    result: Any = None
    error: str | None = None

    @property
    def result_url_path(self) -> str:
        """Where to poll it."""
        return f"/unit_api/task_results/{self.task_id}"


class TaskStore:
    """Runs task work in the background after ``latency`` seconds and answers polls."""

    def __init__(self, contract: Contract, leader: str, latency: float) -> None:
        self.contract = contract
        self.leader = leader
        self.latency = latency
        self._records: dict[str, TaskRecord] = {}
        self._running: set[asyncio.Task[None]] = set()

    def submit(self, work: Callable[[], Awaitable[Any]]) -> TaskRecord:
        """Start *work* as a task and return its record (still ``pending``)."""
        record = TaskRecord(str(uuid.uuid4()))
        self._records[record.task_id] = record
        runner = asyncio.create_task(self._execute(record, work), name=f"task-{record.task_id}")
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)
        return record

    async def _execute(self, record: TaskRecord, work: Callable[[], Awaitable[Any]]) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        try:
            record.result = await work()
        except TaskFailed as exc:
            record.status, record.error = "failed", str(exc)
        except Exception as exc:  # a huey task that raised
            record.status, record.error = "failed", str(exc) or type(exc).__name__
        else:
            record.status = "succeeded"

    def spawn(self, work: Callable[[], Awaitable[Any]]) -> None:
        """Run *work* in the background without a task id (202-no-task routes)."""

        async def run() -> None:
            try:
                await work()
            except Exception:  # nobody sees the outcome, as on a real leader
                return

        runner = asyncio.create_task(run())
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)

    def get(self, task_id: str) -> TaskRecord | None:
        """The record of *task_id*, if it exists (and was not consumed)."""
        return self._records.get(task_id)

    def accepted_body(self, record: TaskRecord) -> dict[str, Any]:
        """The 202 body announcing *record*."""
        body: dict[str, Any] = {
            "unit": self.leader,
            "task_id": record.task_id,
            "result_url_path": record.result_url_path,
        }
        if self.contract.accepted_status:
            body["status"] = "accepted"
        return body

    def poll(self, task_id: str) -> tuple[int, dict[str, Any]]:
        """Answer ``GET /unit_api/task_results/<task_id>`` as ``(http_status, body)``."""
        contract = self.contract
        path = f"/unit_api/task_results/{task_id}"
        record = self._records.get(task_id)
        if record is None or record.status == "pending":
            return 202, {
                "task_id": task_id,
                "result_url_path": path,
                "status": contract.poll_pending,
            }
        if contract.consume_on_read:
            del self._records[task_id]
        if record.status == "succeeded":
            return 200, {
                "task_id": task_id,
                "result_url_path": path,
                "status": contract.poll_done,
                "result": record.result,
            }
        error = record.error or "Task failed."
        if contract.failed_poll == "ok200":
            return 200, {
                "task_id": task_id,
                "result_url_path": path,
                "status": "failed",
                "error": error,
                "cause": HUEY_CAUSE,
                "remediation": HUEY_REMEDIATION,
            }
        if contract.failed_poll == "flat500":
            return 500, {
                "error": error,
                "status": 500,
                "cause": HUEY_CAUSE,
                "remediation": HUEY_REMEDIATION,
            }
        body: dict[str, Any] = {
            "task_id": task_id,
            "result_url_path": path,
            "status": "failed",
            "error": error,
        }
        if contract.failed_poll == "nested500":
            body["error_info"] = {
                "cause": HUEY_CAUSE,
                "remediation": HUEY_REMEDIATION,
                "status": 500,
            }
        return 500, body

    async def close(self) -> None:
        """Cancel unfinished work."""
        running = list(self._running)
        for runner in running:
            runner.cancel()
        for runner in running:
            with contextlib.suppress(asyncio.CancelledError):
                await runner
