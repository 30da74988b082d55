"""Dataset export: a zip with a folder per dataset (``schema.json`` + CSV) and ``manifest.json``,
laid out like the archives a 26.11.1 leader writes."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tether.testing.pioreactor._catalog import catalog
from tether.testing.pioreactor._leader import Leader
from tether.testing.pioreactor._wire import as_dict, iso_ms, parse_timestamp

__all__ = ["dataset_rows", "write_export"]


def dataset_rows(leader: Leader, dataset: str) -> list[dict[str, Any]] | None:
    """The rows of *dataset* (None when the simulator does not know it)."""
    if dataset == "logs":
        return [row.as_json() for row in leader.logs]
    if dataset == "experiments":
        return [
            {
                "experiment": e.name,
                "created_at": e.created_at,
                "description": e.description,
            }
            for e in leader.experiments.values()
        ]
    if dataset == "pioreactor_unit_labels":
        return [
            {"experiment": exp, "pioreactor_unit": unit, "label": label, "created_at": None}
            for exp, labels in leader.labels.items()
            for unit, label in labels.items()
        ]
    if dataset in leader.series:
        return [dict(row) for row in leader.series[dataset]]
    return None


def _in_window(row: Mapping[str, Any], start: datetime | None, end: datetime | None) -> bool:
    if start is None and end is None:
        return True
    stamp = parse_timestamp(str(row.get("timestamp") or row.get("created_at") or ""))
    if stamp is None:
        return False
    return (start is None or stamp >= start) and (end is None or stamp <= end)


def write_export(
    leader: Leader,
    folder: Path,
    *,
    datasets: Sequence[str],
    experiments: Sequence[str] | None,
    partition_by_unit: bool,
    partition_by_experiment: bool,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> str:
    """Write the archive into *folder* and return its file name."""
    stamp = now.strftime("%Y%m%d%H%M%S")
    label = experiments[0] if experiments is not None and len(experiments) == 1 else "all"
    filename = f"export_{label}_{stamp}.zip" if experiments is not None else f"export_{stamp}.zip"
    descriptors = {d["dataset_name"]: d for d in catalog("exportable_datasets.json")}
    manifest_sets: list[dict[str, Any]] = []
    with zipfile.ZipFile(folder / filename, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in datasets:
            descriptor = descriptors.get(name)
            rows = dataset_rows(leader, name)
            if descriptor is None or rows is None:
                continue
            if experiments is not None and descriptor.get("has_experiment"):
                rows = [row for row in rows if row.get("experiment") in experiments]
            rows = [row for row in rows if _in_window(row, start, end)]
            schema = {
                "columns": [
                    {"description": text, "generated": False, "name": column}
                    for column, text in as_dict(descriptor.get("column_descriptions")).items()
                ]
            }
            archive.writestr(f"{name}/schema.json", json.dumps(schema, indent=2, sort_keys=True))
            groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for row in rows:
                unit = (
                    str(row.get("pioreactor_unit", "all_units"))
                    if partition_by_unit
                    else "all_units"
                )
                exp = str(row.get("experiment", label)) if partition_by_experiment else label
                groups.setdefault((exp, unit), []).append(row)
            paths: list[str] = []
            for (exp, unit), grouped in sorted(groups.items()):
                path = f"{name}/{name}-{exp}-{unit}-{stamp}.csv"
                buffer = io.StringIO()
                writer = csv.DictWriter(buffer, fieldnames=list(grouped[0]))
                writer.writeheader()
                writer.writerows(grouped)
                archive.writestr(path, buffer.getvalue())
                paths.append(path)
            manifest_sets.append(
                {
                    "csv_files": [p.rsplit("/", 1)[-1] for p in paths],
                    "csv_paths": paths,
                    "dataset_name": name,
                    "display_name": descriptor.get("display_name", name),
                    "partition_values": {
                        "experiments": sorted({e for e, _ in groups}),
                        "pioreactor_units": sorted({u for _, u in groups if u != "all_units"}),
                    },
                    "row_count": len(rows),
                    "schema_path": f"{name}/schema.json",
                }
            )
        manifest = {
            "datasets": manifest_sets,
            "export_created_at": now.isoformat(),
            "filters": {
                "end_time": iso_ms(end) if end else None,
                "experiment": label if experiments is not None else None,
                "partition_by_experiment": partition_by_experiment,
                "partition_by_unit": partition_by_unit,
                "start_time": iso_ms(start) if start else None,
            },
            "pioreactor_version": leader.version,
            "schema_version": 1,
            "selected_datasets": list(datasets),
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
    return filename
