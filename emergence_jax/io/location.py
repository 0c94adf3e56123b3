"""Storage locations: the only place that parses a user's path or URL, and the only atomic write.

A ``Location`` is a local directory (a path, ``~`` and ``..`` allowed, or a ``file://`` URL) or a
tensorstore kvstore URL (``gs://bucket/run``, ``memory://name``, ...). Everything that stores
something — run stores, checkpoints, fits, reports — takes a ``Location`` and addresses files
inside it by key (``"zarr.json"``, ``"metrics/..."``).

Local paths are normalised once, here, before they reach tensorstore or orbax: ``~`` expanded,
relative paths made absolute, symbolic links and ``..`` resolved the way the operating system
resolves them (``os.path.realpath``), so ``inspect ../run``, ``--out a/../b/run`` and a symlinked
run directory all name the directory the user meant.

Writes of whole files are atomic: locally a temporary file in the same folder, ``fsync``, then
``os.replace`` (and an ``fsync`` of the folder so the rename itself is durable); on object stores a
single-object write, which is atomic there. A reader therefore sees the old file or the new one,
never a half-written one. The temporary file lives inside the folder being written (the output the
user named), never beside it.

``create_exclusive`` writes a file only if it does not exist yet (a hard link of a complete
temporary file locally, a conditional write on object stores); ``WriterLock`` builds on it: one
writer per location, the lock file naming its holder (host, PID, process start, command, time).
A lock whose holder ran on this host and no longer exists is stale and taken over; a lock held
from another host cannot be checked from here and is broken only on request (``break_lock``).
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from emergence_jax.core.errors import StoreError

__all__ = ["Location", "WriterLock", "library_error", "normalise_path", "write_file_atomic"]

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


def normalise_path(path: str | os.PathLike) -> Path:
    """A user's local path as the operating system resolves it: ``~`` expanded, made absolute,
    symbolic links and ``..`` resolved (``os.path.realpath``; parts that do not exist yet are kept
    as written)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def _temp_file_in(folder: Path, name: str, data: bytes) -> str:
    """A complete, fsync'ed temporary copy of ``data`` inside ``folder``; returns its path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _fsync_dir(folder: Path) -> None:
    try:  # make a rename or link itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def write_file_atomic(target: Path, data: bytes) -> None:
    """Writes ``data`` to the local file ``target`` atomically (temp file in the same folder,
    fsync, rename). The folder is created when missing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_file_in(target.parent, target.name, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _os_error(action: str, path, e: OSError) -> StoreError:
    """A ``StoreError`` for a failed file-system call, naming the path and the reason."""
    reason = e.strerror or type(e).__name__
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason += " (the output is not writable: choose another --out)"
    return StoreError(f"cannot {action} {path}: {reason}")


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
        if "\x00" in text:
            raise StoreError(f"{text!r}: a path cannot contain a NUL character")
        if text.startswith("file://"):
            self.local = normalise_path(text[len("file://"):])
        elif _URL.match(text):
            self.url = text.rstrip("/") + "/"
        else:
            self.local = normalise_path(text)

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
    def ensure_dir(self) -> None:
        """Creates the local directory (and its parents) when missing; ``StoreError`` naming the
        path when it is a file or cannot be created. Nothing to do for URLs."""
        if self.local is None:
            return
        if self.local.exists() and not self.local.is_dir():
            raise StoreError(f"{self.local} is a file, not a directory; choose another output path")
        try:
            self.local.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _os_error("create the directory", self.local, e) from None

    def check_writable(self) -> None:
        """Fails now, with a ``StoreError`` naming the path, when files cannot be written here
        (called before long computations whose result goes here). Creates the local directory;
        the probe file it writes is removed again."""
        if self.local is None:
            return
        self.ensure_dir()
        try:
            fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=self.local)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise _os_error("write into", self.local, e) from None

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
                raise _os_error("write", self.local / key, e) from None
            return
        self._remote_write("write", key, data)

    def _remote_write(self, action: str, key: str, data: bytes | None, **condition):
        """One kvstore write (``None`` deletes); failures are a ``StoreError`` naming the key."""
        try:
            return self._kv().write(key, data, **condition).result()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"cannot {action} {self.url}{key}: {library_error(e)}") from None

    def create_exclusive(self, key: str, data: bytes) -> bool:
        """Writes file ``key`` only if it does not exist; returns False (writing nothing) when it
        does. A reader never sees it half-written: locally a complete temporary file is
        hard-linked into place (``link`` fails on an existing name), elsewhere a conditional
        single-object write."""
        if self.local is not None:
            target = self.local / key
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = _temp_file_in(target.parent, target.name, data)
            except OSError as e:
                raise _os_error("write", target, e) from None
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            except OSError as e:
                raise _os_error("write", target, e) from None
            finally:
                os.unlink(tmp)
            _fsync_dir(target.parent)
            return True
        # Generation b"\x02" is tensorstore's "no value": write only if the key is missing.
        return bool(self._remote_write("write", key, data, if_equal=b"\x02").generation)

    def delete_file(self, key: str) -> None:
        """Deletes file ``key`` (nothing happens when it does not exist)."""
        if self.local is not None:
            try:
                (self.local / key).unlink(missing_ok=True)
            except OSError as e:
                raise _os_error("delete", self.local / key, e) from None
            return
        self._remote_write("delete", key, None)

    def list_keys(self, prefix: str = "") -> list[str]:
        """The keys of every file under ``prefix`` (relative to this location), sorted."""
        if self.local is not None:
            root = self.local / prefix if prefix else self.local
            if not root.is_dir():
                return []
            keys = []
            for folder, _, files in os.walk(root):
                rel = Path(folder).relative_to(self.local)
                keys.extend(str(rel / f) if str(rel) != "." else f for f in files)
            return sorted(k.replace(os.sep, "/") for k in keys)
        import tensorstore as ts
        try:
            found = self._kv().list(ts.KvStore.KeyRange(prefix, prefix + "\xff")
                                    if prefix else None).result()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"cannot list {self.url}{prefix}: {library_error(e)}") from None
        return sorted(k.decode() if isinstance(k, bytes) else k for k in found)

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
                try:
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p)
                    elif p.exists() or p.is_symlink():
                        p.unlink()
                except OSError as e:
                    raise _os_error("delete", p, e) from None
            return
        import tensorstore as ts
        kv = self._kv()
        for name in names:
            kv.delete_range(ts.KvStore.KeyRange(name, name + "\x00")).result()  # the key itself
            kv.delete_range(ts.KvStore.KeyRange(name + "/", name + "0")).result()  # under name/


