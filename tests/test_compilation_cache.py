"""The persistent compilation cache: where it lives, that a second process loads what the first
compiled, and that the command line turns it on only for commands that compile."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emergence_jax.core import compilation_cache as cc


def test_cache_location_follows_the_environment(tmp_path):
    assert cc.cache_location({cc.ENV: "off"}) is None
    assert cc.cache_location({cc.ENV: " 0 "}) is None
    assert cc.cache_location({cc.ENV: str(tmp_path / "c")}) == tmp_path / "c"
    assert cc.cache_location({"XDG_CACHE_HOME": str(tmp_path)}) == \
        tmp_path / "emergence_jax" / "jax"
    assert cc.cache_location({}) == Path.home() / ".cache" / "emergence_jax" / "jax"


PROGRAM = r"""
import sys
import jax, jax.numpy as jnp
from jax import monitoring
from emergence_jax.core.compilation_cache import enable_compilation_cache
hits = []
monitoring.register_event_listener(
    lambda name, **kw: hits.append(name) if name == "/jax/compilation_cache/cache_hits" else None)
print("folder", enable_compilation_cache())
f = jax.jit(lambda x: jnp.sin(x) @ jnp.cos(x).T + jnp.tanh(x).sum())
f(jnp.ones((16, 16))).block_until_ready()
print("hits", len(hits))
"""


def _run(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR",)}
    env.update(env_extra, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def test_a_second_process_loads_the_compiled_program(tmp_path):
    folder = tmp_path / "cache"
    first = _run({cc.ENV: str(folder)})
    assert first == {"folder": str(folder), "hits": "0"}
    written = sorted(p.name for p in folder.iterdir())
    assert written, "nothing was written to the cache"
    second = _run({cc.ENV: str(folder)})
    assert int(second["hits"]) >= 1
    assert sorted(p.name for p in folder.iterdir()) == written      # nothing compiled twice
    off = _run({cc.ENV: "off"})
    assert off == {"folder": "None", "hits": "0"}
    # a folder JAX was already given is left as it is
    mine = tmp_path / "mine"
    theirs = _run({cc.ENV: str(folder), "JAX_COMPILATION_CACHE_DIR": str(mine)})
    assert theirs["folder"] == str(mine) and any(mine.iterdir())


def test_an_unwritable_folder_leaves_the_cache_off(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert _run({cc.ENV: str(ro / "cache")})["folder"] == "None"
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("command,turned_on", [("fit", True), ("sweep", True),
                                               ("simulate", False), ("config", False)])
def test_the_command_line_turns_it_on_for_commands_that_compile(monkeypatch, command,
                                                                 turned_on):
    import importlib

    from emergence_jax.app import cli
    calls = []
    module = importlib.import_module(f"emergence_jax.app.cli.commands.{command}")
    monkeypatch.setattr(module, "run", lambda args: 0)
    monkeypatch.setattr(cc, "enable_compilation_cache", lambda: calls.append(1))
    argv = {"fit": ["fit", "data.csv"], "sweep": ["sweep", "experiment.py"],
            "simulate": ["simulate", "emergent"], "config": ["config", "experiment.py"]}[command]
    assert cli.main(argv) == 0
    assert bool(calls) == turned_on
