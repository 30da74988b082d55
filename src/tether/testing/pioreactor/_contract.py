"""Which wire contract a simulated leader speaks, derived from its version.

Every behaviour that changed between releases (``shared/reference/pioreactor.md`` §1.3 and §2.1)
is one attribute of :class:`Contract`, computed from the version tuple. Three versions were
checked against live leaders or the upstream code and are the ones the tests cover:
``26.11.1`` (current), ``26.2.23`` (the seed document) and ``25.11.19``. Other versions between
them get the features the reference table gives for their range.
"""

from __future__ import annotations

from typing import Final, Literal

import attrs

__all__ = ["KNOWN_VERSIONS", "Contract", "parse_version"]

KNOWN_VERSIONS: Final[tuple[str, ...]] = ("26.11.1", "26.2.23", "25.11.19")
"""The versions whose contracts were verified (live or in the upstream code)."""

_OLDEST: Final = (25, 11, 19)
_NEWEST: Final = (26, 11, 1)

ErrorStyle = Literal["flat", "nested", "bare"]
FailedPoll = Literal["ok200", "flat500", "nested500", "bare500"]
ConfigStyle = Literal["shared", "files", "configs"]


def parse_version(version: str) -> tuple[int, int, int]:
    """Parse a calendar version ``YY.M.D`` into a tuple of ints.

    >>> parse_version("26.11.1")
    (26, 11, 1)
    """
    parts = version.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"version must look like 'YY.M.D', got {version!r}")
    return (int(parts[0]), int(parts[1]), int(parts[2]))


@attrs.frozen
class Contract:
    """The behaviours of one leader version, as flags. Build it with :meth:`for_version`."""

    version: str
    tuple_: tuple[int, int, int]
    accepted_status: bool
    """202 task bodies carry ``"status": "accepted"`` (26.5.3+)."""
    poll_pending: str
    poll_done: str
    failed_poll: FailedPoll
    consume_on_read: bool
    """The first terminal poll deletes the result (up to 26.4.2)."""
    envelopes: bool
    """Fan-out results are ``{ok, unit, value | error}`` per unit (26.5.3+)."""
    error_style: ErrorStyle
    strict_bodies: bool
    """Unknown body fields give 400 (26.5.3+)."""
    create_returns_object: bool
    media_fields: bool
    """``mediaUsed``/``organismUsed`` are accepted (before 26.6.0)."""
    historical_media_routes: bool
    config_style: ConfigStyle
    contrib_routes: bool
    """Descriptors, datasets and profiles live under ``/api/contrib`` (before 26.2.23)."""
    export_async: bool
    export_single_experiment: bool
    delete_experiment_async: bool
    stop_job_task: bool
    no_task_status: str
    origin_check: bool
    chart_preferences: bool
    run_value_ok_object: bool
    estimators: bool
    units_stop_experiment_route: bool
    worker_task_results_route: bool
    experiment_list_extended: bool
    """List items carry ``worker_count`` and ``tags`` (26.3.0+)."""

    @classmethod
    def for_version(cls, version: str) -> Contract:
        """Return the contract of *version* (between 25.11.19 and 26.11.1 inclusive).

        >>> Contract.for_version("26.2.23").poll_done
        'complete'
        """
        v = parse_version(version)
        if not _OLDEST <= v <= _NEWEST:
            raise ValueError(
                f"the simulator speaks Pioreactor 25.11.19 to 26.11.1, not {version}; "
                f"verified versions: {', '.join(KNOWN_VERSIONS)}"
            )
        failed: FailedPoll
        if v >= (26, 4, 4):
            failed = "ok200"
        elif v >= (26, 3, 0):
            failed = "flat500"
        elif v >= (26, 2, 3):
            failed = "nested500"
        else:
            failed = "bare500"
        style: ErrorStyle
        if v >= (26, 3, 0):
            style = "flat"
        elif v >= (26, 2, 3):
            style = "nested"
        else:
            style = "bare"
        config: ConfigStyle
        if v >= (26, 4, 0):
            config = "shared"
        elif v >= (26, 2, 23):
            config = "files"
        else:
            config = "configs"
        return cls(
            version=version,
            tuple_=v,
            accepted_status=v >= (26, 5, 3),
            poll_pending="pending" if v >= (26, 4, 4) else "pending or not present",
            poll_done="succeeded" if v >= (26, 4, 4) else "complete",
            failed_poll=failed,
            consume_on_read=v < (26, 4, 3),
            envelopes=v >= (26, 5, 3),
            error_style=style,
            strict_bodies=v >= (26, 5, 3),
            create_returns_object=v >= (26, 3, 0),
            media_fields=v < (26, 6, 0),
            historical_media_routes=v < (26, 6, 0),
            config_style=config,
            contrib_routes=v < (26, 2, 23),
            export_async=v >= (26, 5, 0),
            export_single_experiment=v >= (26, 7, 0),
            delete_experiment_async=v >= (26, 5, 1),
            stop_job_task=v >= (26, 3, 0),
            no_task_status="accepted" if v >= (26, 5, 3) else "success",
            origin_check=v >= (26, 11, 0),
            chart_preferences=v >= (26, 9, 0),
            run_value_ok_object=v >= (26, 4, 4),
            estimators=v >= (26, 2, 3),
            units_stop_experiment_route=v >= (26, 2, 3),
            worker_task_results_route=v >= (26, 4, 0),
            experiment_list_extended=v >= (26, 3, 0),
        )
