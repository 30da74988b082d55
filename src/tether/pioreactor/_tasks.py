"""Leader tasks as tether Jobs.

Many leader routes answer ``202`` with a ``task_id`` and a ``result_url_path`` to poll. This
module starts such a request and returns a :class:`~tether.Job` that polls with the
version-specific rules of the reference (§3):

- ``202`` ``pending`` / ``running`` / ``pending or not present`` / ``in_progress``: keep waiting;
- ``200`` ``succeeded`` / ``complete``: done, decode ``result``;
- ``200`` ``failed`` or HTTP ``500`` (≤ 26.4.3): failed, with error, cause and remediation;
- an unknown id pends forever on the server, so every wait has a deadline;
- on leaders ≤ 26.4.2 the first terminal answer is consumed: the job keeps it and never
  re-polls.

Routes that answer synchronously, or ``202`` without a task, give a job that is already done,
so callers see one contract whatever the leader's version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import cattrs

from tether._core.errors import ResponseDecodeError
from tether._core.http import NOT_GIVEN, Response
from tether._core.jobs import Job, JobState, JobStatus, PollPolicy, ResumeToken
from tether._core.resource import decode, response_json
from tether.pioreactor._contract import Contract
from tether.pioreactor.models import FanOut, UnitError, UnitResult

if TYPE_CHECKING:
    from tether.pioreactor._client import AsyncPioreactor

__all__ = ["decode_fanout", "start_task"]

T = TypeVar("T")

PLATFORM: Final = "pioreactor"
PENDING_WORDS: Final = frozenset({"pending", "running", "pending or not present", "in_progress"})
DONE_WORDS: Final = frozenset({"succeeded", "complete"})
TASK_POLL: Final = PollPolicy(initial=0.1, factor=1.5, maximum=1.5)

Decoder = Callable[[Any], Any]


def decode_fanout(
    converter: cattrs.Converter, raw: Any, value_type: Any, *, response: Response | None = None
) -> FanOut[Any]:
    """Per-unit results: envelopes (≥ 26.5.3) or raw values with ``null`` for failures."""
    if not isinstance(raw, dict):
        raise ResponseDecodeError(
            f"a fan-out result must be an object keyed by unit, got {type(raw).__name__}",
            request=response.request if response else None,
            body=raw,
        )
    results: dict[str, UnitResult[Any]] = {}
    for unit, entry in cast(dict[str, Any], raw).items():
        if isinstance(entry, dict) and "ok" in entry and "unit" in entry:
            envelope = cast(dict[str, Any], entry)
            if envelope["ok"]:
                value = decode(converter, envelope.get("value"), value_type, response=response)
                results[unit] = UnitResult(unit=unit, ok=True, value=value)
            else:
                error_raw = envelope.get("error")
                error = cast(dict[str, Any], error_raw) if isinstance(error_raw, dict) else {}
                results[unit] = UnitResult(
                    unit=unit,
                    ok=False,
                    error=UnitError(
                        kind=str(error.get("kind", "unknown")),
                        message=str(error.get("message", "no message")),
                        cause=error.get("cause"),
                        remediation=error.get("remediation"),
                    ),
                    status_code=envelope.get("status_code"),
                    retryable=bool(envelope.get("retryable", False)),
                )
        elif entry is None:
            results[unit] = UnitResult(
                unit=unit,
                ok=False,
                error=UnitError(kind="unknown", message="the unit returned no result"),
            )
        else:
            value = decode(converter, entry, value_type, response=response)
            results[unit] = UnitResult(unit=unit, ok=True, value=value)
    return FanOut(results)


def _failure_text(body: Any, status: int) -> str:
    if isinstance(body, dict):
        fields = cast(dict[str, Any], body)
        parts = [str(fields.get("error") or f"HTTP {status}")]
        info_raw = fields.get("error_info")
        info = cast(dict[str, Any], info_raw) if isinstance(info_raw, dict) else {}
        cause = fields.get("cause") or info.get("cause")
        remedy = fields.get("remediation") or info.get("remediation")
        if cause and cause != parts[0]:
            parts.append(f"cause: {cause}")
        if remedy:
            parts.append(f"remediation: {remedy}")
        return "; ".join(parts)
    return f"HTTP {status}: {body!r}"[:300]


def task_job(
    client: AsyncPioreactor,
    task_id: str,
    result_url_path: str,
    decoder: Decoder,
    *,
    decoder_name: str,
    describe: str,
    contract: Contract,
    timeout: float | None,
) -> Job[Any]:
    """A Job that polls one leader task."""
    terminal: list[JobState[Any]] = []

    async def check() -> JobState[Any]:
        if terminal:  # results are consumed on read on old leaders: never poll twice
            return terminal[0]
        response = await client.http.request(
            "GET", result_url_path, expect_status=lambda s: s in (200, 202, 500)
        )
        try:
            body = response.json()
        except ValueError:
            body = response.text()
        fields = cast(dict[str, Any], body) if isinstance(body, dict) else {}
        word = fields.get("status")
        word_text = word if isinstance(word, str) else None
        if response.status == 202:
            return JobState(JobStatus.RUNNING, raw_status=word_text or "pending", detail=body)
        if response.status == 200 and word_text in DONE_WORDS:
            result = decoder(fields.get("result"))
            state: JobState[Any] = JobState(
                JobStatus.SUCCEEDED, raw_status=word_text, result=result, detail=body
            )
        elif response.status == 500 or word_text == "failed":
            state = JobState(
                JobStatus.FAILED,
                raw_status=word_text if word_text == "failed" else f"HTTP {response.status}",
                error=_failure_text(body, response.status),
                detail=body,
            )
        else:  # a new status word from a newer leader: keep waiting, under the deadline
            return JobState(JobStatus.RUNNING, raw_status=word_text, detail=body)
        terminal.append(state)
        return state

    token = ResumeToken(
        PLATFORM,
        "task",
        {
            "task_id": task_id,
            "result_url_path": result_url_path,
            "decoder": decoder_name,
            "version": contract.text,
        },
    )
    return Job(
        check,
        job_id=task_id,
        token=token,
        poll=TASK_POLL,
        timeout=timeout,
        describe=describe,
    )


def done_job(result: Any, *, describe: str) -> Job[Any]:
    """A Job that already finished (synchronous routes, 202 answers without a task)."""
    state: JobState[Any] = JobState(JobStatus.SUCCEEDED, raw_status="done", result=result)

    async def check() -> JobState[Any]:
        return state

    token = ResumeToken(PLATFORM, "done", {"describe": describe})
    return Job(check, job_id="done", token=token, poll=TASK_POLL, describe=describe)


async def start_task(
    client: AsyncPioreactor,
    method: str,
    url: str,
    *,
    json: Any = NOT_GIVEN,
    params: dict[str, Any] | None = None,
    decoder_name: str,
    describe: str,
    sync_decoder_name: str | None = None,
) -> Job[Any]:
    """Send a request that may answer 202 + task, and return a Job for its outcome.

    Args:
        decoder_name: how to decode the task's ``result`` (a key of the client's decoders).
        sync_decoder_name: how to decode a synchronous answer's body, when the route is
            synchronous on some leader versions (default: the same decoder).
    """
    contract = await client.contract()
    response = await client.http.request(method, url, json=json, params=params)
    body = response_json(response) if response.content else None
    if response.status == 202 and isinstance(body, dict) and "task_id" in body:
        fields = cast(dict[str, Any], body)
        task_id = str(fields["task_id"])
        result_path = str(fields.get("result_url_path") or f"/unit_api/task_results/{task_id}")
        return task_job(
            client,
            task_id,
            result_path,
            client._decoder(decoder_name, response),
            decoder_name=decoder_name,
            describe=describe,
            contract=contract,
            timeout=client.task_timeout,
        )
    sync_name = sync_decoder_name or decoder_name
    return done_job(client._decoder(sync_name, response)(body), describe=describe)
