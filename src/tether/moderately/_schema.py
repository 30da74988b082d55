"""Dataset schemas: column normalisation, a fluent builder, and inference from a CSV sample.

Everything here is pure (no I/O); the dataset resource sends what it builds.

Column types accept the official SDK's short names: ``int`` → ``integer``, ``str`` →
``string``, ``bool`` → ``boolean``, ``date`` → ``datetime``. A column is required unless
``required=False`` (or an explicit ``nullable=True``) says otherwise.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Self

from tether._core.errors import ValidationError
from tether.moderately.models import SchemaColumn

__all__ = [
    "TYPE_ALIASES",
    "ColumnSpec",
    "api_type",
    "column_request",
    "SchemaBuilder",
    "infer_columns",
    "infer_type",
    "normalise_columns",
]

TYPE_ALIASES: Final[Mapping[str, str]] = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "date": "datetime",
}
"""Short type names the official SDK accepts, mapped to the API's names."""

ColumnSpec = Mapping[str, Any] | SchemaColumn
"""A column: ``{"name", "type", "required"?, "description"?, ...}`` or a :class:`SchemaColumn`."""

_WIRE_KEYS: Final = {
    "pos": "pos",
    "source": "source",
    "transform_expr": "transformExpr",
    "transformExpr": "transformExpr",
    "description": "description",
    "operations": "operations",
}


def api_type(column_type: str) -> str:
    """The API's name for *column_type* (``"int"`` → ``"integer"``)."""
    return TYPE_ALIASES.get(column_type, column_type)


def column_request(spec: ColumnSpec, position: int) -> dict[str, Any]:
    """One column in the API's request form (*position* is used when the spec has none)."""
    if isinstance(spec, SchemaColumn):
        out: dict[str, Any] = {
            "pos": spec.pos if spec.pos is not None else position,
            "name": spec.name,
            "type": api_type(spec.type),
            "nullable": spec.nullable,
        }
        for key, value in (
            ("source", spec.source),
            ("transformExpr", spec.transform_expr),
            ("description", spec.description),
            ("operations", spec.operations),
        ):
            if value is not None:
                out[key] = value
        return out
    name = spec.get("name")
    kind = spec.get("type")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"column {position} needs a non-empty 'name'")
    if not isinstance(kind, str) or not kind:
        raise ValidationError(f"column {name!r} needs a 'type' (e.g. 'string', 'int')")
    if "nullable" in spec:
        nullable = bool(spec["nullable"])
    else:
        nullable = not bool(spec.get("required", True))
    out = {"pos": position, "name": name, "type": api_type(kind), "nullable": nullable}
    for key, wire in _WIRE_KEYS.items():
        if key in spec and spec[key] is not None:
            out[wire] = spec[key]
    return out


