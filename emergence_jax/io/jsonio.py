"""JSON as every stored file writes it: NumPy scalars and arrays become plain numbers and lists,
tuples become lists; ``canonical`` is the key-sorted form that checksums and
fingerprints are computed over."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["canonical", "dumps", "json_default", "sha256_hex"]


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def dumps(obj: Any, indent: int | None = 1) -> str:
    return json.dumps(obj, indent=indent, default=json_default)


def canonical(obj: Any) -> str:
    """Key-sorted JSON: equal content gives equal text (NaN kept as ``NaN``). Saved fits carry
    checksums of this text, so its form stays fixed."""
    return json.dumps(obj, sort_keys=True, default=json_default, allow_nan=True)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()
