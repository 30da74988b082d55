"""Narrowing helpers for parsed JSON (typed for both mypy and pyright)."""

from __future__ import annotations

from typing import Any

__all__ = ["as_dict", "as_list"]


def as_list(value: object) -> list[Any]:
    """*value* when it is a JSON array (a list), else an empty list."""
    if isinstance(value, list):
        items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return items
    return []


def as_dict(value: object) -> dict[str, Any] | None:
    """*value* when it is a JSON object (a dict), else ``None``."""
    if isinstance(value, dict):
        mapping: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return mapping
    return None
