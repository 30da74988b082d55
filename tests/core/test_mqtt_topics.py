"""Topic names, filters and matching (MQTT 3.1.1 rules)."""

from __future__ import annotations

import pytest

from tether._core.errors import ValidationError
from tether._core.mqtt import (
    is_valid_topic,
    is_valid_topic_filter,
    topic_matches,
    validate_topic,
    validate_topic_filter,
)


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/#", "a", True),  # '#' also matches the parent level
        ("a/#", "a/b/c", True),
        ("a/#", "ab", False),
        ("#", "a/b", True),
        ("+", "a", True),
        ("+", "/a", False),
        ("+/+", "/a", True),  # empty levels are levels
        ("/+", "/a", True),
        ("a//b", "a//b", True),
        ("+/b", "a/b/", False),
        ("#", "$SYS/uptime", False),  # wildcards never match a leading '$'
        ("+/uptime", "$SYS/uptime", False),
        ("$SYS/#", "$SYS/uptime", True),
        ("$SYS/+", "$SYS/uptime", True),
        ("pioreactor/+/$experiment/#", "pioreactor/u1/$experiment/logs/ui/info", True),
        ("pioreactor/#", "pioreactor/$broadcast/e/j/s/set", True),  # '$' past level 1 is plain
        ("A/b", "a/b", False),  # case-sensitive
    ],
)
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(
    ("topic_filter", "valid"),
    [
        ("a/b", True),
        ("#", True),
        ("a/#", True),
        ("+/+/#", True),
        ("/", True),
        ("", False),
        ("a/#/b", False),
        ("a#", False),
        ("a/b+", False),
        ("+a", False),
        ("a\x00b", False),
        ("x" * 65536, False),
    ],
)
def test_topic_filter_validation(topic_filter: str, valid: bool) -> None:
    assert is_valid_topic_filter(topic_filter) is valid
    if valid:
        assert validate_topic_filter(topic_filter) == topic_filter
    else:
        with pytest.raises(ValidationError, match="invalid MQTT topic filter"):
            validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    ("topic", "valid"),
    [
        ("a/b", True),
        ("$SYS/x", True),
        ("", False),
        ("a/+", False),
        ("a/#", False),
        ("é" * 40000, False),
    ],
)
def test_topic_validation(topic: str, valid: bool) -> None:
    assert is_valid_topic(topic) is valid
    if not valid:
        with pytest.raises(ValidationError, match="invalid MQTT topic"):
            validate_topic(topic)
