"""Input checks that run before anything is sent (bad input never reaches a node)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

from tether._core.errors import ValidationError
from tether.ratio1._jsonutil import as_dict, as_list
from tether.ratio1._presence import looks_like_address
from tether.ratio1._protocol.addresses import is_valid_address

__all__ = [
    "as_dict",
    "as_list",
    "check_config",
    "check_identifier",
    "check_name",
    "check_node_ref",
    "check_signature",
    "upper_keys",
]

_SIGNATURE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def check_node_ref(node: object, what: str = "node") -> str:
    """A node reference: an address (must be valid), an ETH address or an alias."""
    if not isinstance(node, str) or not node.strip():
        raise ValidationError(f"{what} must be a node address or alias, not {node!r}")
    if looks_like_address(node) and not is_valid_address(node):
        raise ValidationError(
            f"{what} {node!r} is not a valid Ratio1 address ('0xai_' + the base64 of a "
            "secp256k1 public key)"
        )
    return node


def check_name(value: object, what: str) -> str:
    """A non-empty name without control characters (pipeline names, instance ids)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what} must be a non-empty string, not {value!r}")
    if any(ord(ch) < 0x20 for ch in value):
        raise ValidationError(f"{what} {value!r} contains control characters")
    return value


def check_signature(value: object, what: str = "signature") -> str:
    """A plugin signature (``SAMPLE_PLUGIN_01``); returned upper-cased like the official SDK."""
    if not isinstance(value, str) or not _SIGNATURE.match(value):
        raise ValidationError(
            f"{what} must be a plugin signature such as 'CUSTOM_EXEC_01' (letters, digits, '_'),"
            f" not {value!r}"
        )
    return value.upper()


def check_identifier(value: object, allowed: Iterable[str], what: str) -> str:
    """One of *allowed* (typed constants, e.g. the web-app signatures)."""
    choices = tuple(allowed)
    if not isinstance(value, str) or value.upper() not in choices:
        raise ValidationError(f"{what} must be one of {', '.join(choices)}, not {value!r}")
    return value.upper()


def _walk(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{path} is {value!r}: NaN and infinity are not JSON")
        return
    if isinstance(value, Mapping):
        for key, item in cast("Mapping[object, Any]", value).items():
            if not isinstance(key, str):
                raise ValidationError(
                    f"{path} has a key {key!r} of type {type(key).__name__}; JSON keys are text"
                )
            _walk(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(cast("Sequence[Any]", value)):
            _walk(item, f"{path}[{index}]")
        return
    raise ValidationError(
        f"{path} is a {type(value).__name__}, which is not JSON-serialisable "
        "(use str, int, float, bool, None, lists and dicts)"
    )


def check_config(config: object, what: str = "config") -> dict[str, Any]:
    """A JSON-serialisable dict (a copy); the error names the offending key path."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ValidationError(f"{what} must be a dict, not {type(config).__name__}")
    _walk(config, what)
    copy = dict(cast("Mapping[str, Any]", config))
    json.dumps(copy)  # the walk accepts only what this accepts
    return copy


def upper_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys upper-cased (the official SDK's convention for configs)."""
    return {key.upper(): value for key, value in config.items()}
