"""The restricted custom-code runner of the simulated node."""

from __future__ import annotations

import pytest

from tether.testing.ratio1._sandbox import (
    CodeRejected,
    SandboxPlugin,
    check_code,
    run_custom_code,
)


def plugin(**config: object) -> SandboxPlugin:
    return SandboxPlugin(
        node_id="node-01",
        node_addr="0xai_X",
        pipeline="p",
        instance_id="i",
        config={k.upper(): v for k, v in config.items()},
        obj_cache={},
    )


async def test_runs_the_body_and_returns_its_value() -> None:
    source = "x = sum(range(5))\nprint('hello', x)\nreturn {'sum': x, 'node': plugin.node_id}"
    outcome = await run_custom_code(source, plugin())
    assert outcome.result == {"sum": 10, "node": "node-01"}
    assert outcome.error is None
    assert outcome.log == ("hello 10",)


async def test_config_and_state_are_available() -> None:
    p = plugin(threshold=3)
    source = "plugin.obj_cache['n'] = plugin.obj_cache.get('n', 0) + 1\n" \
        "return [plugin.cfg_threshold, plugin.obj_cache['n'], plugin.cfg_missing]"  # fmt: skip
    assert (await run_custom_code(source, p)).result == [3, 1, None]
    assert (await run_custom_code(source, p)).result == [3, 2, None]


async def test_exceptions_become_error_text() -> None:
    outcome = await run_custom_code("return 1 / 0", plugin())
    assert outcome.result is None
    assert outcome.error == "ZeroDivisionError: division by zero"


async def test_non_json_results_are_stringified_or_refused() -> None:
    assert (await run_custom_code("return (1, 2)", plugin())).result == [1, 2]
    assert (await run_custom_code("return {1, 2} == {2, 1}", plugin())).result is True
    outcome = await run_custom_code("return float('nan')", plugin())
    assert outcome.error is not None and "JSON" in outcome.error


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import os\nreturn 1", "imports"),
        ("from os import path", "imports"),
        ("return open('/etc/passwd').read()", "'open'"),
        ("return eval('1')", "'eval'"),
        ("return getattr(plugin, 'x')", "'getattr'"),
        ("return ().__class__.__bases__", "line 1: attribute '__bases__'"),
        ("return plugin._config", "'_config'"),
        ("return __builtins__", "'__builtins__'"),
        ("return '{0.__class__}'.format(1)", "'format'"),
        ("global x\nx = 1", "global"),
        ("yield 1", "yield"),
        ("return type(1)", "'type'"),
        ("def _hidden():\n    return 1\nreturn 2", "'_hidden'"),
        ("return (", "syntax error"),
    ],
)
async def test_static_check_rejects(source: str, reason: str) -> None:
    with pytest.raises(CodeRejected, match=reason):
        check_code(source)
    outcome = await run_custom_code(source, plugin())
    assert outcome.result is None
    assert outcome.error is not None and outcome.error.startswith("CodeRejected")


async def test_builtins_are_restricted_at_run_time() -> None:
    outcome = await run_custom_code("return compile", plugin())
    assert outcome.error is not None and "compile" in outcome.error
    outcome = await run_custom_code("return input", plugin())
    assert outcome.error is not None


async def test_time_limit_stops_python_loops() -> None:
    outcome = await run_custom_code("while True:\n    pass", plugin(), timeout=0.2)
    assert outcome.result is None
    assert outcome.error is not None and outcome.error.startswith("TimeoutError")
    assert outcome.duration < 1.5


async def test_time_limit_is_not_caught_by_user_code() -> None:
    source = "try:\n    while True:\n        pass\nexcept Exception:\n    return 'caught'"
    outcome = await run_custom_code(source, plugin(), timeout=0.2)
    assert outcome.error is not None and outcome.error.startswith("TimeoutError")


async def test_helper_functions_and_comprehensions_work() -> None:
    source = "def square(v):\n    return v * v\nreturn [square(i) for i in range(4)]"
    assert (await run_custom_code(source, plugin())).result == [0, 1, 4, 9]
