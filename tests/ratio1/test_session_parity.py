"""Every public method of the async Ratio1 classes has a blocking twin with the same signature,
and the names follow the official SDK's."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import tether.ratio1 as r1
from tether._core.blocking import _TWINS
from tether._core.jobs import BlockingJobMethod, JobMethod

PAIRS = [
    (r1.AsyncSession, r1.Session),
    (r1.AsyncPipeline, r1.Pipeline),
    (r1.AsyncInstance, r1.Instance),
]


def _normalise(function: Any) -> list[tuple[str, Any, Any]]:
    parameters = list(inspect.signature(function).parameters.values())[1:]
    return [(p.name, p.kind, p.default) for p in parameters]


def _public(cls: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if inspect.isfunction(member) or isinstance(member, (JobMethod, BlockingJobMethod)):
            found[name] = member
    return found


@pytest.mark.parametrize(("async_cls", "twin"), PAIRS, ids=lambda c: c.__name__)
def test_blocking_twin_mirrors_every_method(async_cls: type, twin: type) -> None:
    assert _TWINS[async_cls] is twin
    mine = _public(async_cls)
    theirs = _public(twin)
    missing = sorted(set(mine) - set(theirs) - {"aclose"})
    assert not missing, f"{twin.__name__} lacks {missing}"
    for name, method in mine.items():
        if name == "aclose":
            continue
        mirror = theirs[name]
        if isinstance(method, JobMethod):
            assert isinstance(mirror, BlockingJobMethod) and mirror.method is method, name
            continue
        assert _normalise(method) == _normalise(mirror), f"{twin.__name__}.{name}"
        assert (method.__doc__ or "").strip() == (mirror.__doc__ or "").strip() or name in {
            "payloads",
            "run",
            "sleep",
            "wait_for_any_node",
        }, f"{twin.__name__}.{name} docstring differs"
        assert (mirror.__doc__ or "").strip(), f"{twin.__name__}.{name} has no docstring"
    properties = {n for n, m in inspect.getmembers(async_cls) if isinstance(m, property)}
    assert properties <= {n for n, m in inspect.getmembers(twin) if isinstance(m, property)}


def test_constructors_match() -> None:
    assert _normalise(r1.AsyncSession.__init__) == _normalise(r1.Session.__init__)


OFFICIAL_SESSION = [
    "wait_for_any_node",
    "wait_for_node",
    "get_active_nodes",
    "create_pipeline",
    "attach_to_pipeline",
    "create_or_attach_to_pipeline",
    "create_chain_dist_custom_job",
    "create_web_app",
    "create_custom_webapi",
    "create_container_web_app",
    "create_worker_web_app",
    "get_network_known_nodes",
    "get_nodes_apps",
    "run",
    "sleep",
    "wait",
    "close",
    "close_pipeline",
    "get_node_alias",
    "get_active_supervisors",
    "get_allowed_nodes",
    "check_node_online",
    "wait_for_node_configs",
    "get_active_pipelines",
    "is_peered",
    "get_client_address",
]
OFFICIAL_PIPELINE = [
    "create_plugin_instance",
    "create_custom_plugin_instance",
    "create_chain_dist_custom_plugin_instance",
    "create_or_attach_to_plugin_instance",
    "attach_to_plugin_instance",
    "attach_to_custom_plugin_instance",
    "remove_plugin_instance",
    "detach_from_instance",
    "deploy",
    "update_acquisition_parameters",
    "send_pipeline_command",
    "wait_exec",
    "close",
    "get_full_config",
]
OFFICIAL_INSTANCE = [
    "update_instance_config",
    "send_instance_command",
    "send_instance_command_and_wait_for_response_payload",
    "get_status",
    "temporary_attach",
    "temporary_detach",
    "close",
    "stop",
]


@pytest.mark.parametrize(
    ("cls", "names", "official"),
    [
        (r1.AsyncSession, OFFICIAL_SESSION, "ratio1.base.generic_session:GenericSession"),
        (r1.AsyncPipeline, OFFICIAL_PIPELINE, "ratio1.base.pipeline:Pipeline"),
        (r1.AsyncInstance, OFFICIAL_INSTANCE, "ratio1.base.instance:Instance"),
    ],
)
def test_official_names_and_parameters(cls: type, names: list[str], official: str) -> None:
    """Each official method exists here, and its parameters (by name) are accepted here.

    The official signatures are read from the installed SDK's source (no import: ``import
    ratio1`` takes seconds); a few official parameters are left out on purpose (see
    docs/ratio1.md): dAuth/ETH/DataFrame options and debug printing.
    """
    import ast
    import importlib.util
    from pathlib import Path

    module, _, class_name = official.partition(":")
    spec = importlib.util.find_spec("ratio1")
    if spec is None or spec.origin is None:
        pytest.skip("the official ratio1 SDK is not installed")
    source = Path(spec.origin).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    methods: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in ast.walk(node):
                if isinstance(item, ast.FunctionDef):
                    args = item.args
                    methods[item.name] = [
                        a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs][1:]
                    ]
    left_out = {
        *("debug", "verbose", "show_errors", "as_json", "as_df", "df_only", "eth", "all_info"),
        *("include_resources", "pipeline_type", "return_full_address"),
    }
    for name in names:
        assert name in methods, f"official {class_name}.{name} not found"
        assert hasattr(cls, name), f"{cls.__name__}.{name} is missing"
        member = getattr(cls, name)
        function = member.start_function if isinstance(member, JobMethod) else member
        ours = set(inspect.signature(function).parameters)
        wanted = set(methods[name]) - left_out - {"kwargs"}
        assert wanted <= ours, f"{cls.__name__}.{name} lacks {sorted(wanted - ours)}"
