"""How simulated pipeline and agent executions move through their statuses.

An execution advances one *tick* every ``step_seconds`` of simulator time (or one per
poll with ``advance_on_poll``). Tick 0 is ``pending``, ticks 1..N are ``running`` step k of
N, the tick after the last step is terminal (``completed``, or ``failed`` at the planned
step). State is derived lazily whenever a record is read, so nothing runs in the
background.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from tether.testing.moderately._core import BUCKET, SimCore
from tether.testing.moderately._models import ExecutionPlan, Run
from tether.testing.moderately._util import JSON, ApiError, as_obj

TERMINAL = ("completed", "failed", "cancelled")
STATUSES = ("pending", "running", "completed", "failed", "cancelled", "paused")


class ExecutionEngine(SimCore):
    """Mixin: the execution state machine shared by pipeline and agent executions."""

    # ------------------------------------------------------------------ ticks

    def _new_run(self, kind: Any, plan: ExecutionPlan, total_steps: int) -> Run:
        step = plan.step_seconds if plan.step_seconds is not None else self.step_seconds
        total = max(1, plan.steps if plan.steps is not None else total_steps)
        return Run(
            kind=kind, plan=plan, total_steps=total, step_seconds=step, anchor=self._clock.now()
        )

    def _fail_step(self, run: Run) -> int:
        wanted = run.plan.fail_at_step if run.plan.fail_at_step is not None else run.total_steps
        return min(max(1, wanted), run.total_steps)

    def _last_running(self, run: Run) -> int:
        return self._fail_step(run) if run.plan.outcome == "failed" else run.total_steps

    def _end_tick(self, run: Run) -> int:
        return self._last_running(run) + 1

    def _tick(self, run: Run) -> int:
        if run.state != "auto":
            return run.anchor_tick
        if run.step_seconds <= 0:
            return self._end_tick(run)
        elapsed = self._clock.now() - run.anchor
        return run.anchor_tick + int((elapsed + 1e-9) // run.step_seconds)

    def _when(self, run: Run, tick: int) -> float:
        now = self._clock.now()
        if run.state != "auto" or tick <= run.anchor_tick:
            return now
        return min(now, run.anchor + (tick - run.anchor_tick) * run.step_seconds)

    def _rebase(self, run: Run) -> None:
        """Pin the current tick as the anchor (before pausing, polling or re-timing)."""
        run.anchor_tick = min(self._tick(run), self._end_tick(run))
        run.anchor = self._clock.now()

    def _poll(self, execution_id: str) -> None:
        """A GET of one execution: with ``advance_on_poll`` it moves one tick."""
        run = self._runs.get(execution_id)
        if run is None or not self.advance_on_poll or run.state != "auto":
            return
        self._rebase(run)
        run.anchor_tick = min(run.anchor_tick + 1, self._end_tick(run))

    # ------------------------------------------------------------------ observe

    def _observe(self, execution_id: str, record: JSON) -> JSON:
        """Bring *record* up to date with its run; returns the record."""
        run = self._runs.get(execution_id)
        if run is None or run.state in ("done", "manual", "paused"):
            return record
        end = self._end_tick(run)
        tick = min(self._tick(run), end)
        for k in range(run.observed + 1, tick + 1):
            run.stamps[k] = self._clock.iso(self._when(run, k))
        run.observed = max(run.observed, tick)
        if run.kind == "pipeline":
            self._apply_pipeline(record, run, tick)
        else:
            self._apply_agent(record, run, tick)
        if tick >= end:
            run.state = "done"
        return record

    def _observe_kind(self, kind: Any) -> None:
        for execution_id, record in self._db[kind].items():
            self._observe(execution_id, record)

    def _block_name(self, record: JSON, step: int) -> str:
        names: list[str] = record.get("_blocks") or []
        if not names:
            return f"step-{step}"
        return names[(step - 1) % len(names)]

    def _apply_pipeline(self, record: JSON, run: Run, tick: int) -> None:
        end = self._end_tick(run)
        record["totalSteps"] = run.total_steps
        if tick <= 0:
            return
        record["startedAt"] = record.get("startedAt") or run.stamps.get(1)
        if tick < end:
            block = self._block_name(record, tick)
            record["status"] = "running"
            record["currentStep"] = tick
            record["progressData"] = {
                "message": f"Running {block} ({tick}/{run.total_steps})",
                "status": "running",
                "current_block": block,
            }
        elif run.plan.outcome == "failed":
            step = self._fail_step(run)
            block = self._block_name(record, step)
            record["status"] = "failed"
            record["currentStep"] = step
            record["failedAt"] = run.stamps.get(end)
            record["progressData"] = {
                "message": f"Failed at {block} ({step}/{run.total_steps})",
                "status": "failed",
                "current_block": block,
                "error": run.plan.error,
            }
        else:
            record["status"] = "completed"
            record["currentStep"] = run.total_steps
            record["completedAt"] = run.stamps.get(end)
            record["progressData"] = {"message": "Pipeline completed", "status": "completed"}
            summary = record.get("pipelineOutputSummary") or f"Completed {run.total_steps} steps"
            record["pipelineOutputSummary"] = summary
            if record.get("pipelineOutput") is None and record.get("pipelineOutputFileUri") is None:
                output = run.plan.output
                if output is None:
                    output = {
                        "result": "ok",
                        "steps": run.total_steps,
                        "input": _without_directive(record.get("pipelineInput")),
                    }
                self._store_pipeline_output(record, output, run.plan)
        record["updatedAt"] = run.stamps.get(min(tick, end), record["updatedAt"])

    def _thought(self, step: int, total: int) -> str:
        if step == 1:
            return f"Planning how to answer the request in {total} steps."
        return f"Step {step}/{total}: gathering and checking facts."

    def _apply_agent(self, record: JSON, run: Run, tick: int) -> None:
        end = self._end_tick(run)
        if tick <= 0:
            return
        last = min(tick, self._last_running(run))
        record["startedAt"] = record.get("startedAt") or run.stamps.get(1)
        record["thoughts"] = [
            {"text": self._thought(k, run.total_steps), "createdAt": run.stamps.get(k)}
            for k in range(1, last + 1)
        ]
        record["currentStep"] = last
        if tick < end:
            record["status"] = "running"
        elif run.plan.outcome == "failed":
            record["status"] = "failed"
            record["failedAt"] = run.stamps.get(end)
            record["agentOutput"] = None
            record["agentOutputSummary"] = run.plan.error
            record["thoughts"].append(
                {"text": f"Error: {run.plan.error}", "createdAt": run.stamps.get(end)}
            )
        else:
            record["status"] = "completed"
            record["completedAt"] = run.stamps.get(end)
            output = run.plan.output
            if output is None:
                output = {
                    "answer": f"Processed: {record.get('agentInputSummary', '')}",
                    "input": _without_directive(record.get("agentInput")),
                }
            record["agentOutput"] = output
            record["agentOutputSummary"] = f"Completed in {run.total_steps} steps"
        record["updatedAt"] = run.stamps.get(min(tick, end), record["updatedAt"])

    # ------------------------------------------------------------------ transitions

    def _pause(self, execution_id: str, record: JSON) -> None:
        run = self._runs.get(execution_id)
        self._observe(execution_id, record)
        if record["status"] in TERMINAL:
            raise ApiError(400, f"Execution is {record['status']} and cannot be paused")
        if run is not None and run.state == "auto":
            self._rebase(run)
            run.state = "paused"
        now = self._now()
        record["status"] = "paused"
        record["pausedAt"] = now
        record["updatedAt"] = now

    def _resume(self, execution_id: str, record: JSON) -> None:
        run = self._runs.get(execution_id)
        if record["status"] != "paused":
            raise ApiError(400, f"Execution is {record['status']}, not paused")
        now = self._now()
        record["updatedAt"] = now
        if run is not None and run.state == "paused":
            run.anchor = self._clock.now()
            run.state = "auto"
            record["status"] = "running" if run.anchor_tick >= 1 else "pending"
            self._observe(execution_id, record)
        else:
            record["status"] = "running"

    def _cancel(self, execution_id: str, record: JSON, reason: str | None) -> None:
        self._observe(execution_id, record)
        if record["status"] in TERMINAL:
            raise ApiError(400, f"Execution is already {record['status']} and cannot be cancelled")
        run = self._runs.get(execution_id)
        if run is not None:
            run.state = "done"
        now = self._now()
        record["status"] = "cancelled"
        record["cancelledAt"] = now
        record["updatedAt"] = now
        if "progressData" in record:
            progress = dict(as_obj(record.get("progressData")) or {})
            progress["status"] = "cancelled"
            progress["message"] = f"Cancelled: {reason}" if reason else "Cancelled"
            if reason:
                progress["cancelReason"] = reason
            record["progressData"] = progress

    def _take_over(self, execution_id: str) -> None:
        """A worker PATCHed progress fields: stop the automatic progression."""
        run = self._runs.get(execution_id)
        if run is not None and run.state in ("auto", "paused"):
            run.state = "manual"

    # ------------------------------------------------------------------ output

    def _store_pipeline_output(
        self, record: JSON, output: JSON, plan: ExecutionPlan | None
    ) -> None:
        raw = json.dumps(output, separators=(",", ":")).encode()
        storage = plan.output_storage if plan is not None else None
        if storage is None:
            storage = "s3" if len(raw) > self.inline_output_limit else "inline"
        compression = plan.compression if plan is not None else "gzip"
        if storage == "inline":
            record["pipelineOutput"] = output
            record["pipelineOutputFileUri"] = None
            return
        execution_id = record["pipelineExecutionId"]
        if compression == "gzip":
            key = f"outputs/{execution_id}.json.gz"
            self._store_object(key, gzip.compress(raw, mtime=0), "application/gzip")
        else:
            key = f"outputs/{execution_id}.json"
            self._store_object(key, raw, "application/json")
        record["pipelineOutput"] = None
        record["pipelineOutputFileUri"] = f"s3://{BUCKET}/{key}"
        record["_outputKey"] = key
        record["_outputCompression"] = compression
        record["_outputRawSize"] = len(raw)

    def _output_reply(self, record: JSON) -> JSON:
        key = record.get("_outputKey")
        if isinstance(key, str) and key in self._objects:
            url, expires = self._presign("GET", key)
            return {
                "type": "s3",
                "downloadUrl": url,
                "expiresAt": expires,
                "metadata": {
                    "fileSizeBytes": self._objects[key].size,
                    "compressionType": record.get("_outputCompression", "gzip"),
                    "fileType": "json",
                    "outputSummary": record.get("pipelineOutputSummary"),
                },
            }
        if record["status"] == "completed" or record.get("pipelineOutput") is not None:
            return {
                "type": "inline",
                "data": record.get("pipelineOutput") or {},
                "summary": record.get("pipelineOutputSummary"),
            }
        raise ApiError(404, "Pipeline execution has no output available")


def _without_directive(value: Any) -> Any:
    obj = as_obj(value)
    if obj is None:
        return value
    return {k: v for k, v in obj.items() if k != "__sim__"}
