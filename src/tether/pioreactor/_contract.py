"""What differs between leader versions, in one place.

The leader's version (``GET /unit_api/versions/app``) is fetched once per client and turned
into a :class:`Contract`; every version-dependent choice reads a flag here, so the rest of the
client speaks one API. Boundaries come from the measured reference (26.11.1 and 25.11.19 live,
the others from the code at each release tag).
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal, cast

import attrs

from tether._core.errors import ValidationError
from tether._core.http import ErrorDetails

__all__ = ["Contract", "parse_version", "pioreactor_error_parser"]

Version = tuple[int, int, int]
LATEST: Final[Version] = (26, 11, 1)

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> Version:
    """``"26.11.1"`` → ``(26, 11, 1)``; release-candidate suffixes are ignored."""
    match = _VERSION.match(text)
    if match is None:
        raise ValidationError(f"not a Pioreactor version: {text!r}")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


@attrs.frozen
class Contract:
    """The wire contract of one leader version."""

    version: Version = LATEST

    @property
    def text(self) -> str:
        """The version as ``YY.M.D``."""
        return ".".join(str(part) for part in self.version)

    @property
    def envelopes(self) -> bool:
        """Fan-out results wrap each unit as ``{ok, unit, value | error}`` (≥ 26.5.3)."""
        return self.version >= (26, 5, 3)

    @property
    def strict_bodies(self) -> bool:
        """Unknown body fields are rejected with 400 (≥ 26.5.3)."""
        return self.version >= (26, 5, 3)

    @property
    def results_preserved(self) -> bool:
        """A finished task's result can be read again (≥ 26.4.3); before, the first read eats it."""
        return self.version >= (26, 4, 3)

    @property
    def media_fields(self) -> bool:
        """Experiments take ``mediaUsed``/``organismUsed`` and historical media exist (< 26.6.0)."""
        return self.version < (26, 6, 0)

    @property
    def config_routes(self) -> Literal["configs", "files", "shared"]:
        """``/api/configs`` (≤ 26.2.3), ``/api/config/files`` (26.2.23–26.3.x), or shared/unit."""
        if self.version >= (26, 4, 0):
            return "shared"
        if self.version >= (26, 2, 23):
            return "files"
        return "configs"

    @property
    def contrib_routes(self) -> bool:
        """Descriptors, datasets and profiles live under ``/api/contrib`` (< 26.2.23)."""
        return self.version < (26, 2, 23)

    @property
    def export_is_task(self) -> bool:
        """Dataset export answers 202 + task (≥ 26.5.0); before, it is synchronous."""
        return self.version >= (26, 5, 0)

    @property
    def export_single_experiment(self) -> bool:
        """Export takes ``experiment`` (≥ 26.7.0) instead of ``experiments: [..]``."""
        return self.version >= (26, 7, 0)

    @property
    def delete_experiment_is_task(self) -> bool:
        """``DELETE /api/experiments/{exp}`` answers 202 + task (≥ 26.5.1)."""
        return self.version >= (26, 5, 1)

    @property
    def has_estimators(self) -> bool:
        """Estimators, calibration protocols and calibration sessions exist (≥ 26.2.3)."""
        return self.version >= (26, 2, 3)

    @property
    def has_fused_od(self) -> bool:
        """The ``od_readings_fused`` time series exists (≥ 26.2.3; absent on 25.11.19)."""
        return self.version >= (26, 2, 3)

    @property
    def has_recent_profile_runs(self) -> bool:
        """``…/experiment_profiles/recent`` exists (absent on 25.11.19, present in later code)."""
        return self.version > (25, 11, 19)

    @property
    def has_task_relay(self) -> bool:
        """``GET /api/workers/{u}/task_results/{id}`` relays a unit's task (after the 26.3.x seed).

        The exact release is not known; the seed lacks it, 26.11.1 has it, so 26.4.0 is assumed.
        """
        return self.version >= (26, 4, 0)

    @property
    def has_settings_descriptors(self) -> bool:
        """``/api/settings/descriptors`` and the per-worker descriptor routes (assumed ≥ 26.4.0)."""
        return self.version >= (26, 4, 0)

    @property
    def has_system_repair(self) -> bool:
        """``POST /api/units/{u}/system/repair`` (new after the seed; assumed ≥ 26.4.0)."""
        return self.version >= (26, 4, 0)

    @property
    def has_reported_model(self) -> bool:
        """``PUT /api/workers/{u}/reported_model`` (new after the seed; assumed ≥ 26.4.0)."""
        return self.version >= (26, 4, 0)

    @property
    def job_run_value_is_ok_object(self) -> bool:
        """``jobs/run`` gives ``{"ok": true}`` per unit (≥ 26.4.4) rather than ``true``."""
        return self.version >= (26, 4, 4)

    def require(self, feature: bool, what: str, since: str | None = None) -> None:
        """Raise a clear error, before any request, when *feature* is absent on this leader."""
        if not feature:
            hint = f" (it needs leader {since} or newer)" if since else ""
            raise ValidationError(f"{what} is not available on Pioreactor {self.text}{hint}")


_REMEDIATION_BY_STATUS: Final = {
    400: "Check required fields and request format, then retry.",
    401: "Authenticate and retry the request.",
    403: "Verify permissions and configuration allow this action.",
    404: "Confirm the resource exists and the URL is correct.",
    409: "Resolve the conflicting state, then retry.",
    429: "Wait briefly before retrying to avoid rate limits.",
}


def pioreactor_error_parser(status: int, body: Any) -> ErrorDetails:
    """Read the three error shapes: flat (≥ 26.3), nested ``error_info`` (26.2.x), bare (older).

    The message comes from ``error``; cause and remediation from the top level or else from
    ``error_info``. A JSON body without ``error`` (``{"status": "error"}``) still is an error.
    """
    from http import HTTPStatus

    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP error"
    if not isinstance(body, dict):
        text = body.strip() if isinstance(body, str) else ""
        return ErrorDetails(message=text[:300] or phrase)
    fields = cast(dict[str, Any], body)
    error = fields.get("error")
    message = error if isinstance(error, str) and error else phrase
    info_raw = fields.get("error_info")
    info = cast(dict[str, Any], info_raw) if isinstance(info_raw, dict) else {}
    cause = fields.get("cause", info.get("cause"))
    remediation = fields.get("remediation", info.get("remediation"))
    diagnostics: Any = fields.get("diagnostics")
    if isinstance(diagnostics, list) and diagnostics:
        count = len(diagnostics)  # pyright: ignore[reportUnknownArgumentType]
        cause = f"{cause or message} ({count} diagnostics in .body)"
    return ErrorDetails(
        message=message,
        cause=cause if isinstance(cause, str) and cause != message else None,
        remediation=remediation if isinstance(remediation, str) else None,
    )


def default_remediation(status: int) -> str:
    """The remediation 26.2.x fills in for a status, used when a body gives none."""
    return _REMEDIATION_BY_STATUS.get(status, "Check server logs for details and retry.")
