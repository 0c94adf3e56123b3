"""The storage format of a fitted distribution: a folder with two files.

    FIT/posterior.npz   arrays (posterior draws, the data the fit was made on), read back with
                        ``allow_pickle=False``: nothing stored is ever executed
    FIT/fit.json        everything else (model, settings, priors, data summary, diagnostics,
                        versions), plus the SHA-256 of posterior.npz and of its own content

Each file is replaced atomically, arrays first and the description last; the description carries
the checksum of the arrays, so a folder caught between the two writes (or edited by hand) is
refused on reading instead of being read as a fit. Only these two files are written: other files
in the folder are left alone, and a ``fit.json`` or ``posterior.npz`` that is not a fit's (someone
else's file of that name) is never replaced — ``check_fit_target`` refuses it, before a fit is
computed. What the content means is ``emergence_jax.analysis.fitted``'s business; this module only
stores and verifies it.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np

from emergence_jax.core.errors import StoreError
from emergence_jax.io import jsonio
from emergence_jax.io.location import Location

__all__ = ["FORMAT", "FORMAT_VERSION", "JSON_NAME", "NPZ_NAME", "check_fit_target",
           "read_fit_files", "write_fit_files"]

FORMAT = "emergence_jax.fit"
FORMAT_VERSION = 1
NPZ_NAME = "posterior.npz"
JSON_NAME = "fit.json"


def _content_hash(meta: dict) -> str:
    return jsonio.sha256_hex(jsonio.canonical({k: v for k, v in meta.items()
                                               if k != "content_sha256"}))


def _is_fit_description(raw: bytes) -> bool:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return True


def _is_fit_arrays(raw: bytes) -> bool:
    """A fit's posterior.npz holds arrays named ``param__*`` / ``data__*``."""
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            return any(k.startswith(("param__", "data__")) for k in z.files)
    except Exception:  # noqa: BLE001 - not an npz at all
        return False


def check_fit_target(path: str | os.PathLike | Location, overwrite: bool = True) -> Location:
    """Refuses (``StoreError``) a fit folder that cannot be written, or whose ``fit.json`` or
    ``posterior.npz`` is not an earlier fit's; call it before fitting, so a long fit is not lost
    at the end. Returns the location."""
    loc = Location(path)
    if loc.local is not None and loc.local.exists() and not loc.local.is_dir():
        raise StoreError(f"{loc} is a file; a fit is written into a directory")
    raw_json, raw_npz = loc.read(JSON_NAME), loc.read(NPZ_NAME)
    json_ours = raw_json is not None and _is_fit_description(raw_json)
    npz_ours = raw_npz is not None and _is_fit_arrays(raw_npz)
    # A damaged half of a fit (garbage where its fit.json was, beside its arrays; a damaged npz
    # beside its description) is the fit's own and may be replaced.
    if raw_json is not None and not json_ours and not (npz_ours and not _is_json(raw_json)):
        raise StoreError(f"{loc}/{JSON_NAME} exists and is not an emergence_jax fit; it is not "
                         "replaced. Choose another --out (a fit writes fit.json and posterior.npz)")
    if raw_npz is not None and not npz_ours and not json_ours:
        raise StoreError(f"{loc}/{NPZ_NAME} exists and is not an emergence_jax fit's arrays; it "
                         "is not replaced. Choose another --out")
    if not overwrite and raw_json is not None:
        raise StoreError(f"{loc} already holds a fit (pass overwrite=True to replace it)")
    loc.check_writable()
    return loc


def write_fit_files(path: str | os.PathLike | Location, meta: dict,
                    arrays: dict[str, np.ndarray], overwrite: bool = True) -> Location:
    """Writes ``arrays`` and ``meta`` (a JSON-ready dict) as a fit folder; returns its location."""
    loc = check_fit_target(path, overwrite)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    npz = buffer.getvalue()
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION,
                npz_sha256=jsonio.sha256_hex(npz))
    meta["content_sha256"] = _content_hash(meta)
    loc.write_atomic(NPZ_NAME, npz)
    loc.write_atomic(JSON_NAME, jsonio.dumps(meta).encode())
    return loc


def read_fit_files(path: str | os.PathLike | Location) -> tuple[dict, dict[str, np.ndarray]]:
    """Reads and verifies a fit folder (or its fit.json): returns (meta, arrays). Anything
    missing, foreign, modified or unreadable raises ``StoreError``."""
    loc = Location(path)
    if loc.local is not None and loc.local.is_file() and loc.local.name == JSON_NAME:
        loc = Location(loc.local.parent)
    if loc.local is not None and not loc.local.is_dir():
        raise StoreError(f"{loc}: no saved fit here (expected a directory with {JSON_NAME} and "
                         f"{NPZ_NAME})")
    raw_json, npz = loc.read(JSON_NAME), loc.read(NPZ_NAME)
    for name, raw in ((JSON_NAME, raw_json), (NPZ_NAME, npz)):
        if raw is None:
            raise StoreError(f"{loc}: incomplete fit, {name} is missing")
    where = f"{loc}/{JSON_NAME}"
    try:
        meta = json.loads(raw_json.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StoreError(f"{where}: not a readable fit description ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StoreError(f"{where}: not an emergence_jax fit (format field missing or foreign)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise StoreError(f"{where}: fit format version {meta.get('format_version')!r}; this "
                         f"version reads {FORMAT_VERSION}")
    if meta.get("content_sha256") != _content_hash(meta):
        raise StoreError(f"{where}: checksum mismatch, the fit description was modified or is "
                         "corrupt")
    if meta.get("npz_sha256") != jsonio.sha256_hex(npz):
        raise StoreError(f"{loc}/{NPZ_NAME}: checksum mismatch, the posterior arrays were "
                         "modified or are corrupt")
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as z:
            arrays = {k: np.array(z[k]) for k in z.files}
    except Exception as e:  # noqa: BLE001 - zip/format errors; object arrays refused without pickle
        raise StoreError(f"{loc}/{NPZ_NAME}: unreadable posterior arrays ({e})") from None
    return meta, arrays
