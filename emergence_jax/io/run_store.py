"""The run store: every per-seed metric of a sweep, as zarr (v3) arrays written with tensorstore.

Layout of a run directory (a local path, or any tensorstore kvstore URL such as ``gs://bucket/run``,
``file:///abs/path`` or ``memory://name``)::

    RUN/zarr.json        zarr group; its attribute ``emergence_jax`` holds the run metadata
    RUN/metrics/         float32 [scale_point, seed, eval_step, metric], NaN where not yet written
    RUN/diverged/        bool    [scale_point, seed]
    RUN/diverged_at/     int32   [scale_point, seed], step at which a seed diverged, -1 if never
    RUN/checkpoints/     orbax checkpoints of the population state, one folder per scale point
    RUN/writer.lock      while a sweep writes: who (host, PID, start time, command); see below

The eval_step axis is the longest scale point's list of eval steps. Points may train for
different numbers of steps (``train.steps`` is a sweep axis) as long as they share
``train.eval_every``, so every point's eval steps are a prefix of that list; ``num_evals`` in the
metadata says how many each point has, and a shorter point's later entries stay NaN.

``metrics`` is chunked [1, S, chunk_evals, M] where ``chunk_evals`` divides every point's own
evaluations per training chunk (their gcd), so each host round-trip of training writes whole zarr
chunks (exactly one when all points chunk alike). The metadata (config, fingerprint, scale points
with coordinates and sizes, metric names, eval steps, evaluations per point, seeds, completion per
scale point, a digest of every written chunk, library versions) is replaced atomically (temp file
+ ``os.replace`` locally; single-object writes elsewhere).

Every chunk is accounted for (``emergence_jax.io.chunk_ledger``): ``completion`` says how many
evaluations of each point are written and ``digests`` holds a digest of each chunk they cover.
``load_run`` refuses a store whose counted chunks are missing or altered (``StoreError`` naming
the chunk) rather than returning fill values, ``verify_run`` lists every such chunk
(``emergence-jax inspect --verify``), and a resumed sweep re-trains exactly those chunks
(``RunStore.repairs``). Readers see only complete data: values past a point's completion read
as NaN.

One writer at a time: the sweep holds ``writer.lock`` (``WriterLock`` in
``emergence_jax.io.location``) while it writes; a second writer is refused naming the holder.
Readers ignore the lock.

Only the store's own entries are ever deleted (``--overwrite``, or the leftovers of an interrupted
creation), and only when they are recognisably a run store's: a file or folder of someone else's
that happens to be called ``metrics`` or ``checkpoints`` is never touched.

``load_run(path)`` returns a ``Run`` with plain NumPy arrays; it never imports JAX.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import re
from typing import Any

import numpy as np

from emergence_jax.core.errors import StoreError
from emergence_jax.io import jsonio
from emergence_jax.io.chunk_ledger import (FLAG_ARRAYS, ChunkProblem, chunk_digest, chunk_key,
                                           empty_ledger, find_problems, ledger_error,
                                           metrics_chunks)
from emergence_jax.io.location import Location, WriterLock, library_error, tensorstore_context

FORMAT = "emergence_jax.run_store"
# 2: per-chunk digests (``digests``) and the writer lock. Version 1 stores are read, and upgraded
# to version 2 when a sweep resumes them.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
LOCK_KEY = "writer.lock"
ATTRIBUTE = "emergence_jax"          # key of the metadata inside the group's attributes
GROUP_KEY = "zarr.json"
CHECKPOINTS = "checkpoints"
ARRAY_DIMS = {
    "metrics": ("scale_point", "seed", "eval_step", "metric"),
    "diverged": ("scale_point", "seed"),
    "diverged_at": ("scale_point", "seed"),
}
ARRAY_DTYPES = {"metrics": "float32", "diverged": "bool", "diverged_at": "int32"}
FILL_VALUES = {"metrics": "NaN", "diverged": False, "diverged_at": -1}
# Every top-level entry a run store writes; the only ones ``--overwrite`` ever deletes (and only
# when they are recognisably a run store's, see ``_foreign_entries``). The writer lock is not one:
# it belongs to the process that holds it.
STORE_ENTRIES = (GROUP_KEY, *ARRAY_DIMS, CHECKPOINTS)
# Config fields that do not change any stored number: a run may resume with them changed. An entry
# ending in "." ignores every field under that section.
RESUME_IGNORED = ("name", "train.checkpoint_every_chunks", "sweep.nest", "analysis.")

# --------------------------------------------------------------------------------------------
# Metadata helpers.


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("emergence_jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint",
                 "tensorstore", "numpy"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def resume_ignored(field: str) -> bool:
    """True for a (dotted) config field that a resumed run may change: see ``RESUME_IGNORED``."""
    for entry in RESUME_IGNORED:
        if entry.endswith("."):
            if field.startswith(entry) or field == entry[:-1]:
                return True
        elif field == entry:
            return True
    return False


def _resume_view(config: dict) -> dict:
    flat = flatten_config(config)
    return {k: v for k, v in flat.items() if not resume_ignored(k)}


def flatten_config(config: dict, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"width": 64}}`` -> ``{"model.width": 64}`` (sweep axes stay one value)."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name != "sweep.axes":
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


def config_fingerprint(config: dict) -> str:
    """SHA-256 of the canonical JSON of every config field that affects stored numbers."""
    return jsonio.sha256_hex(jsonio.canonical(_resume_view(config)))


def config_differences(old: dict, new: dict) -> list[str]:
    """Human-readable ``field: old -> new`` lines for the fields that change stored numbers."""
    a, b = _resume_view(old), _resume_view(new)
    lines = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            lines.append(f"{key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
    return lines


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_metadata(loc: Location) -> dict | None:
    """The run metadata, or None when ``loc`` holds no run store. Malformed metadata is an error."""
    raw = loc.read(GROUP_KEY)
    if raw is None:
        return None
    try:
        group = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"{loc}/{GROUP_KEY} is not valid JSON ({e}); the run metadata is "
                         "corrupt or this is not a run store") from None
    attrs = group.get("attributes") if isinstance(group, dict) else None
    meta = attrs.get(ATTRIBUTE) if isinstance(attrs, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StoreError(f"{loc} holds a zarr.json that is not an emergence_jax run store "
                         f"(no {ATTRIBUTE!r} attribute with format {FORMAT!r})")
    if meta.get("format_version") not in READABLE_VERSIONS:
        raise StoreError(f"{loc}: run store format version {meta.get('format_version')!r} is not "
                         f"supported (this version of emergence_jax reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}); a newer version wrote it")
    _check_metadata(loc, meta)
    return meta


_REQUIRED = {"config": dict, "fingerprint": str, "scale_points": list, "metric_names": list,
             "eval_steps": list, "seeds": list, "scale_variable": str, "eval_examples": int,
             "chunk_evals": int, "completion": list, "axes": list}
_INT64 = (-2**63, 2**63 - 1)
_CONFIG_SECTIONS = ("model", "task", "optimizer", "train", "population", "sweep", "analysis")


def _is_int(x, low: int | None = None, high: int | None = None) -> bool:
    return (isinstance(x, int) and not isinstance(x, bool) and (low is None or x >= low)
            and (high is None or x <= high))


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def point_num_evals(meta: dict) -> list[int]:
    """Evaluations of each scale point (its eval steps are ``eval_steps[:n]``). Stores written
    before points could differ in length have no ``num_evals``: every point has them all."""
    if "num_evals" in meta:
        return [int(n) for n in meta["num_evals"]]
    return [len(meta["eval_steps"])] * len(meta["scale_points"])


def _check_metadata(loc: Location, meta: dict) -> None:
    """Every field a reader relies on has the type and range it must have; anything else is a
    ``StoreError`` naming the field (a hand-edited or damaged ``zarr.json``)."""
    def bad(field: str, value, allowed: str) -> StoreError:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return StoreError(f"{loc}: run metadata field {field!r} is {shown}; expected {allowed}. "
                          "The metadata is corrupt or was edited by hand")

    for key, kind in _REQUIRED.items():
        if not isinstance(meta.get(key), kind) or (kind is int and isinstance(meta[key], bool)):
            raise bad(key, meta.get(key), f"a {kind.__name__}")
    p = len(meta["scale_points"])
    e = len(meta["eval_steps"])
    if not _is_int(meta["chunk_evals"], 1) or (e and e % meta["chunk_evals"]):
        raise bad("chunk_evals", meta["chunk_evals"],
                  f"a positive integer dividing the {e} eval steps")
    if not _is_int(meta["eval_examples"], 1):
        raise bad("eval_examples", meta["eval_examples"], "a positive integer")
    steps = meta["eval_steps"]
    if not all(_is_int(x, 1) for x in steps) or any(a >= b for a, b in zip(steps, steps[1:])):
        raise bad("eval_steps", steps, "increasing positive integers")
    seeds = meta["seeds"]
    if not all(_is_int(x, *_INT64) for x in seeds) or len(set(seeds)) != len(seeds):
        raise bad("seeds", seeds, "distinct integers (int64)")
    names = meta["metric_names"]
    if not all(isinstance(x, str) for x in names) or len(set(names)) != len(names):
        raise bad("metric_names", names, "distinct strings")
    if not all(isinstance(x, str) for x in meta["axes"]):
        raise bad("axes", meta["axes"], "a list of field names")
    for section in _CONFIG_SECTIONS:
        if section in meta["config"] and not isinstance(meta["config"][section], dict):
            raise bad(f"config.{section}", meta["config"][section], "a section (an object)")
    if "num_evals" in meta:
        n = meta["num_evals"]
        if not isinstance(n, list) or len(n) != p or not all(_is_int(x, 1, e) for x in n):
            raise bad("num_evals", n, f"one count in 1..{e} per scale point ({p})")
    num_evals = point_num_evals(meta)
    completion = meta["completion"]
    if len(completion) != p or not all(_is_int(c, 0, n) for c, n in zip(completion, num_evals)):
        raise bad("completion", completion,
                  f"one count of written evaluations per scale point ({p}), each in 0..num_evals")
    for i, point in enumerate(meta["scale_points"]):
        if not (isinstance(point, dict) and isinstance(point.get("coords"), dict)
                and isinstance(point.get("sizes"), dict)):
            raise bad(f"scale_points[{i}]", point, "an object with coords and sizes objects")
        for k, v in point["sizes"].items():
            if not _is_number(v) or v < 0:
                raise bad(f"scale_points[{i}].sizes.{k}", v, "a non-negative number")
    problem = ledger_error(meta)
    if problem:
        raise bad("digests", meta.get("digests"), f"a chunk ledger ({problem})")


def write_metadata(loc: Location, meta: dict) -> None:
    meta = dict(meta, updated=_now())
    group = {"zarr_format": 3, "node_type": "group", "attributes": {ATTRIBUTE: meta}}
    loc.write_atomic(GROUP_KEY, jsonio.dumps(group).encode())


# --------------------------------------------------------------------------------------------
# Arrays.


def _array_spec(loc: Location, name: str, shape: tuple[int, ...] | None = None,
                chunks: tuple[int, ...] | None = None) -> dict:
    # Chunks equal to the fill value are stored too, so every written chunk has a key and a
    # missing key always means a lost chunk.
    spec: dict[str, Any] = {"driver": "zarr3", "kvstore": loc.kvstore(name),
                            "store_data_equal_to_fill_value": True}
    if shape is not None:
        spec["metadata"] = {
            "shape": list(shape),
            "data_type": ARRAY_DTYPES[name],
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": FILL_VALUES[name],
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "zstd", "configuration": {"level": 3, "checksum": False}}],
            "dimension_names": list(ARRAY_DIMS[name]),
        }
    return spec


def _open_array(loc: Location, name: str, expected_shape: tuple[int, ...], *, write: bool):
    import tensorstore as ts
    try:
        arr = ts.open(_array_spec(loc, name), context=tensorstore_context(), open=True,
                      read=True, write=write).result()
    except Exception as e:  # noqa: BLE001
        raise StoreError(f"{loc}: cannot open the {name!r} array ({library_error(e)}); the "
                         "store is incomplete or corrupt") from None
    if tuple(arr.shape) != tuple(expected_shape):
        raise StoreError(f"{loc}: the {name!r} array has shape {tuple(arr.shape)} but the "
                         f"metadata implies {tuple(expected_shape)}; the store is corrupt or "
                         "mixes two runs")
    if str(arr.dtype.name) != ARRAY_DTYPES[name]:
        raise StoreError(f"{loc}: the {name!r} array has dtype {arr.dtype.name}, expected "
                         f"{ARRAY_DTYPES[name]}")
    return arr


def _shapes(meta: dict) -> dict[str, tuple[int, ...]]:
    p, s = len(meta["scale_points"]), len(meta["seeds"])
    e, m = len(meta["eval_steps"]), len(meta["metric_names"])
    return {"metrics": (p, s, e, m), "diverged": (p, s), "diverged_at": (p, s)}


def _store_entries_only(loc: Location) -> bool:
    """True when a local directory holds nothing but (pieces of) a run store and its lock."""
    return all(p.name in STORE_ENTRIES or p.name == LOCK_KEY
               or p.name.startswith((f".{GROUP_KEY}.", f".{LOCK_KEY}."))
               for p in loc.local.iterdir())


_CHECKPOINT_CHILD = re.compile(r"^(point_\d+(/.*)?|zarr\.json)$")


def _json_at(loc: Location, key: str):
    try:
        raw = loc.read(key)
        return None if raw is None else json.loads(raw.decode("utf-8"))
    except (StoreError, UnicodeDecodeError, json.JSONDecodeError):
        return "unreadable"


def _foreign_entries(loc: Location) -> list[str]:
    """The entries named like a store's (``STORE_ENTRIES``) that a run store did not write: a
    valid zarr.json without run metadata, an array folder of other dimensions, a checkpoints
    folder holding anything but per-point checkpoint folders, a file where a folder belongs."""
    foreign = []
    for name in STORE_ENTRIES:
        if loc.local is not None:
            path = loc.local / name
            if not (path.exists() or path.is_symlink()):
                continue
            if path.is_symlink() or (name == GROUP_KEY) != path.is_file():
                foreign.append(name)
                continue
        if name == GROUP_KEY:
            group = _json_at(loc, GROUP_KEY)
            attrs = group.get("attributes") if isinstance(group, dict) else None
            if isinstance(attrs, dict) and ATTRIBUTE not in attrs:
                foreign.append(name)  # someone else's zarr group (garbage counts as ours)
            continue
        keys = [k[len(name) + 1:] for k in loc.list_keys(name + "/")]
        if not keys:
            continue
        if name == CHECKPOINTS:
            if not all(_CHECKPOINT_CHILD.match(k) for k in keys):
                foreign.append(name)
            continue
        array = _json_at(loc, f"{name}/{GROUP_KEY}")
        ours = (isinstance(array, dict)
                and array.get("dimension_names") == list(ARRAY_DIMS[name]))
        if not ours and not all(k.startswith("c/") for k in keys):
            foreign.append(name)
    return foreign


def _delete_own_entries(loc: Location) -> None:
    """Deletes the run store's entries; refuses (deleting nothing) when one is someone else's."""
    foreign = _foreign_entries(loc)
    if foreign:
        raise StoreError(f"{loc}: {', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not "
                         "part of a run store, and a run store would replace "
                         f"{'it' if len(foreign) == 1 else 'them'}; nothing was deleted. Move "
                         f"{'it' if len(foreign) == 1 else 'them'} away or choose another output path")
    loc.delete_entries(list(STORE_ENTRIES))


# --------------------------------------------------------------------------------------------
# Chunk accounting (see ``emergence_jax.io.chunk_ledger``).


def _chunk_keys(loc: Location, name: str | None = None) -> set[str]:
    """The keys of the stored chunks of one array (default: all three)."""
    names = [name] if name else list(ARRAY_DIMS)
    return {k for n in names for k in loc.list_keys(f"{n}/c/")}


def _completed(meta: dict) -> list[bool]:
    return [c >= n for c, n in zip(meta["completion"], point_num_evals(meta))]


def _read_arrays(loc: Location, meta: dict, arrays: dict) -> dict[str, np.ndarray]:
    """Every array, read whole; a chunk that cannot be decoded is a ``StoreError`` naming it."""
    data = {}
    for name, arr in arrays.items():
        try:
            data[name] = np.asarray(arr.read().result())
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"{loc}: reading the {name!r} array failed ({library_error(e)}); "
                             f"{_unreadable_chunk(meta, name, arr)} is corrupt. "
                             f"`emergence-jax inspect --verify {loc}` lists every damaged chunk; "
                             "rerunning the sweep with the same config re-trains them") from None
    return data


def _unreadable_chunk(meta: dict, name: str, arr) -> str:
    """The key of the first chunk of ``arr`` that cannot be read (for error messages)."""
    ce = meta["chunk_evals"]
    for p in range(arr.shape[0]):
        chunks = range(metrics_chunks(meta)) if name == "metrics" else [None]
        for k in chunks:
            view = arr[p, :, k * ce:(k + 1) * ce, :] if name == "metrics" else arr[p, :]
            try:
                view.read().result()
            except Exception:  # noqa: BLE001
                return f"the chunk {chunk_key(name, p, k)}"
    return "a chunk"


def _ledger_from_data(meta: dict, data: dict, problems: list[ChunkProblem]) -> dict:
    """Digests of the counted chunks as they are stored (upgrading a format-1 store); damaged
    chunks stay unrecorded until they are written again."""
    ledger = empty_ledger(meta)
    bad = {(q.array, q.point, q.evals) for q in problems}
    ce = meta["chunk_evals"]
    for p, done in enumerate(_completed(meta)):
        for k in range(meta["completion"][p] // ce):
            evals = (k * ce, (k + 1) * ce)
            if ("metrics", p, evals) not in bad:
                ledger["metrics"][p][k] = chunk_digest(data["metrics"][p, :, evals[0]:evals[1]])
        if done:
            for name in FLAG_ARRAYS:
                ledger[name][p] = chunk_digest(data[name][p])
    return ledger


def _repairs(meta: dict, problems: list[ChunkProblem]) -> dict[int, list[tuple[int, int]]]:
    """Per point, the evaluation ranges to write again. Damaged flags are rewritten with the
    point's last counted chunk (the flags are written with every chunk)."""
    ce = meta["chunk_evals"]
    out: dict[int, set] = {}
    for q in problems:
        if q.evals is not None:
            out.setdefault(q.point, set()).add(q.evals)
        else:
            done = meta["completion"][q.point]
            out.setdefault(q.point, set()).add((done - ce, done))
    return {p: sorted(r) for p, r in sorted(out.items())}


