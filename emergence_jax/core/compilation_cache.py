"""JAX's persistent compilation cache, on by default for the command line.

Most of a fit of modest size, and a good part of a short sweep, is spent compiling. With the
compiled programs on disk, the next process that needs the same programs (another
``emergence-jax fit`` of data of the same size, a resumed sweep) loads them instead: a fit of
10 scales x 1,000 seeds takes 27.1 s in a fresh process with an empty cache and 12.1 s in the
next one on a 2-core CPU (``benchmarks/fit_speed.py``; tracing is not cached).

    from emergence_jax import enable_compilation_cache
    enable_compilation_cache()            # in a notebook: the same cache as the command line

Where the cache lives, in order:
    ``jax_compilation_cache_dir`` already set (``JAX_COMPILATION_CACHE_DIR``): left as it is;
    ``EMERGENCE_JAX_COMPILATION_CACHE``: a folder, or ``off`` (also ``0``, ``no``, ``false``);
    otherwise ``$XDG_CACHE_HOME/emergence_jax/jax`` (``~/.cache/emergence_jax/jax``).
The cache holds only JAX's own files (one per compiled program, a few MB for a fit); deleting
the folder is always safe. Its size is not bounded by default: JAX's
``jax_compilation_cache_max_size`` bounds it (LRU, needs the ``filelock`` package).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV", "cache_location", "enable_compilation_cache"]

ENV = "EMERGENCE_JAX_COMPILATION_CACHE"
_OFF = ("off", "0", "no", "false", "none", "")
# Programs that compile faster than this are not written (JAX's default, 1 s, would leave out
# the samplers' start-up programs, which take 0.3-1.3 s each on a 2-core CPU).
MIN_COMPILE_SECONDS = 0.2


def cache_location(environ: dict | None = None) -> Path | None:
    """The folder ``enable_compilation_cache`` would use (None: turned off by ``ENV``)."""
    env = os.environ if environ is None else environ
    if ENV in env:
        value = env[ENV].strip()
        return None if value.lower() in _OFF else Path(value).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emergence_jax" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Turns on JAX's persistent compilation cache at ``path`` (default: ``cache_location()``)
    unless a cache folder is already configured. Returns the folder in use, or None when the
    cache stays off (turned off by ``ENV``, or the folder cannot be created: the cache is an
    optimisation, never a reason to fail)."""
    import jax
    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    folder = Path(path).expanduser() if path is not None else cache_location()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
