"""attrs models and the cattrs converter factory each platform uses.

Every platform gets its own converter from :func:`make_converter`, configured for its wire
naming (``camelCase`` or ``snake_case``). Converters:

- ignore unknown fields (a newer server adding a field never breaks an older client);
- parse ISO-8601 datetimes, ``Z`` and offsets included, and keep their time zone;
- keep unknown values of an :class:`OpenEnum` (a new status from the server is a value, not a
  crash);
- raise :class:`~tether.ResponseDecodeError` (through :func:`decode`) when a body does not
  match the model.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = ["OpenEnum", "decode_datetime", "json_object", "make_converter", "to_camel"]

T = TypeVar("T")
Naming = Literal["snake", "camel"]

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


@lru_cache(maxsize=4096)
def to_camel(name: str) -> str:
    """``run_id`` → ``runId`` (leading underscores are kept)."""
    stripped = name.lstrip("_")
    prefix = name[: len(name) - len(stripped)]
    return prefix + _CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), stripped)


class OpenEnum(enum.StrEnum):
    """A string enum that accepts values it does not know.

    ``RunStatus("ARCHIVED")`` on an enum without that member gives a pseudo-member whose
    ``value`` is ``"ARCHIVED"`` and whose :attr:`known` is ``False`` — code written against
    today's server keeps working when tomorrow's server adds a status.

    Example::

        class Status(OpenEnum):
            RUNNING = "RUNNING"

        assert Status("NEW_ONE").known is False
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def known(self) -> bool:
        """Whether this value is one of the declared members."""
        return self._name_ in type(self).__members__


def decode_datetime(value: Any) -> datetime:
    """Parse an ISO-8601 string (``Z`` accepted) or a Unix timestamp into a datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        from datetime import UTC

        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)
    raise ValueError(f"not a datetime: {value!r}")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if type(value) is str:
        try:
            return datetime.fromisoformat(value)  # 3.11+: "Z" and offsets included
        except ValueError:
            pass
    return decode_datetime(value)


def make_converter(naming: Naming = "snake") -> cattrs.Converter:
    """A converter for one platform's wire format.

    Args:
        naming: ``"camel"`` maps ``snake_case`` attribute names to ``camelCase`` keys on the
            wire; ``"snake"`` uses the names as they are. A field can always name its wire key
            explicitly with ``metadata={"wire": "someKey"}``.
    """
    converter = cattrs.Converter(forbid_extra_keys=False, prefer_attrib_converters=False)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(datetime, lambda v: v.isoformat())
    converter.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    converter.register_unstructure_hook(date, lambda v: v.isoformat())
    converter.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, OpenEnum),
        lambda v, t: t(v),
    )
    converter.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda v: v.value
    )

    def wire_name(field: attrs.Attribute[Any]) -> str:
        explicit = field.metadata.get("wire")
        if isinstance(explicit, str):
            return explicit
        return to_camel(field.name) if naming == "camel" else field.name

    def structure_factory(cls: type[Any]) -> Callable[[Any, type[Any]], Any]:
        overrides = {
            f.name: override(rename=wire_name(f))
            for f in attrs.fields(cls)
            if wire_name(f) != f.name
        }
        return make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        overrides = {
            f.name: override(rename=wire_name(f))
            for f in attrs.fields(cls)
            if wire_name(f) != f.name
        }
        return make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter


def json_object(value: Any) -> dict[str, Any] | None:
    """*value* as a JSON object (``dict[str, Any]``), or ``None`` when it is something else."""
    if isinstance(value, dict):
        return cast(dict[str, Any], value)
    return None