# ------------------------------------------------------------------------------------------------
# One writer per location.

LOCK_FORMAT = "emergence_jax.writer_lock"


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where unknown:
    tells a live holder from a new process that re-used its PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


class WriterLock:
    """An exclusive lock file ``key`` inside ``location`` (see the module docstring).

        lock = WriterLock.acquire(loc, "writer.lock")   # StoreError naming the holder if held
        try:
            ...                                          # the only writer
        finally:
            lock.release()
    """

    def __init__(self, location: "Location", key: str, holder: dict, created_dir: bool):
        self.location, self.key, self.holder, self._created_dir = location, key, holder, created_dir

    @staticmethod
    def _me() -> dict:
        import uuid
        return {"format": LOCK_FORMAT, "host": socket.gethostname(), "pid": os.getpid(),
                "process_start": _process_start(os.getpid()),
                "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"),
                "command": " ".join([os.path.basename(sys.argv[0] or "python")] + sys.argv[1:])[:300],
                "token": uuid.uuid4().hex}

    @classmethod
    def read_holder(cls, location: "Location", key: str) -> dict | None:
        """The lock's holder, None when unlocked, ``{"unreadable": ...}`` for a damaged lock."""
        raw = location.read(key)
        if raw is None:
            return None
        try:
            holder = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"unreadable": True}
        if not isinstance(holder, dict) or holder.get("format") != LOCK_FORMAT:
            return {"unreadable": True}
        return holder

    @staticmethod
    def is_stale(holder: dict) -> bool:
        """True when the holder ran on this host and its process no longer exists."""
        if holder.get("unreadable") or holder.get("host") != socket.gethostname():
            return False
        pid = holder.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool):
            return False
        if not _pid_alive(pid):
            return True
        recorded, now = holder.get("process_start"), _process_start(pid)
        return recorded is not None and now is not None and recorded != now

    @staticmethod
    def describe(holder: dict) -> str:
        if holder.get("unreadable"):
            return "an unreadable lock file"
        return (f"host {holder.get('host')!s}, PID {holder.get('pid')!s}, since "
                f"{holder.get('started')!s} ({holder.get('command')!s})")

    @classmethod
    def acquire(cls, location: "Location", key: str, *, break_lock: bool = False,
                what: str = "this location", log=None) -> "WriterLock":
        """Takes the lock, or raises ``StoreError`` at once naming the holder. A stale lock (its
        holder ran here and is gone) is taken over; ``break_lock`` takes over any lock."""
        created_dir = location.local is not None and not location.local.exists()
        if location.local is not None:
            location.ensure_dir()
        me = cls._me()
        data = json.dumps(me, indent=1).encode()
        for _ in range(5):
            if location.create_exclusive(key, data):
                return cls(location, key, me, created_dir)
            holder = cls.read_holder(location, key)
            if holder is None:      # released in between: try again
                continue
            if break_lock or cls.is_stale(holder):
                if log is not None:
                    log(f"{location}: removing the {'stale ' if not break_lock else ''}writer lock of "
                        f"{cls.describe(holder)}")
                location.delete_file(key)
                continue
            if created_dir:
                cls._remove_if_empty(location)
            raise StoreError(
                f"{location} is being written by another process ({cls.describe(holder)}); "
                f"{what} has one writer at a time. Wait for it to finish; if that process no longer "
                f"runs (for example on another host), rerun with --break-lock (break_lock=True) or "
                f"delete {location}/{key}")
        raise StoreError(f"{location}: could not take the writer lock {key} (it changed hands "
                         "repeatedly); try again")

    def release(self) -> None:
        """Removes the lock if it is still ours (and the directory the lock created, if empty)."""
        holder = self.read_holder(self.location, self.key)
        if holder is not None and holder.get("token") == self.holder["token"]:
            self.location.delete_file(self.key)
        if self._created_dir:
            self._remove_if_empty(self.location)

    @staticmethod
    def _remove_if_empty(location: "Location") -> None:
        try:
            location.local.rmdir()
        except OSError:
            pass

    def __enter__(self) -> "WriterLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
