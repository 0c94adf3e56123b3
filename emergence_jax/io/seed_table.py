"""Seed tables: per-seed results as a long-format CSV, one row per (scale, seed[, group]).

    scale,seed,value[,n_eval][,group]
    1e6,0,0.00,200
    1e6,1,0.73,200

The file is UTF-8 text, with or without a byte-order mark (spreadsheet programs write one); other
encodings are refused with the first byte that is not UTF-8 named. ``read_seed_table`` parses the
text into columns and names the row (counting the header as row 1, as a spreadsheet shows it) and
the column of anything that is not a number or an integer (seeds and ``n_eval`` are exact
integers in the int64 range); what values are allowed — and that each (scale, seed[, group])
appears once — is checked by ``emergence_jax.analysis.SeedData``, which reports the same row
numbers. ``write_seed_table`` writes the columns back (atomically). The format, with an example, is
documented in ``docs/seed-csv.md``.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
from pathlib import Path

import numpy as np

from emergence_jax.core.errors import DataError, StoreError
from emergence_jax.io.location import Location

__all__ = ["OPTIONAL", "REQUIRED", "read_seed_table", "write_seed_table"]

REQUIRED = ("scale", "seed", "value")
OPTIONAL = ("n_eval", "group")
INT64 = (-2**63, 2**63 - 1)


def _parse_float(where: str, column: str, text: str) -> float:
    t = text.strip()
    if not t:
        raise DataError(f"{where}, column {column!r}: empty")
    try:
        return float(t)
    except ValueError:
        raise DataError(f"{where}, column {column!r}: {t!r} is not a number") from None


def _parse_int(where: str, column: str, text: str) -> int:
    """An exact integer: written as one (``12``), or as a float with an integer value below 2⁵³
    (``1e3``, ``7.0``), within int64."""
    t = text.strip()
    try:
        v = int(t)
    except ValueError:
        f = _parse_float(where, column, text)
        if not math.isfinite(f) or f != round(f) or abs(f) >= 2**53:
            raise DataError(f"{where}, column {column!r}: {t!r} is not an integer"
                            + (" (write large integers without a decimal point or exponent)"
                               if math.isfinite(f) and abs(f) >= 2**53 else "")) from None
        v = int(f)
    if not INT64[0] <= v <= INT64[1]:
        raise DataError(f"{where}, column {column!r}: {t} is outside the int64 range "
                        f"({INT64[0]}..{INT64[1]})")
    return v


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything else is a ``DataError`` naming the
    row and the byte."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{path}: the file is UTF-16 text; save it as UTF-8 (\"CSV UTF-8\")")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        row = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}: row {row}: byte 0x{raw[e.start]:02x} is not UTF-8; the file is "
                        "in another encoding (Latin-1 or Windows-1252, as some spreadsheet "
                        "programs save it?). Save it as UTF-8 (\"CSV UTF-8\") and try again") \
            from None


def read_seed_table(path: str | os.PathLike) -> dict:
    """Columns of a seed CSV: ``scale`` (float64), ``seed`` (int64), ``value`` (float64),
    ``n_eval`` (int64 or None), ``group`` (str or None), and ``row`` (int64: each entry's row
    number in the file, for error messages)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: " + ("a directory, not a CSV file" if path.is_dir()
                                       else "no such CSV file"))
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e})") from None
    columns: dict[str, list] = {c: [] for c in REQUIRED + OPTIONAL + ("row",)}
    with io.StringIO(_decode(path, raw), newline="") as f:
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
        twice = sorted({c for c in REQUIRED + OPTIONAL if header.count(c) > 1})
        if twice:
            raise DataError(f"{path}: row 1 (header): column {twice[0]!r} appears more than once")
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
    """Writes the columns as a seed CSV (floats with ``repr`` precision, so they read back equal),
    atomically: the file is replaced whole or not at all."""
    cols = ["scale", "seed", "value"] + (["n_eval"] if n_eval is not None else []) + (
        ["group"] if group is not None else [])
    f = io.StringIO(newline="")
    w = csv.writer(f)
    w.writerow(cols)
    for i in range(len(value)):
        row = [repr(float(scale[i])), int(seed[i]), repr(float(value[i]))]
        if n_eval is not None:
            row.append(int(n_eval[i]))
        if group is not None:
            row.append(group[i])
        w.writerow(row)
    target = Location(path)
    if target.local is None:
        raise StoreError(f"{path}: a seed CSV is written to a local file")
    if target.local.is_dir():
        raise StoreError(f"{target.local} is a directory; give the CSV file's name")
    Location(target.local.parent).write_atomic(target.local.name, f.getvalue().encode("utf-8"))
