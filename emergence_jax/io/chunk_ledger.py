"""The run store's chunk ledger: which chunks were written, and whether they still hold it.

Every zarr chunk a sweep writes is recorded in the run metadata (``digests``) with a digest of
its values (the first 16 hex digits of the SHA-256 of the chunk's little-endian bytes), when the
point's ``completion`` that covers it is recorded::

    digests = {"metrics":     [[digest or None per eval chunk] per scale point],
               "diverged":    [digest or None per scale point],
               "diverged_at": [digest or None per scale point]}

``metrics`` chunk ``k`` of point ``p`` holds evaluations ``k*chunk_evals .. (k+1)*chunk_evals - 1``
of every seed and metric, stored under the key ``metrics/c/p/0/k/0``; the flags of point ``p``
are ``diverged/c/p/0`` and ``diverged_at/c/p/0``. ``find_problems`` compares the ledger with
the keys that exist and with the values read: a chunk that completion counts but whose key is
gone is *missing*; one whose values differ from its digest is *corrupt*. The flags of an
unfinished point change with every chunk, so only their presence is checked until the point is
complete.

Stores written before the ledger (format version 1) have no digests: their metrics chunks are
checked for presence only (a missing chunk of a point whose seeds all diverged held nothing but
NaN, which tensorstore did not store), and their flags not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

__all__ = ["ChunkProblem", "chunk_digest", "chunk_key", "empty_ledger", "find_problems",
           "ledger_error", "metrics_chunks"]

FLAG_ARRAYS = ("diverged", "diverged_at")


def chunk_digest(values: np.ndarray) -> str:
    """Digest of one chunk's values: dtype, shape and little-endian bytes."""
    values = np.ascontiguousarray(values)
    values = values.astype(values.dtype.newbyteorder("<"), copy=False)
    h = hashlib.sha256(f"{values.dtype.str}{values.shape}".encode())
    h.update(values.tobytes())
    return h.hexdigest()[:16]


def chunk_key(array: str, point: int, chunk: int | None = None) -> str:
    """The kvstore key of a chunk (zarr v3 default chunk key encoding)."""
    if array == "metrics":
        return f"metrics/c/{point}/0/{chunk}/0"
    return f"{array}/c/{point}/0"


def metrics_chunks(meta: dict) -> int:
    """Chunks along the eval_step axis."""
    return math.ceil(len(meta["eval_steps"]) / meta["chunk_evals"])


def empty_ledger(meta: dict) -> dict:
    p = len(meta["scale_points"])
    return {"metrics": [[None] * metrics_chunks(meta) for _ in range(p)],
            "diverged": [None] * p, "diverged_at": [None] * p}


def ledger_error(meta: dict) -> str | None:
    """What is malformed about ``meta["digests"]`` (None when absent or well formed)."""
    ledger = meta.get("digests")
    if ledger is None:
        return None
    p, k = len(meta["scale_points"]), metrics_chunks(meta)
    ok_entry = lambda d: d is None or (isinstance(d, str) and len(d) == 16)  # noqa: E731
    if not isinstance(ledger, dict) or set(ledger) != {"metrics", *FLAG_ARRAYS}:
        return "is not an object with metrics, diverged and diverged_at"
    rows = ledger["metrics"]
    if not (isinstance(rows, list) and len(rows) == p
            and all(isinstance(r, list) and len(r) == k and all(map(ok_entry, r)) for r in rows)):
        return f"metrics is not {p} lists of {k} digests"
    for name in FLAG_ARRAYS:
        if not (isinstance(ledger[name], list) and len(ledger[name]) == p
                and all(map(ok_entry, ledger[name]))):
            return f"{name} is not {p} digests"
    return None


@dataclasses.dataclass(frozen=True)
class ChunkProblem:
    """A chunk the ledger counts that is missing or holds other values than were written."""
    array: str
    point: int
    kind: str                     # "missing" | "corrupt" | "undecodable"
    key: str
    evals: tuple[int, int] | None  # evaluation range [start, stop) of a metrics chunk

    def describe(self, meta: dict) -> str:
        coords = meta["scale_points"][self.point].get("coords") or {}
        where = " ".join(f"{k}={v}" for k, v in coords.items()) or "base config"
        what = (f"metrics of evaluations {self.evals[0] + 1}..{self.evals[1]}"
                if self.evals else f"{self.array} flags")
        state = {"missing": "missing", "corrupt": "corrupt (its values differ from those written)",
                 "undecodable": "corrupt (cannot be decoded)"}[self.kind]
        return f"scale point {self.point} ({where}): {what} ({self.key}) {state}"


def _counted_chunks(meta: dict, point: int) -> int:
    return int(meta["completion"][point]) // int(meta["chunk_evals"])


def find_problems(meta: dict, keys: set[str], data: dict[str, np.ndarray] | None = None,
                  complete: list[bool] | None = None) -> list[ChunkProblem]:
    """Every counted chunk that is missing from ``keys`` or (when ``data`` holds the arrays as
    read) differs from its digest. ``complete[p]``: the point's flags are final."""
    ledger = meta.get("digests")
    ce = int(meta["chunk_evals"])
    problems = []
    for p in range(len(meta["scale_points"])):
        counted = _counted_chunks(meta, p)
        for k in range(counted):
            key = chunk_key("metrics", p, k)
            recorded = ledger["metrics"][p][k] if ledger else None
            evals = (k * ce, (k + 1) * ce)
            if key not in keys:
                if ledger is None and data is not None and bool(np.all(data["diverged"][p])):
                    continue  # format 1: an all-NaN chunk of an all-diverged point was not stored
                problems.append(ChunkProblem("metrics", p, "missing", key, evals))
            elif data is not None and recorded is not None and \
                    chunk_digest(data["metrics"][p, :, evals[0]:evals[1], :]) != recorded:
                problems.append(ChunkProblem("metrics", p, "corrupt", key, evals))
        if ledger is None or counted == 0:
            continue
        for name in FLAG_ARRAYS:
            key = chunk_key(name, p)
            if key not in keys:
                problems.append(ChunkProblem(name, p, "missing", key, None))
            elif (data is not None and complete is not None and complete[p]
                  and ledger[name][p] is not None
                  and chunk_digest(data[name][p]) != ledger[name][p]):
                problems.append(ChunkProblem(name, p, "corrupt", key, None))
    return problems
