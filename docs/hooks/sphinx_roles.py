"""Griffe extension for the docs build: render the reST bits of tether's docstrings.

tether's docstrings are Google style (``Args:``, ``Raises:``) with some reStructuredText in
the prose, which Markdown does not understand. This extension rewrites, before rendering:

- roles (``:class:`Job```, ``:meth:`~tether.Job.wait```, ``:mod:`tether.pioreactor```) into
  mkdocstrings cross-references when the target is documented on the site, and into inline
  code otherwise (a target that is not rendered would be a broken link, which
  ``mkdocs build --strict`` rejects);
- literal blocks introduced by ``::`` (``Example::`` and an indented block) into fenced
  Python code, with the ``::`` shown as ``:``;
- doctest lines (``>>> ...`` and their output) into fenced ``pycon`` blocks.

Options (``extensions:`` in mkdocs.yml):
    rendered: module paths whose public, documented members appear on the reference pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|data|mod|exc|obj|const):`([^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrite reST roles, literal blocks and doctests in every docstring of the package."""

    def __init__(self, rendered: Iterable[str] = ()) -> None:
        super().__init__()
        self.rendered = tuple(rendered)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is None:
                continue

            def render(match: re.Match[str], scope: griffe.Object = obj) -> str:
                return self._render(scope, loader, match.group(2))

            obj.docstring.value = _fence_blocks(_ROLE.sub(render, obj.docstring.value))

    def _render(self, scope: griffe.Object, loader: griffe.GriffeLoader, text: str) -> str:
        target = text.strip().lstrip("~").rstrip("()")
        label = target.rsplit(".", 1)[-1] if text.strip().startswith("~") else target
        path = self._resolve(scope, loader, target)
        if path is None:
            return f"`{label}`"
        return f"[`{label}`][{path}]"

    def _resolve(
        self, scope: griffe.Object, loader: griffe.GriffeLoader, target: str
    ) -> str | None:
        head, _, rest = target.partition(".")
        candidates = [target]
        try:
            resolved = scope.resolve(head)
        except Exception:  # griffe raises NameResolutionError (and friends) for unknown names
            resolved = None
        if resolved:
            candidates.insert(0, f"{resolved}.{rest}" if rest else resolved)
        for candidate in candidates:
            try:
                found = loader.modules_collection[candidate]
            except Exception:  # KeyError, or an alias whose target is not loaded
                continue
            try:
                final = found.final_target if found.is_alias else found
            except Exception:
                continue
            if self._is_rendered(final):
                return str(final.path)
        return None

    def _is_rendered(self, obj: Any) -> bool:
        path: str = obj.path
        if not any(path == p or path.startswith(p + ".") for p in self.rendered):
            return False
        if obj.is_module:
            return path in self.rendered
        if not obj.docstring:  # undocumented members are not rendered on their own
            return False
        parent = obj
        while parent is not None and not parent.is_module:
            if parent.name.startswith("_") and not parent.name.startswith("__"):
                return False
            parent = parent.parent
        return True


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        if member.is_alias:
            continue
        yield from _walk(member)  # type: ignore[arg-type]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _fence_blocks(text: str) -> str:
    """``::`` literal blocks and ``>>>`` doctests as fenced code blocks."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith(">>>"):
            pad = " " * _indent(line)
            block: list[str] = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(pad) :])
                i += 1
            out += [pad + "```pycon", *(pad + b for b in block), pad + "```"]
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            base = _indent(line)
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and _indent(lines[j]) > base:
                head = line.rstrip()[:-2].rstrip()
                if head.strip():
                    out += [head + ":", ""]
                body: list[str] = []
                while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
                    body.append(lines[j])
                    j += 1
                while body and not body[-1].strip():
                    body.pop()
                cut = min(_indent(b) for b in body if b.strip())
                pad = " " * base
                out += [pad + "```python", *(pad + b[cut:] for b in body), pad + "```", ""]
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)
