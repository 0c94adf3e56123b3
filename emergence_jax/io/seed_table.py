"""Seed tables: per-seed results as a long-format CSV, one row per (scale, seed[, group]).

    scale,seed,value[,n_eval][,group]
    1e6,0,0.00,200
    1e6,1,0.73,200

``read_seed_table`` parses the text into columns and names the row (counting the header as row 1,
as a spreadsheet shows it) and the column of anything that is not a number or an integer; what
values are allowed is checked by ``emergence_jax.analysis.SeedData``, which reports the same row
numbers. ``write_seed_table`` writes the columns back.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from emergence_jax.core.errors import DataError

__all__ = ["OPTIONAL", "REQUIRED", "read_seed_table", "write_seed_table"]

REQUIRED = ("scale", "seed", "value")
OPTIONAL = ("n_eval", "group")


def _parse_float(where: str, column: str, text: str) -> float:
    t = text.strip()
    if not t:
        raise DataError(f"{where}, column {column!r}: empty")
    try:
        return float(t)
    except ValueError:
        raise DataError(f"{where}, column {column!r}: {t!r} is not a number") from None


def _parse_int(where: str, column: str, text: str) -> int:
    v = _parse_float(where, column, text)
    if not math.isfinite(v) or v != round(v):
        raise DataError(f"{where}, column {column!r}: {text.strip()!r} is not an integer")
    return int(round(v))


def read_seed_table(path: str | os.PathLike) -> dict:
    """Columns of a seed CSV: ``scale`` (float64), ``seed`` (int64), ``value`` (float64),
    ``n_eval`` (int64 or None), ``group`` (str or None), and ``row`` (int64: each entry's row
    number in the file, for error messages)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such CSV file")
    columns: dict[str, list] = {c: [] for c in REQUIRED + OPTIONAL + ("row",)}
    with open(path, newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file (expected a header row)") from None
        except csv.Error as e:
            raise DataError(f"{path}: row 1: {e}") from None
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise DataError(f"{path}: row 1 (header): missing column(s) {', '.join(missing)}; "
                            f"required {', '.join(REQUIRED)}, optional {', '.join(OPTIONAL)}")
        col = {c: header.index(c) for c in REQUIRED + OPTIONAL if c in header}
        try:
            for rownum, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                where = f"{path}: row {rownum}"
                if len(row) < len(header):
                    raise DataError(f"{where}: {len(row)} fields, header has {len(header)}")
                columns["scale"].append(_parse_float(where, "scale", row[col["scale"]]))
                columns["seed"].append(_parse_int(where, "seed", row[col["seed"]]))
                columns["value"].append(_parse_float(where, "value", row[col["value"]]))
                if "n_eval" in col:
                    columns["n_eval"].append(_parse_int(where, "n_eval", row[col["n_eval"]]))
                if "group" in col:
                    columns["group"].append(row[col["group"]].strip())
                columns["row"].append(rownum)
        except csv.Error as e:
            raise DataError(f"{path}: row {reader.line_num}: {e}") from None
    if not columns["value"]:
        raise DataError(f"{path}: no data rows")
    return {"scale": np.array(columns["scale"], np.float64),
            "seed": np.array(columns["seed"], np.int64),
            "value": np.array(columns["value"], np.float64),
            "n_eval": np.array(columns["n_eval"], np.int64) if "n_eval" in col else None,
            "group": np.array(columns["group"], dtype=str) if "group" in col else None,
            "row": np.array(columns["row"], np.int64)}


def write_seed_table(path: str | os.PathLike, scale, seed, value, n_eval=None, group=None) -> None:
    """Writes the columns as a seed CSV (floats with ``repr`` precision, so they read back equal)."""
    cols = ["scale", "seed", "value"] + (["n_eval"] if n_eval is not None else []) + (
        ["group"] if group is not None else [])
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for i in range(len(value)):
            row = [repr(float(scale[i])), int(seed[i]), repr(float(value[i]))]
            if n_eval is not None:
                row.append(int(n_eval[i]))
            if group is not None:
                row.append(group[i])
            w.writerow(row)