def normalise_columns(columns: Sequence[ColumnSpec]) -> list[dict[str, Any]]:
    """Columns in the API's request form, positions 1, 2, … unless given.

    Raises:
        ValidationError: no columns, a column without name or type, or a repeated name.
    """
    if isinstance(columns, str | bytes) or not columns:
        raise ValidationError("a schema needs at least one column")
    out = [column_request(spec, index) for index, spec in enumerate(columns, start=1)]
    names = [c["name"] for c in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationError(f"column names must be unique; repeated: {', '.join(repeated)}")
    return out


class SchemaBuilder:
    """Build a schema fluently, then create it with ``client.datasets.create_schema``.

    Pure: nothing is sent until the builder is handed to the resource.

    Example::

        builder = (
            SchemaBuilder()
            .add_column("id", "int")
            .add_column("name", "string", required=False)
            .with_parsing(delimiter=";", header_row=1)
            .as_current()
        )
        schema = await client.datasets.create_schema(dataset, builder)
    """

    def __init__(self, dataset_id: str | None = None) -> None:
        self.dataset_id = dataset_id
        self._columns: list[dict[str, Any]] = []
        self._parsing: dict[str, Any] = {}
        self.status = "draft"

    def __repr__(self) -> str:
        names = ", ".join(c["name"] for c in self._columns)
        return f"SchemaBuilder([{names}], status={self.status!r})"

    def add_column(
        self,
        name: str,
        column_type: str,
        *,
        required: bool = True,
        description: str | None = None,
        operations: Sequence[Mapping[str, Any]] | None = None,
        source: str | None = None,
        transform_expr: str | None = None,
    ) -> Self:
        """Append a column (position = its index, from 1)."""
        spec: dict[str, Any] = {"name": name, "type": column_type, "required": required}
        if description:
            spec["description"] = description
        if operations:
            spec["operations"] = [dict(o) for o in operations]
        if source is not None:
            spec["source"] = source
        if transform_expr is not None:
            spec["transformExpr"] = transform_expr
        column = column_request(spec, len(self._columns) + 1)
        if any(c["name"] == column["name"] for c in self._columns):
            raise ValidationError(f"column {name!r} is already in the schema")
        self._columns.append(column)
        return self

    def with_parsing(
        self,
        *,
        skip_rows: int | Sequence[int] | None = None,
        header_row: int | None = None,
        delimiter: str | None = None,
        encoding: str | None = None,
    ) -> Self:
        """Set how files are parsed (only the options given are set)."""
        if skip_rows is not None:
            self._parsing["skipRows"] = skip_rows if isinstance(skip_rows, int) else list(skip_rows)
        if header_row is not None:
            self._parsing["headerRow"] = header_row
        if delimiter is not None:
            self._parsing["delimiter"] = delimiter
        if encoding is not None:
            self._parsing["encoding"] = encoding
        return self

    def as_draft(self) -> Self:
        """Create the schema as a draft (the default)."""
        self.status = "draft"
        return self

    def as_current(self) -> Self:
        """Create the schema as the dataset's current schema."""
        self.status = "current"
        return self

    def columns(self) -> list[dict[str, Any]]:
        """The columns in the API's request form."""
        if not self._columns:
            raise ValidationError("a schema needs at least one column: call add_column() first")
        return [dict(c) for c in self._columns]

    def parsing_options(self) -> dict[str, Any] | None:
        """The parsing options, or ``None`` when none were set."""
        return dict(self._parsing) or None


# --- inference ---------------------------------------------------------------------------------

_BOOLEANS: Final = frozenset({"true", "false", "yes", "no", "y", "n", "t", "f"})
_DATETIME: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
    r"|^\d{1,2}/\d{1,2}/\d{4}$"
)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def infer_type(values: Sequence[str]) -> str:
    """The narrowest API type that fits every non-empty value.

    ``integer`` ⊂ ``float``; then ``boolean`` (true/false/yes/no), ``datetime`` (ISO dates and
    times, ``MM/DD/YYYY``), else ``string``. No values: ``string``.

    >>> infer_type(["1", "2"]), infer_type(["1.5", "2"]), infer_type(["2024-01-02"])
    ('integer', 'float', 'datetime')
    """
    present = [v.strip() for v in values if v.strip()]
    if not present:
        return "string"
    if all(_is_int(v) for v in present):
        return "integer"
    if all(_is_float(v) for v in present):
        return "float"
    if all(v.lower() in _BOOLEANS for v in present):
        return "boolean"
    if all(_DATETIME.match(v) for v in present):
        return "datetime"
    return "string"


def infer_columns(
    sample: bytes,
    *,
    header_row: int = 1,
    sample_size: int = 100,
    delimiter: str | None = None,
    infer_types: bool = True,
) -> list[dict[str, Any]]:
    """Columns for a CSV *sample*: names from the header row, types from up to *sample_size*
    rows after it. Every inferred column is nullable (a sample cannot prove a value is always
    present). With ``infer_types=False`` every column is a ``string``, as the official SDK does.

    Raises:
        ValidationError: the sample is not UTF-8 text, or has no header row.
    """
    if header_row < 1:
        raise ValidationError(f"header_row is 1-based, got {header_row}")
    try:
        text = sample.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut = exc.start >= len(sample) - 4  # a character cut at the end of a truncated sample
        if not cut:
            raise ValidationError(f"the sample is not UTF-8 text: {exc}") from exc
        text = sample[: exc.start].decode("utf-8-sig")
    sep = delimiter or _sniff_delimiter(text, header_row)
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    rows = [row for _, row in zip(range(header_row + sample_size), reader, strict=False)]
    if len(rows) < header_row or not any(cell.strip() for cell in rows[header_row - 1]):
        raise ValidationError("the sample has no header row")
    header = [cell.strip() for cell in rows[header_row - 1]]
    body = rows[header_row:]
    columns: list[dict[str, Any]] = []
    for index, name in enumerate(header):
        if not name:
            continue
        values = [row[index] for row in body if index < len(row)]
        kind = infer_type(values) if infer_types else "string"
        columns.append({"name": name, "type": kind, "required": False})
    return columns


def _sniff_delimiter(text: str, header_row: int) -> str:
    lines = text.split("\n", header_row)
    header = lines[header_row - 1] if len(lines) >= header_row else ""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","
