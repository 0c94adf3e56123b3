"""The run store: every per-seed metric of a sweep, as zarr (v3) arrays written with tensorstore.

Layout of a run directory (a local path, or any tensorstore kvstore URL such as ``gs://bucket/run``,
``file:///abs/path`` or ``memory://name``)::

    RUN/zarr.json        zarr group; its attribute ``emergence_jax`` holds the run metadata
    RUN/metrics/         float32 [scale_point, seed, eval_step, metric], NaN where not yet written
    RUN/diverged/        bool    [scale_point, seed]
    RUN/diverged_at/     int32   [scale_point, seed], step at which a seed diverged, -1 if never
    RUN/checkpoints/     orbax checkpoints of the population state, one folder per scale point

The eval_step axis is the longest scale point's list of eval steps. Points may train for
different numbers of steps (``train.steps`` is a sweep axis) as long as they share
``train.eval_every``, so every point's eval steps are a prefix of that list; ``num_evals`` in the
metadata says how many each point has, and a shorter point's later entries stay NaN.

``metrics`` is chunked [1, S, chunk_evals, M] where ``chunk_evals`` divides every point's own
evaluations per training chunk (their gcd), so each host round-trip of training writes whole zarr
chunks (exactly one when all points chunk alike). The metadata (config, fingerprint, scale points
with coordinates and sizes, metric names, eval steps, evaluations per point, seeds, completion per
scale point, library versions) is replaced atomically (temp file + ``os.replace`` locally;
single-object writes elsewhere).

``load_run(path)`` returns a ``Run`` with plain NumPy arrays; it never imports JAX.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
from typing import Any

import numpy as np

from emergence_jax.core.errors import StoreError
from emergence_jax.io import jsonio
from emergence_jax.io.location import Location, library_error, tensorstore_context

FORMAT = "emergence_jax.run_store"
FORMAT_VERSION = 1
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
# Every top-level entry a run store writes; the only ones ``--overwrite`` ever deletes.
STORE_ENTRIES = (GROUP_KEY, *ARRAY_DIMS, CHECKPOINTS)
# Config fields that do not change any stored number: a run may resume with them changed. An entry
# ending in "." ignores every field under that section.
RESUME_IGNORED = ("name", "train.checkpoint_every_chunks", "analysis.")

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
    if meta.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{loc}: run store format version {meta.get('format_version')!r} is not "
                         f"supported (this version reads {FORMAT_VERSION})")
    _check_metadata(loc, meta)
    return meta


_REQUIRED = {"config": dict, "fingerprint": str, "scale_points": list, "metric_names": list,
             "eval_steps": list, "seeds": list, "scale_variable": str, "eval_examples": int,
             "chunk_evals": int, "completion": list, "axes": list}


def point_num_evals(meta: dict) -> list[int]:
    """Evaluations of each scale point (its eval steps are ``eval_steps[:n]``). Stores written
    before points could differ in length have no ``num_evals``: every point has them all."""
    if "num_evals" in meta:
        return [int(n) for n in meta["num_evals"]]
    return [len(meta["eval_steps"])] * len(meta["scale_points"])


def _check_metadata(loc: Location, meta: dict) -> None:
    for key, kind in _REQUIRED.items():
        if not isinstance(meta.get(key), kind):
            raise StoreError(f"{loc}: run metadata field {key!r} is missing or not a "
                             f"{kind.__name__}; the metadata is corrupt")
    p = len(meta["scale_points"])
    if meta["chunk_evals"] < 1:
        raise StoreError(f"{loc}: run metadata chunk_evals {meta['chunk_evals']!r} is not "
                         "positive; the metadata is corrupt")
    if "num_evals" in meta:
        n = meta["num_evals"]
        e = len(meta["eval_steps"])
        if (not isinstance(n, list) or len(n) != p
                or not all(isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= e
                           for x in n)):
            raise StoreError(f"{loc}: run metadata num_evals {n!r} is not one count in 1..{e} "
                             f"per scale point ({p}); the metadata is corrupt")
    if len(meta["completion"]) != p:
        raise StoreError(f"{loc}: run metadata lists {p} scale points but "
                         f"{len(meta['completion'])} completion entries; the metadata is corrupt")
    for i, point in enumerate(meta["scale_points"]):
        if not (isinstance(point, dict) and isinstance(point.get("coords"), dict)
                and isinstance(point.get("sizes"), dict)):
            raise StoreError(f"{loc}: scale point {i} in the run metadata is malformed")


def write_metadata(loc: Location, meta: dict) -> None:
    meta = dict(meta, updated=_now())
    group = {"zarr_format": 3, "node_type": "group", "attributes": {ATTRIBUTE: meta}}
    loc.write_atomic(GROUP_KEY, jsonio.dumps(group).encode())


# --------------------------------------------------------------------------------------------
# Arrays.


def _array_spec(loc: Location, name: str, shape: tuple[int, ...] | None = None,
                chunks: tuple[int, ...] | None = None) -> dict:
    spec: dict[str, Any] = {"driver": "zarr3", "kvstore": loc.kvstore(name)}
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
    """True when a local directory holds nothing but (pieces of) a run store."""
    return all(p.name in STORE_ENTRIES or p.name.startswith(f".{GROUP_KEY}.")
               for p in loc.local.iterdir())


class RunStore:
    """Writer side of a run store (used by the sweep)."""

    def __init__(self, loc: Location, meta: dict, arrays: dict):
        self.loc, self.meta, self.arrays = loc, meta, arrays

    @classmethod
    def create(cls, loc: Location, meta: dict) -> "RunStore":
        import tensorstore as ts
        meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, created=_now())
        meta.setdefault("completion", [0] * len(meta["scale_points"]))
        meta["arrays"] = {n: {"dims": list(d), "dtype": ARRAY_DTYPES[n]}
                          for n, d in ARRAY_DIMS.items()}
        _check_metadata(loc, meta)
        shapes = _shapes(meta)
        p, s, _, m = shapes["metrics"]
        chunks = {"metrics": (1, s, meta["chunk_evals"], m), "diverged": (1, s),
                  "diverged_at": (1, s)}
        if loc.local is not None:
            if loc.local.exists() and not loc.local.is_dir():
                raise StoreError(f"{loc} is a file, not a directory; choose another output path")
            loc.local.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for name, shape in shapes.items():
            try:
                arrays[name] = ts.open(_array_spec(loc, name, shape, chunks[name]),
                                       context=tensorstore_context(), create=True,
                                       delete_existing=True).result()
            except Exception as e:  # noqa: BLE001
                raise StoreError(f"cannot create the {name!r} array in {loc}: "
                                 f"{library_error(e)}") from None
        if loc.local is not None:  # mark the checkpoint folder as a (foreign) zarr group
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
        entries and nothing else) and to write into a directory that holds other files."""
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
            loc.delete_entries(list(STORE_ENTRIES))
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
        loc.delete_entries(list(STORE_ENTRIES))  # leftovers of a creation interrupted before
        return cls.create(loc, meta)              # its metadata was written

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
        if existing["fingerprint"] != meta["fingerprint"]:
            # Same numbers, fingerprint from older rules on which fields are ignored: refresh it.
            store.meta = dict(store.meta, fingerprint=meta["fingerprint"])
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

    def write_chunk(self, point: int, first_eval: int, metrics: np.ndarray,
                    diverged: np.ndarray, diverged_at: np.ndarray) -> None:
        """Writes metrics [S, n, M] for evals first_eval.. and the seeds' flags, and waits until
        the data is committed to the kvstore."""
        n = metrics.shape[1]
        futures = [
            self.arrays["metrics"][point, :, first_eval:first_eval + n, :].write(
                np.asarray(metrics, np.float32)),
            self.arrays["diverged"][point, :].write(np.asarray(diverged, bool)),
            self.arrays["diverged_at"][point, :].write(np.asarray(diverged_at, np.int32)),
        ]
        try:
            for f in futures:
                f.result()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"writing metrics of scale point {point} to {self.loc} failed: "
                             f"{library_error(e)}") from None

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
        """Records that the first ``evals_written`` evaluations of ``point`` are durably written."""
        completion = list(self.meta["completion"])
        completion[point] = int(evals_written)
        self.meta = dict(self.meta, completion=completion)
        write_metadata(self.loc, self.meta)

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


def load_run(path: str | os.PathLike) -> Run:
    """Reads a run store (a directory or kvstore URL) into a ``Run``. For example::

        run = load_run("runs/count")
        run.metric("ood/exact_match").shape          # [scale_point, seed, eval_step]

    Per-seed outcomes (which evaluation counts, which seeds are left out) come from
    ``emergence_jax.analysis.outcomes``.
    """
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
    data = {}
    for name in ARRAY_DIMS:
        arr = _open_array(loc, name, shapes[name], write=False)
        try:
            data[name] = np.asarray(arr.read().result())
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"{loc}: reading the {name!r} array failed ({library_error(e)}); "
                             "a chunk is corrupt") from None
    return Run(loc, meta, data["metrics"], data["diverged"], data["diverged_at"])


__all__ = ["Run", "RunStore", "STORE_ENTRIES", "config_differences", "config_fingerprint",
           "load_run", "point_num_evals", "read_metadata", "resume_ignored"]