def _problems_error(loc: Location, meta: dict, problems: list[ChunkProblem]) -> StoreError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return StoreError(f"{loc}: {problems[0].describe(meta)}{more}; the store has lost data it "
                      f"recorded as written. `emergence-jax inspect --verify {loc}` lists every "
                      "damaged chunk; rerunning the sweep with the same config re-trains them")


class RunStore:
    """Writer side of a run store (used by the sweep)."""

    def __init__(self, loc: Location, meta: dict, arrays: dict):
        self.loc, self.meta, self.arrays = loc, meta, arrays
        # Per point, the evaluation ranges [start, stop) below its completion that must be
        # written again (their chunks are missing or corrupt); filled when a store is resumed.
        self.repairs: dict[int, list[tuple[int, int]]] = {}
        self._pending: dict[int, dict] = {}  # digests written but not yet counted, per point

    @staticmethod
    def lock(loc: Location, *, break_lock: bool = False, log=None) -> WriterLock:
        """Takes the store's writer lock (``StoreError`` naming the holder when another process
        writes it)."""
        return WriterLock.acquire(loc, LOCK_KEY, break_lock=break_lock, what="a run store",
                                  log=log)

    @classmethod
    def create(cls, loc: Location, meta: dict) -> "RunStore":
        import tensorstore as ts
        meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, created=_now())
        meta.setdefault("completion", [0] * len(meta["scale_points"]))
        meta["digests"] = empty_ledger(meta)
        meta["arrays"] = {n: {"dims": list(d), "dtype": ARRAY_DTYPES[n]}
                          for n, d in ARRAY_DIMS.items()}
        _check_metadata(loc, meta)
        shapes = _shapes(meta)
        p, s, _, m = shapes["metrics"]
        chunks = {"metrics": (1, s, meta["chunk_evals"], m), "diverged": (1, s),
                  "diverged_at": (1, s)}
        loc.ensure_dir()
        arrays = {}
        for name, shape in shapes.items():
            try:
                arrays[name] = ts.open(_array_spec(loc, name, shape, chunks[name]),
                                       context=tensorstore_context(), create=True,
                                       delete_existing=True).result()
            except Exception as e:  # noqa: BLE001
                raise StoreError(f"cannot create the {name!r} array in {loc}: "
                                 f"{library_error(e)}") from None
        # Marks the checkpoint folder as a (foreign) zarr group, and as the run store's own.
        note = {"zarr_format": 3, "node_type": "group", "attributes": {
            "description": "orbax checkpoints of the population state, one folder per scale "
                           "point; not zarr arrays"}}
        loc.write_atomic(f"{CHECKPOINTS}/{GROUP_KEY}", json.dumps(note).encode())
        write_metadata(loc, meta)
        return cls(loc, meta, arrays)

    @classmethod
    def open_or_create(cls, loc: Location, meta: dict, overwrite: bool = False) -> "RunStore":
        """Opens the store at ``loc`` to resume it, or creates it. Refuses to resume a store
        written with a different config (unless ``overwrite``, which deletes the store's own
        entries and nothing else) and to write into a directory that holds other files. The
        caller holds the writer lock (``RunStore.lock``). A resumed store's missing or corrupt
        chunks are listed in ``repairs``."""
        if loc.local is not None and loc.local.exists() and not loc.local.is_dir():
            raise StoreError(f"{loc} is a file, not a run directory; choose another output path")
        try:
            existing = read_metadata(loc)
        except StoreError as e:
            if not overwrite:
                raise StoreError(f"{e}. Use --overwrite (overwrite=True) to replace it with a new "
                                 "run") from None
            existing = None
        if overwrite:
            _delete_own_entries(loc)
            existing = None
        if existing is not None:
            return cls._resume(loc, existing, meta)
        if loc.local is not None and loc.local.exists() and any(loc.local.iterdir()) \
                and not _store_entries_only(loc) and not overwrite:
            raise StoreError(f"{loc} exists and is not a run store; choose an empty or new output "
                             "path (or --overwrite to write a run store into it)")
        if loc.local is None and loc.exists_nonempty() and not overwrite:
            raise StoreError(f"{loc} is not empty and is not a run store; choose another location "
                             "(or --overwrite)")
        _delete_own_entries(loc)      # leftovers of a creation interrupted before its metadata
        return cls.create(loc, meta)  # was written

    @classmethod
    def _resume(cls, loc: Location, existing: dict, meta: dict) -> "RunStore":
        # Compared through the current ignore rules (RESUME_IGNORED), not the stored fingerprint.
        if config_fingerprint(existing["config"]) != meta["fingerprint"]:
            diffs = config_differences(existing["config"], meta["config"])
            detail = "; ".join(diffs[:10]) + (f"; ... ({len(diffs)} fields)" if len(diffs) > 10
                                              else "")
            raise StoreError(f"{loc} holds a run with a different config "
                             f"({detail or 'fingerprint differs'}). "
                             "Resume with the same config, choose another output path, or "
                             "start over with --overwrite (overwrite=True)")
        stored = dict(existing, num_evals=point_num_evals(existing))
        wanted = dict(meta, num_evals=point_num_evals(meta))
        for key in ("metric_names", "eval_steps", "num_evals", "seeds", "chunk_evals"):
            if stored[key] != wanted[key]:
                raise StoreError(f"{loc}: stored {key} {stored[key]!r} differ from this "
                                 f"code's {wanted[key]!r}; start over with --overwrite")
        store = cls.open(loc)
        refreshed = dict(store.meta)
        if existing["fingerprint"] != meta["fingerprint"]:
            # Same numbers, fingerprint from older rules on which fields are ignored: refresh it.
            refreshed["fingerprint"] = meta["fingerprint"]
        data, problems = store.find_repairs()
        if "digests" not in store.meta:  # format 1: record the digests of what is there
            refreshed["digests"] = _ledger_from_data(store.meta, data, problems)
            refreshed["format_version"] = FORMAT_VERSION
        if refreshed != store.meta:
            store.meta = refreshed
            write_metadata(loc, store.meta)
        return store

    @classmethod
    def open(cls, loc: Location) -> "RunStore":
        meta = read_metadata(loc)
        if meta is None:
            raise StoreError(f"{loc} is not a run store (no {GROUP_KEY})")
        shapes = _shapes(meta)
        arrays = {name: _open_array(loc, name, shapes[name], write=True) for name in ARRAY_DIMS}
        return cls(loc, meta, arrays)

    def find_repairs(self) -> tuple[dict[str, np.ndarray], list[ChunkProblem]]:
        """Checks every counted chunk and sets ``repairs``; returns the arrays as read and the
        damaged chunks."""
        data, problems = _check_chunks(self.loc, self.meta, self.arrays)
        self.repairs = _repairs(self.meta, problems)
        return data, problems

    def write_chunk(self, point: int, first_eval: int, metrics: np.ndarray,
                    diverged: np.ndarray | None, diverged_at: np.ndarray | None) -> None:
        """Writes metrics [S, n, M] for evals first_eval.. and (unless None) the seeds' flags,
        and waits until the data is committed to the kvstore. Their digests are recorded with
        the next ``set_completion``. (A repair of an earlier chunk passes no flags: the stored
        ones are the point's latest.)"""
        n = metrics.shape[1]
        ce = self.meta["chunk_evals"]
        if first_eval % ce or n % ce:
            raise StoreError(f"evaluations {first_eval}..{first_eval + n} of scale point {point} "
                             f"are not whole chunks of {ce}")
        block = np.asarray(metrics, np.float32)
        writes = {"metrics": (self.arrays["metrics"][point, :, first_eval:first_eval + n, :], block)}
        if diverged is not None:
            writes["diverged"] = (self.arrays["diverged"][point, :], np.asarray(diverged, bool))
            writes["diverged_at"] = (self.arrays["diverged_at"][point, :],
                                     np.asarray(diverged_at, np.int32))
        futures = [view.write(values) for view, values in writes.values()]
        try:
            for f in futures:
                f.result()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"writing metrics of scale point {point} to {self.loc} failed: "
                             f"{library_error(e)}") from None
        pending = self._pending.setdefault(point, {"metrics": {}})
        for j in range(n // ce):
            pending["metrics"][first_eval // ce + j] = chunk_digest(block[:, j * ce:(j + 1) * ce])
        for name in FLAG_ARRAYS:
            if name in writes:
                pending[name] = chunk_digest(writes[name][1])

    def read_point(self, point: int, eval_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored metrics [S, M] of one evaluation of one point, and its seeds' diverged flags."""
        try:
            values = self.arrays["metrics"][point, :, eval_index, :].read().result()
            diverged = self.arrays["diverged"][point, :].read().result()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"reading scale point {point} from {self.loc} failed: "
                             f"{library_error(e)}") from None
        return np.asarray(values), np.asarray(diverged)

    def set_completion(self, point: int, evals_written: int) -> None:
        """Records that the first ``evals_written`` evaluations of ``point`` are durably written,
        with the digests of the chunks they cover (of the values written by this process, or
        read back from the store for chunks an interrupted process wrote)."""
        completion = list(self.meta["completion"])
        completion[point] = int(evals_written)
        ledger = json.loads(json.dumps(self.meta["digests"]))
        pending = self._pending.get(point, {"metrics": {}})
        for k in range(int(evals_written) // self.meta["chunk_evals"]):
            if k in pending["metrics"]:
                ledger["metrics"][point][k] = pending["metrics"].pop(k)
            elif ledger["metrics"][point][k] is None:
                ledger["metrics"][point][k] = self._stored_digest("metrics", point, k)
        for name in FLAG_ARRAYS:
            if name in pending:
                ledger[name][point] = pending.pop(name)
            elif ledger[name][point] is None:
                ledger[name][point] = self._stored_digest(name, point)
        self.meta = dict(self.meta, completion=completion, digests=ledger)
        write_metadata(self.loc, self.meta)

    def _stored_digest(self, name: str, point: int, chunk: int | None = None) -> str | None:
        """The digest of a chunk as stored (None when it is not there)."""
        if chunk_key(name, point, chunk) not in _chunk_keys(self.loc, name):
            return None
        ce = self.meta["chunk_evals"]
        view = (self.arrays[name][point, :, chunk * ce:(chunk + 1) * ce, :]
                if name == "metrics" else self.arrays[name][point, :])
        try:
            return chunk_digest(np.asarray(view.read().result()))
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"reading back {chunk_key(name, point, chunk)} from {self.loc} "
                             f"failed: {library_error(e)}") from None

    @property
    def completion(self) -> list[int]:
        return list(self.meta["completion"])


# --------------------------------------------------------------------------------------------
# Reading.


class Run:
    """A run store read into memory. Arrays are NumPy; axes are (scale_point, seed, eval_step,
    metric)."""

    def __init__(self, location: Location | str, meta: dict, metrics: np.ndarray,
                 diverged: np.ndarray, diverged_at: np.ndarray):
        self.location = Location(location)
        self.path = str(self.location)
        self.meta = meta
        self.metrics = metrics
        self.metric_names: list[str] = list(meta["metric_names"])
        self.eval_steps: list[int] = [int(s) for s in meta["eval_steps"]]
        self.seeds: list[int] = [int(s) for s in meta["seeds"]]
        self.axes: list[str] = list(meta["axes"])
        self.scale_points: list[dict] = [{**p["coords"], **p["sizes"]}
                                         for p in meta["scale_points"]]
        self.scale_variable: str = meta["scale_variable"]
        self.eval_examples: int = int(meta["eval_examples"])
        self.diverged = diverged
        self.diverged_at = diverged_at
        # Evaluations of each point: point p's eval steps are eval_steps[:num_evals[p]], and its
        # metrics past that are NaN (points may train for different numbers of steps).
        self.num_evals: list[int] = point_num_evals(meta)
        self.completion: list[int] = [int(c) for c in meta["completion"]]
        self.completed = np.array([c >= n for c, n in zip(self.completion, self.num_evals)],
                                  bool)
        self.config: dict = meta["config"]
        self.fingerprint: str = meta["fingerprint"]
        self.versions: dict = meta.get("versions", {})

    def __repr__(self) -> str:
        p, s, e, m = self.metrics.shape
        return (f"Run({self.path!r}: {p} scale points x {s} seeds x {e} eval steps x {m} metrics, "
                f"{int(self.completed.sum())}/{p} complete)")

    def _metric_index(self, name: str) -> int:
        if name not in self.metric_names:
            raise KeyError(f"metric {name!r} not in this run; metrics: "
                           f"{', '.join(self.metric_names)}")
        return self.metric_names.index(name)

    def point_eval_steps(self, point: int) -> list[int]:
        """The eval steps of one scale point (a prefix of ``eval_steps``)."""
        return self.eval_steps[:self.num_evals[point]]

    def metric(self, name: str) -> np.ndarray:
        """One metric, [scale_point, seed, eval_step] (NaN past a point's last eval step)."""
        return self.metrics[..., self._metric_index(name)]

    def scale_values(self, variable: str | None = None) -> np.ndarray:
        """The scale of every point, [scale_point]: a derived size (default ``scale_variable``)
        or a swept coordinate such as ``"model.width"``."""
        variable = variable or self.scale_variable
        try:
            return np.array([float(p[variable]) for p in self.scale_points])
        except KeyError:
            keys = sorted(self.scale_points[0]) if self.scale_points else []
            raise KeyError(f"{variable!r} is not a scale-point key; keys: {', '.join(keys)}") \
                from None

    def to_xarray(self):
        """An ``xarray.Dataset`` (needs xarray)."""
        try:
            import xarray as xr
        except ImportError as e:
            raise ImportError("to_xarray() needs xarray: pip install xarray") from e
        coords = {"scale_point": np.arange(len(self.scale_points)), "seed": self.seeds,
                  "eval_step": self.eval_steps, "metric": self.metric_names}
        for key in self.scale_points[0] if self.scale_points else []:
            coords[key] = ("scale_point", [p.get(key) for p in self.scale_points])
        return xr.Dataset(
            {"metrics": (ARRAY_DIMS["metrics"], self.metrics),
             "diverged": (ARRAY_DIMS["diverged"], self.diverged),
             "diverged_at": (ARRAY_DIMS["diverged_at"], self.diverged_at),
             "completed": (("scale_point",), self.completed),
             "num_evals": (("scale_point",), np.asarray(self.num_evals, np.int64))},
            coords=coords, attrs={"scale_variable": self.scale_variable,
                                  "eval_examples": self.eval_examples})


def _read_store(path: str | os.PathLike) -> tuple[Location, dict, dict[str, np.ndarray]]:
    loc = Location(path)
    if loc.local is not None:
        if not loc.local.exists():
            raise StoreError(f"run store {loc} does not exist")
        if not loc.local.is_dir():
            raise StoreError(f"{loc} is a file, not a run store directory")
    meta = read_metadata(loc)
    if meta is None:
        raise StoreError(f"{loc} is not a run store (no {GROUP_KEY} with run metadata)")
    shapes = _shapes(meta)
    arrays = {name: _open_array(loc, name, shapes[name], write=False) for name in ARRAY_DIMS}
    return loc, meta, arrays


def load_run(path: str | os.PathLike) -> Run:
    """Reads a run store (a directory or kvstore URL) into a ``Run``. For example::

        run = load_run("runs/count")
        run.metric("ood/exact_match").shape          # [scale_point, seed, eval_step]

    Only complete data is returned: every chunk the metadata counts is checked against the
    chunk ledger (a missing or altered chunk is a ``StoreError`` naming it, never fill values),
    and values past a point's recorded completion (a chunk being written right now) read as NaN.
    Per-seed outcomes (which evaluation counts, which seeds are left out) come from
    ``emergence_jax.analysis.outcomes``.
    """
    loc, meta, arrays = _read_store(path)
    data = _read_arrays(loc, meta, arrays)
    problems = find_problems(meta, _chunk_keys(loc), data, _completed(meta))
    if problems:
        raise _problems_error(loc, meta, problems)
    for p, done in enumerate(meta["completion"]):
        data["metrics"][p, :, done:] = np.nan
    return Run(loc, meta, data["metrics"], data["diverged"], data["diverged_at"])


def verify_run(path: str | os.PathLike) -> tuple[dict, list[str]]:
    """Checks every chunk of a run store against its ledger; returns the metadata and one line
    per damaged chunk (no lines: the store is intact)."""
    loc, meta, arrays = _read_store(path)
    _, problems = _check_chunks(loc, meta, arrays)
    return meta, [q.describe(meta) for q in problems]


def _check_chunks(loc: Location, meta: dict, arrays: dict
                  ) -> tuple[dict[str, np.ndarray], list[ChunkProblem]]:
    """Every array as read and every damaged chunk: missing, altered, or undecodable (an array
    that cannot be decoded whole is read chunk by chunk to find those)."""
    ce = meta["chunk_evals"]
    undecodable: list[ChunkProblem] = []
    data = {}
    for name, arr in arrays.items():
        try:
            data[name] = np.asarray(arr.read().result())
            continue
        except Exception:  # noqa: BLE001 - find the undecodable chunks, check the rest
            pass
        data[name] = out = np.empty(arr.shape, arr.dtype.numpy_dtype)
        for p in range(arr.shape[0]):
            for k in (range(metrics_chunks(meta)) if name == "metrics" else [None]):
                index = (p, slice(None), slice(k * ce, (k + 1) * ce)) if k is not None else (p,)
                try:
                    out[index] = np.asarray(arr[index].read().result())
                except Exception:  # noqa: BLE001
                    out[index] = {"metrics": np.nan, "diverged": False, "diverged_at": -1}[name]
                    undecodable.append(ChunkProblem(
                        name, p, "undecodable", chunk_key(name, p, k),
                        (k * ce, (k + 1) * ce) if k is not None else None))
    bad_keys = {q.key for q in undecodable}
    problems = [q for q in find_problems(meta, _chunk_keys(loc), data, _completed(meta))
                if q.key not in bad_keys]
    return data, undecodable + problems


__all__ = ["LOCK_KEY", "Run", "RunStore", "STORE_ENTRIES", "config_differences",
           "config_fingerprint", "load_run", "point_num_evals", "read_metadata", "resume_ignored",
           "verify_run"]
