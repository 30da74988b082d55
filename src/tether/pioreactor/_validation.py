"""Input checks that run before any request, with the leader's own rules."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, Final

from tether._core.errors import ValidationError

__all__ = [
    "check_experiment_name",
    "check_experiment_ref",
    "check_setting_value",
    "check_unit_ref",
    "check_worker_name",
]

BROADCAST: Final = "$broadcast"
UNIT_WIDE: Final = "$experiment"

_FORBIDDEN_IN_EXPERIMENT: Final = set("#$%+/?\\")
_HOSTNAME: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})$")


def check_experiment_name(name: object) -> str:
    """A name for a *new* experiment, by the leader's rules (26.11.1)."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("experiment name must be a non-empty string")
    bad = sorted(set(name) & _FORBIDDEN_IN_EXPERIMENT)
    if bad:
        raise ValidationError(
            f"experiment name {name!r} contains {' '.join(bad)}; names cannot contain"
            " # $ % + / ? \\ — use letters, digits, spaces, dots, dashes or underscores"
        )
    if name.startswith("_testing"):
        raise ValidationError(f"experiment name {name!r} may not start with '_testing'")
    if name == "current":
        raise ValidationError("'current' is reserved and cannot be an experiment name")
    if len(name) >= 200:
        raise ValidationError(f"experiment name is {len(name)} characters; the limit is 199")
    return name


def check_experiment_ref(name: object) -> str:
    """An experiment in a path: an existing name, or ``$experiment`` (unit-wide jobs)."""
    if not isinstance(name, str) or not name:
        raise ValidationError("experiment must be a non-empty string")
    if name == UNIT_WIDE:
        return name
    return check_experiment_name(name)


def check_worker_name(name: object) -> str:
    """A unit name for registering a worker: a hostname, not ``localhost`` or an IP address."""
    if not isinstance(name, str) or not name:
        raise ValidationError("worker name must be a non-empty string")
    if name.endswith(".local"):
        raise ValidationError(f"use the hostname without '.local': {name[:-6]!r}, not {name!r}")
    if name.lower() == "localhost":
        raise ValidationError("'localhost' is not a valid worker name; use the unit's hostname")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise ValidationError(
            f"{name!r} is an IP address; workers are named by hostname (e.g. 'pio1')"
        )
    if not _HOSTNAME.match(name):
        raise ValidationError(
            f"invalid worker name {name!r}: use letters, digits and dashes (a hostname)"
        )
    return name


def check_unit_ref(name: object) -> str:
    """A unit in a path: a worker name, or ``$broadcast`` for every unit."""
    if name == BROADCAST:
        return BROADCAST
    return check_worker_name(name)


# Settings whose type the leader's jobs declare; others only need to be scalar.
KNOWN_SETTING_TYPES: Final[Mapping[tuple[str, str], type | tuple[type, ...]]] = {
    ("stirring", "target_rpm"): (int, float),
    ("stirring", "enable_dodging_od"): bool,
    ("od_reading", "interval"): (int, float),
    ("od_reading", "ir_led_intensity"): (int, float),
    ("temperature_automation", "target_temperature"): (int, float),
    ("dosing_automation", "target_od"): (int, float),
    ("dosing_automation", "volume"): (int, float),
    ("dosing_automation", "duration"): (int, float),
    ("led_automation", "light_intensity"): (int, float),
    ("growth_rate_calculating", "ignore_cache"): bool,
}
_STATES: Final = {"ready", "sleeping", "disconnected"}


def check_setting_value(job: str, setting: str, value: Any) -> Any:
    """A value for ``jobs/update`` or MQTT ``/set``: a scalar of the setting's type."""
    if setting == "$state":
        if value not in _STATES:
            raise ValidationError(
                f"$state can be set to ready, sleeping or disconnected, not {value!r}"
            )
        return value
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise ValidationError(
            f"{job}.{setting} must be a string, number or boolean, not {type(value).__name__}"
        )
    expected = KNOWN_SETTING_TYPES.get((job, setting))
    if expected is not None and value is not None:
        wrong = isinstance(value, bool) and expected is not bool
        if wrong or not isinstance(value, expected):
            names = (
                " or ".join(t.__name__ for t in expected)
                if isinstance(expected, tuple)
                else expected.__name__
            )
            raise ValidationError(
                f"{job}.{setting} takes {names}, not {type(value).__name__} {value!r}"
            )
    return value
