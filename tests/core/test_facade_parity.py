"""Every public async class has a blocking twin with identical method signatures.

This walks the whole package, so it covers each platform as it lands.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest

import tether
from tether._core.blocking import _TWINS, Facade
from tether._core.jobs import BlockingJobMethod, JobMethod
from tether._core.resource import AsyncClientBase, AsyncResource

# async methods whose blocking twin has a different, documented shape
ALLOWED_DIFFERENCES = {
    "aclose",  # blocking: close()
    "__aenter__",
    "__aexit__",
    "__await__",  # blocking: wait()
    "__aiter__",  # blocking: __iter__
}


def _import_all() -> None:
    for module in pkgutil.walk_packages(tether.__path__, "tether."):
        if ".testing" in module.name or module.name.endswith("__main__"):
            continue
        importlib.import_module(module.name)


def _public_async_classes() -> list[type[Any]]:
    _import_all()
    found: set[type[Any]] = set()
    for base in (AsyncResource, AsyncClientBase):
        stack = list(base.__subclasses__())
        while stack:
            cls = stack.pop()
            stack.extend(cls.__subclasses__())
            if cls.__module__.startswith("tether.") and not cls.__name__.startswith("_"):
                found.add(cls)
    return sorted(found, key=lambda c: c.__qualname__)


def _public_methods(cls: type[Any]) -> dict[str, Any]:
    methods = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or name in ALLOWED_DIFFERENCES:
            continue
        if inspect.isfunction(member):
            methods[name] = member
    return methods


def _strip_self(sig: inspect.Signature) -> inspect.Signature:
    params = list(sig.parameters.values())[1:]
    return sig.replace(parameters=params)


def _normalise(sig: inspect.Signature) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("async_cls", _public_async_classes(), ids=lambda c: c.__qualname__)
def test_blocking_twin_exists_with_same_signatures(async_cls: type[Any]) -> None:
    declares = [
        name
        for name, member in vars(async_cls).items()
        if not name.startswith("_")
        and (inspect.isfunction(member) or isinstance(member, JobMethod))
    ]
    if not declares:
        return  # an abstract base (e.g. a platform's resource base): nothing to mirror
    twin = _TWINS.get(async_cls)
    assert twin is not None, f"{async_cls.__qualname__} has no blocking twin"
    async_methods = _public_methods(async_cls)
    blocking_methods = _public_methods(twin)
    missing = sorted(set(async_methods) - set(blocking_methods))
    assert not missing, f"{twin.__qualname__} lacks {missing}"
    for name, method in async_methods.items():
        a = _normalise(_strip_self(inspect.signature(method)))
        b = _normalise(_strip_self(inspect.signature(blocking_methods[name])))
        assert a == b, f"{twin.__qualname__}.{name}{b} != {async_cls.__qualname__}.{name}{a}"
        assert (method.__doc__ or "").strip(), f"{async_cls.__qualname__}.{name} has no docstring"
        assert (blocking_methods[name].__doc__ or "").strip(), f"{twin.__qualname__}.{name}"
    for name, member in vars(async_cls).items():
        if isinstance(member, JobMethod):
            mirror = getattr(twin, name, None)
            assert isinstance(mirror, BlockingJobMethod), f"{twin.__qualname__}.{name} missing"
            assert mirror.method is member, f"{twin.__qualname__}.{name} mirrors another method"


def test_core_twins_are_registered() -> None:
    assert _TWINS[tether.Job] is tether.BlockingJob
    assert _TWINS[tether.AsyncPager] is tether.Pager
    assert issubclass(tether.BlockingJob, Facade)
    for name in ("wait", "status", "cancel", "on_progress"):
        a = inspect.signature(getattr(tether.Job, name))
        b = inspect.signature(getattr(tether.BlockingJob, name))
        assert _normalise(a) == _normalise(b), name
