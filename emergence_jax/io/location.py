"""Storage locations: the only place that parses a user's path or URL, and the only atomic write.

A ``Location`` is a local directory (a path, ``~`` and ``..`` allowed, or a ``file://`` URL) or a
tensorstore kvstore URL (``gs://bucket/run``, ``memory://name``, ...). Everything that stores
something — run stores, checkpoints, fits — takes a ``Location`` and addresses files inside it by
key (``"zarr.json"``, ``"metrics/..."``).

Writes of whole files are atomic: locally a temporary file in the same folder, ``fsync``, then
``os.replace`` (and an ``fsync`` of the folder so the rename itself is durable); on object stores a
single-object write, which is atomic there. A reader therefore sees the old file or the new one,
never a half-written one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from emergence_jax.core.errors import StoreError

__all__ = ["Location", "library_error", "write_file_atomic"]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")
_CONTEXT = None


def tensorstore_context():
    """One tensorstore context per process, so ``memory://`` stores outlive a single open."""
    global _CONTEXT
    if _CONTEXT is None:
        import tensorstore as ts
        _CONTEXT = ts.Context()
    return _CONTEXT


def library_error(e: Exception) -> str:
    """The first line of a library's exception message, for messages written for users."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:300]


def write_file_atomic(target: Path, data: bytes) -> None:
    """Writes ``data`` to the local file ``target`` atomically (temp file, fsync, rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


class Location:
    """Where something is stored: a local directory or a kvstore URL (see the module docstring)."""

    def __init__(self, path: str | os.PathLike | "Location"):
        if isinstance(path, Location):
            self.local, self.url = path.local, path.url
            return
        text = os.fspath(path)
        if not text:
            raise StoreError("empty path: give a directory or a URL such as gs://bucket/run")
        self.url: str | None = None
        self.local: Path | None = None
        if text.startswith("file://"):
            self.local = Path(os.path.abspath(text[len("file://"):]))
        elif _URL.match(text):
            self.url = text.rstrip("/") + "/"
        else:  # ~ expanded, relative made absolute, '..' resolved lexically
            self.local = Path(os.path.abspath(os.path.expanduser(text)))

    def __str__(self) -> str:
        return str(self.local) if self.local is not None else self.url.rstrip("/")

    def __repr__(self) -> str:
        return f"Location({str(self)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Location) and (self.local, self.url) == (other.local, other.url)

    @property
    def is_local(self) -> bool:
        return self.local is not None

    def child(self, sub: str) -> "Location":
        """The location of a folder inside this one."""
        if self.local is not None:
            return Location(self.local / sub)
        return Location(self.url + sub.strip("/"))

    def require_local(self, what: str) -> Path:
        """The local directory, or a ``StoreError`` saying that ``what`` needs one."""
        if self.local is None:
            raise StoreError(f"{self}: {what} needs a local directory, not a URL")
        return self.local

    # ------------------------------------------------------------------ addressing
    def kvstore(self, sub: str = "") -> Any:
        """A tensorstore kvstore spec for the folder ``sub`` inside this location."""
        if self.local is not None:
            path = str(self.local) + "/" + sub
            return {"driver": "file", "path": path.rstrip("/") + "/"}
        return self.url + (sub.rstrip("/") + "/" if sub else "")

    def orbax_path(self) -> str | None:
        """This location as a path orbax can write checkpoints to (local paths and gs:// only;
        ``memory://`` has none, since nothing there outlives the process)."""
        if self.local is not None:
            return str(self.local)
        if self.url.startswith("gs://"):
            return self.url.rstrip("/")
        return None

    def _kv(self):
        import tensorstore as ts
        try:
            return ts.KvStore.open(self.kvstore(), context=tensorstore_context()).result()
        except Exception as e:  # noqa: BLE001 - tensorstore raises ValueError for most failures
            raise StoreError(f"cannot open {self}: {library_error(e)}") from None

    # ------------------------------------------------------------------ files
    def read(self, key: str) -> bytes | None:
        """The bytes of file ``key``, or None when it does not exist."""
        if self.local is not None:
            p = self.local / key
            if p.is_dir():
                raise StoreError(f"{p} is a directory where a file was expected")
            try:
                return p.read_bytes() if p.exists() else None
            except OSError as e:
                raise StoreError(f"cannot read {p}: {e}") from None
        try:
            result = self._kv().read(key).result()
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"cannot read {self.url}{key}: {library_error(e)}") from None
        return bytes(result.value) if result.state == "value" else None

    def write_atomic(self, key: str, data: bytes) -> None:
        """Replaces file ``key`` atomically (see the module docstring)."""
        if self.local is not None:
            try:
                write_file_atomic(self.local / key, data)
            except OSError as e:
                raise StoreError(f"cannot write {self.local / key}: {e.strerror or e}") from None
            return
        try:
            self._kv().write(key, data).result()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"cannot write {self.url}{key}: {library_error(e)}") from None

    def exists_nonempty(self) -> bool:
        if self.local is not None:
            return self.local.exists() and (not self.local.is_dir() or any(self.local.iterdir()))
        return bool(self._kv().list().result())

    def delete_entries(self, names: list[str]) -> None:
        """Deletes the given top-level entries (files or folders) and nothing else."""
        if self.local is not None:
            import shutil
            for name in names:
                p = self.local / name
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                elif p.exists() or p.is_symlink():
                    p.unlink()
            return
        import tensorstore as ts
        kv = self._kv()
        for name in names:
            kv.delete_range(ts.KvStore.KeyRange(name, name + "\x00")).result()  # the key itself
            kv.delete_range(ts.KvStore.KeyRange(name + "/", name + "0")).result()  # under name/
