"""Locations: path normalisation (``..``, ``~``, relative, symlinks), atomic and exclusive writes,
and the writer lock (holder named, stale locks taken over, only one's own lock released)."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

from emergence_jax.core.errors import StoreError
from emergence_jax.io.location import Location, WriterLock


def test_paths_are_resolved_like_the_os_does(tmp_path, monkeypatch):
    real = tmp_path / "real" / "run"
    real.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real", target_is_directory=True)
    monkeypatch.chdir(tmp_path / "real")
    assert Location("run").local == real
    assert Location("../real/run").local == real
    assert Location(f"file://{link}/run").local == real
    # '..' after a symlink goes to the symlink target's parent, as the OS does (a lexical
    # resolution would give tmp_path / "a" / "sibling").
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "deep").symlink_to(real, target_is_directory=True)
    assert Location(tmp_path / "a" / "deep" / ".." / "sibling").local == \
        tmp_path / "real" / "sibling"
    assert Location(tmp_path / "deep_link" / ".." / "x").local == tmp_path / "x"  # not there yet
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Location("~/runs/a").local == tmp_path / "home" / "runs" / "a"
    with pytest.raises(StoreError, match="empty path"):
        Location("")
    assert Location("gs://bucket/run/").url == "gs://bucket/run/"


def test_write_atomic_leaves_temporary_files_inside(tmp_path):
    loc = Location(tmp_path / "out")
    loc.write_atomic("a/b.json", b"{}")
    assert (tmp_path / "out" / "a" / "b.json").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert loc.list_keys() == ["a/b.json"] and loc.list_keys("a/") == ["a/b.json"]


@pytest.mark.parametrize("url", ["local", "memory://exclusive_test"])
def test_create_exclusive_and_delete(tmp_path, url):
    loc = Location(tmp_path / "x" if url == "local" else url)
    assert loc.create_exclusive("lock", b"first")
    assert not loc.create_exclusive("lock", b"second")
    assert loc.read("lock") == b"first"
    loc.delete_file("lock")
    assert loc.read("lock") is None and loc.create_exclusive("lock", b"third")
    loc.delete_file("lock")


def _try_create(args):
    path, i = args
    return Location(path).create_exclusive("lock", str(i).encode())


def test_create_exclusive_has_one_winner_among_processes(tmp_path):
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        won = pool.map(_try_create, [(str(tmp_path), i) for i in range(16)])
    assert sum(won) == 1
    assert int((tmp_path / "lock").read_text()) == won.index(True)


def test_writer_lock_names_holder_and_releases_only_its_own(tmp_path):
    loc = Location(tmp_path / "store")
    lock = WriterLock.acquire(loc, "writer.lock")
    holder = json.loads((tmp_path / "store" / "writer.lock").read_text())
    assert holder["host"] == socket.gethostname() and holder["pid"] == os.getpid()
    with pytest.raises(StoreError, match=rf"being written by another process \(host "
                                         rf"{socket.gethostname()}, PID {os.getpid()}, since"):
        WriterLock.acquire(loc, "writer.lock")
    # A lock someone else took over (broken) is not removed by the old holder.
    taken = WriterLock.acquire(loc, "writer.lock", break_lock=True)
    lock.release()
    assert WriterLock.read_holder(loc, "writer.lock")["token"] == taken.holder["token"]
    taken.release()
    assert not (tmp_path / "store" / "writer.lock").exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    loc = Location(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = dict(WriterLock._me(), pid=int(dead))
    (tmp_path / "writer.lock").write_text(json.dumps(stale))
    messages = []
    lock = WriterLock.acquire(loc, "writer.lock", log=messages.append)
    assert lock.holder["pid"] == os.getpid()
    assert "removing the stale writer lock" in messages[0] and f"PID {dead}" in messages[0]
    lock.release()


def test_lock_from_another_host_needs_break_lock(tmp_path):
    loc = Location(tmp_path)
    other = dict(WriterLock._me(), host="elsewhere-node", pid=1)
    (tmp_path / "writer.lock").write_text(json.dumps(other))
    with pytest.raises(StoreError, match="host elsewhere-node, PID 1.*--break-lock"):
        WriterLock.acquire(loc, "writer.lock")
    (tmp_path / "writer.lock").write_text("garbage")
    with pytest.raises(StoreError, match="an unreadable lock file"):
        WriterLock.acquire(loc, "writer.lock")
    WriterLock.acquire(loc, "writer.lock", break_lock=True).release()


def test_refused_lock_leaves_no_directory_behind(tmp_path):
    lock = WriterLock.acquire(Location(tmp_path / "new" / "store"), "writer.lock")
    lock.release()
    assert not (tmp_path / "new" / "store").exists()  # created for the lock, empty again


def test_unwritable_location_is_named(tmp_path):
    target = "/sys/emergence_jax_test" if os.geteuid() == 0 else tmp_path / "ro" / "x"
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(StoreError, match="not writable"):
        Location(target).check_writable()
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Location(tmp_path / "f").ensure_dir()
