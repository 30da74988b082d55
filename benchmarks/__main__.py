"""Run benchmarks: ``python -m benchmarks [name ...] [--quick] [--out DIR] [--list] [--check]``.

Every module ``benchmarks/<name>.py`` whose name does not start with ``_`` is a benchmark. It
exposes ``NAME: str`` (equal to ``<name>``) and ``run(quick: bool) -> dict``, sync or
``async def``; optionally ``PACKAGES`` (distribution names whose versions go into the
result). With no names, every benchmark runs, in alphabetical order. Each result is written to
``<out>/<NAME>.json`` and printed as a table.

Exit status: 0 when every benchmark ran; 1 when one failed (or, with ``--check``, missed a
target); 2 for an unknown name.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import pkgutil
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import benchmarks
from benchmarks._harness import RESULTS_DIR, loadavg, now_iso, print_report, write_result


def available() -> list[str]:
    """Names of every benchmark module, without importing them."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if not info.name.startswith("_") and not info.ispkg
    )


def load(name: str) -> ModuleType:
    """Import ``benchmarks.<name>`` and check that it follows the contract."""
    module = importlib.import_module(f"benchmarks.{name}")
    declared = getattr(module, "NAME", None)
    if declared != name:
        raise TypeError(f"benchmarks/{name}.py must set NAME = {name!r} (found {declared!r})")
    if not callable(getattr(module, "run", None)):
        raise TypeError(f"benchmarks/{name}.py must define run(quick: bool) -> dict")
    return module


def execute(module: ModuleType, quick: bool) -> Mapping[str, Any]:
    """Call the module's ``run(quick)``, awaiting it on a fresh event loop if it is async."""
    result: object = module.run(quick)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    if not isinstance(result, Mapping):
        raise TypeError(f"{module.__name__}.run() returned {type(result).__name__}, not a dict")
    return cast(Mapping[str, Any], result)


def _missed(result: Mapping[str, Any]) -> list[str]:
    checks: object = result.get("checks")
    if not isinstance(checks, list):
        return []
    found = [cast(Mapping[str, object], c) for c in cast(list[object], checks)]
    return [str(c.get("name")) for c in found if not c.get("ok")]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the chosen benchmarks, write and print their results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where to write JSON")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    known = available()
    if args.list:
        for name in known:
            doc = (load(name).__doc__ or "").strip().splitlines()
            print(f"{name:20} {doc[0] if doc else ''}")
        return 0
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.print_usage(sys.stderr)
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(known)}")
        return 2

    status = 0
    for name in args.names or known:
        started_at = now_iso()
        load_before = loadavg()
        began = time.perf_counter()
        try:
            module = load(name)
            result = execute(module, args.quick)
            target = write_result(
                name,
                result,
                quick=args.quick,
                started_at=started_at,
                duration_s=time.perf_counter() - began,
                out_dir=args.out,
                packages=getattr(module, "PACKAGES", ()),
                loadavg_before=load_before,
            )
        except Exception:
            traceback.print_exc()
            print(f"benchmark {name} failed", file=sys.stderr)
            status = 1
            continue
        print_report(name, result)
        print(f"\n  wrote {target} ({time.perf_counter() - began:.1f} s)")
        if args.check and _missed(result):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
