"""Every bad input a new user is likely to give, one table: each case is run through the command
line and must end with exit status 2 (1 for ``inspect --verify``, which reports damage) and one
line on stderr naming the file / field / row and what is allowed — never a traceback.

The table is also the documentation: ``docs/bad-inputs.md`` lists every case with the message it
gets. The test checks that the page lists every case (and nothing else) with a message containing
the expected text; regenerate the page after changing a case or a message with

    EMERGENCE_JAX_WRITE_DOCS=1 python -m pytest -q -p no:xdist tests/test_bad_inputs.py
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from emergence_jax.app import cli
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import RunStore

sys.path.insert(0, str(Path(__file__).parent))
from test_store import _fill, _meta  # noqa: E402  (a synthetic run store, no training)

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"

TINY = textwrap.dedent('''
    from emergence_jax.core.config import (ExperimentConfig, ModelConfig, PopulationConfig,
                                           TrainConfig)

    def get_config():
        return ExperimentConfig(name="tiny", model=ModelConfig(depth=1, width=16, heads=2),
                                train=TrainConfig(steps=8, batch_size=4, eval_every=4),
                                population=PopulationConfig(num_seeds=2))
''')
CSV = "scale,seed,value\n1e6,0,0.5\n1e6,1,0.25\n2e6,0,0.75\n2e6,1,1.0\n"


@dataclasses.dataclass(frozen=True)
class Case:
    area: str
    input: str                       # what the user gave, as the docs show it
    setup: Callable[[Path], list]    # prepares files in the work dir, returns the argv
    expected: str                    # a part of the message that must appear
    status: int = 2


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def _experiment(body: str):
    def setup(work: Path) -> list:
        _write(work / "exp.py", textwrap.dedent(body))
        return ["config", "exp.py"]
    return setup


def _tiny(command: str, *args: str, out: str | None = None):
    def setup(work: Path) -> list:
        _write(work / "tiny.py", TINY)
        return [command, "tiny.py", *args] + (["--out", out] if out else [])
    return setup


def _csv(text: str | bytes, *args: str):
    def setup(work: Path) -> list:
        _write(work / "data.csv", text)
        return ["fit", "data.csv", *args]
    return setup


def _store(work: Path) -> Path:
    path = work / "run"
    _fill(RunStore.create(Location(path), _meta()), np.random.default_rng(0))
    return path


def _tampered_store(edit: Callable[[dict], None], command: str = "inspect"):
    def setup(work: Path) -> list:
        path = _store(work)
        group = json.loads((path / "zarr.json").read_text())
        edit(group["attributes"]["emergence_jax"])
        (path / "zarr.json").write_text(json.dumps(group))
        return [command, "run"]
    return setup


def _lost_chunk(command: str, *args: str):
    def setup(work: Path) -> list:
        path = _store(work)
        (path / "metrics" / "c" / "0" / "0" / "1" / "0").unlink()
        return [command, "run", *args]
    return setup


def _readonly_dir(work: Path) -> str:
    """A directory nothing can be written into (as root, permissions do not stop writes: a
    path under /sys, which refuses new entries, stands in)."""
    if os.geteuid() == 0:
        return "/sys/emergence_jax_readonly"
    target = work / "readonly"
    target.mkdir()
    target.chmod(0o500)
    return str(target / "out")


def _fit_into_readonly(work: Path) -> list:
    _write(work / "data.csv", CSV)
    return ["fit", "data.csv", "--out", _readonly_dir(work)]


def _user_file_named(name: str, argv: list):
    def setup(work: Path) -> list:
        _write(work / "mine" / name, "my own file\n")
        _write(work / "data.csv", CSV)
        if argv[0] == "report":
            _store(work)
        if argv[0] == "sweep":
            _write(work / "tiny.py", TINY)
        return list(argv)
    return setup


def _locked_store(work: Path) -> list:
    _write(work / "tiny.py", TINY)
    holder = {"format": "emergence_jax.writer_lock", "host": "gpu-node-7", "pid": 4242,
              "process_start": None, "started": "2025-01-01T09:00:00+00:00",
              "command": "emergence-jax sweep tiny.py", "token": "0" * 32}
    _write(work / "run" / "writer.lock", json.dumps(holder))
    return ["sweep", "tiny.py", "--out", "run", "--no-progress"]


def _tampered_fit(work: Path) -> list:
    _write(work / "fit" / "fit.json", json.dumps({"format": "emergence_jax.fit",
                                                  "format_version": 1, "content_sha256": "0"}))
    _write(work / "fit" / "posterior.npz", b"")
    _store(work)
    return ["report", "run", "--fit", "fit", "--out", "r"]


CASES = [
    # Experiment files and overrides.
    Case("experiment file", "a syntax error in the experiment file",
         _experiment("from emergence_jax.core.config import ExperimentConfig\n"
                     "def get_config():\n    return ExperimentConfig(name='x'\n"),
         "line 3: syntax error"),
    Case("experiment file", "an experiment file whose import fails",
         _experiment("import not_a_module_anywhere\n"), "importing it raised ModuleNotFoundError"),
    Case("experiment file", "`get_config()` raises",
         _experiment("def get_config():\n    raise ValueError('no such preset')\n"),
         "line 2: get_config() raised ValueError: no such preset"),
    Case("experiment file", "`get_config` is not a function",
         _experiment("get_config = 5\n"), "get_config is a int, not a function"),
    Case("experiment file", "`get_config()` returns a dict",
         _experiment("def get_config():\n    return {'model': {'width': 64}}\n"),
         "get_config() returned dict"),
    Case("experiment file", "no `get_config`", _experiment("x = 1\n"), "defines no get_config"),
    Case("experiment file", "a missing experiment file", lambda w: ["config", "nope.py"],
         "does not exist"),
    Case("override", "`--set model=5` (a whole section, not a dict of its fields)",
         lambda w: ["config", str(Path(__file__).parents[1] / "experiments" / "count.py"),
                    "--set", "model=5"],
         "model: expected a ModelConfig section"),
    Case("override", "`--set task=5`",
         lambda w: ["config", str(Path(__file__).parents[1] / "experiments" / "count.py"),
                    "--set", "task=5"],
         "task: expected a task config section"),
    Case("override", "`--set 'model={\"widht\": 3}'` (a section dict with an unknown field)",
         _tiny("config", "--set", 'model={"widht": 3}'), "model.widht: unknown field"),
    Case("override", "`--set name=../../elsewhere` (a run directory outside runs/)",
         _tiny("config", "--set", "name=../../elsewhere"), "name: got '../../elsewhere'"),
    Case("override", "`--set population.first_seed=2147483647` (seed ids past int32)",
         _tiny("config", "--set", "population.first_seed=2147483647"),
         "seed ids are int32"),
    Case("override", "`--set population.init_seed=4294967296` (a key seed that would wrap)",
         _tiny("config", "--set", "population.init_seed=4294967296"),
         "population.init_seed: got 4294967296; allowed: a number in [0, 4294967295]"),
    # Sizes, checked before anything is allocated or created.
    Case("size", "`train --set model.width=1000000` (12 trillion parameters)",
         _tiny("train", "--set", "model.width=1000000"), "the population needs about"),
    Case("size", "`sweep --set population.num_seeds=1000000000`",
         _tiny("sweep", "--set", "population.num_seeds=1000000000", out="big"),
         "seed(s) per device, computed"),
    # Outputs.
    Case("output", "`fit --out` into a directory that cannot be written", _fit_into_readonly,
         "the output is not writable"),
    Case("output", "`sweep --out` naming a file", lambda w: _write(w / "tiny.py", TINY) and [
        "sweep", "tiny.py", "--out", str(_write(w / "afile", "x")), "--no-progress"],
         "is a file"),
    Case("output", "`fit --out mine` where mine/fit.json is the user's own file",
         _user_file_named("fit.json", ["fit", "data.csv", "--out", "mine"]),
         "fit.json exists and is not an emergence_jax fit"),
    Case("output", "`report --out mine` where mine/index.md is the user's own file",
         _user_file_named("index.md", ["report", "run", "--out", "mine"]),
         "not written by an emergence_jax report"),
    Case("output", "`sweep --overwrite --out mine` where mine/metrics/ is the user's own folder",
         _user_file_named("metrics/notes.txt", ["sweep", "tiny.py", "--out", "mine",
                                                "--overwrite", "--no-progress"]),
         "metrics is not part of a run store"),
    Case("output", "`simulate data.csv` where data.csv exists",
         lambda w: _write(w / "data.csv", CSV) and ["simulate", "data.csv"],
         "simulate does not replace a file unless you pass --overwrite"),
    Case("output", "a second `sweep` on a run store another process is writing", _locked_store,
         "being written by another process (host gpu-node-7, PID 4242"),
    # Seed CSVs.
    Case("CSV", "a Latin-1 CSV", _csv("scale,seed,value,group\n1e6,0,0.5,caf\xe9\n"
                                      .encode("latin-1")),
         "row 2: byte 0xe9 is not UTF-8"),
    Case("CSV", "a UTF-16 CSV", _csv(CSV.encode("utf-16")), "the file is UTF-16 text"),
    Case("CSV", "a (scale, seed) on two rows",
         _csv("scale,seed,value\n1e6,0,0.5\n1e6,1,0.5\n1e6,0,0.7\n"),
         "row 2 and row 4 have the same (scale 1e+06, seed 0)"),
    Case("CSV", "a value off the 1/n_eval grid (0.347 with n_eval = 2)",
         _csv("scale,seed,value,n_eval\n1e6,0,0.347,2\n"),
         "row 2, column 'value': 0.347 is not a fraction of the row's n_eval = 2"),
    Case("CSV", "a seed id beyond int64",
         _csv("scale,seed,value\n1e6,99999999999999999999,0.5\n"),
         "row 2, column 'seed': 99999999999999999999 is outside the int64 range"),
    Case("CSV", "a missing column", _csv("scale,seed\n1e6,0\n"), "missing column(s) value"),
    Case("CSV", "a column given twice", _csv("scale,seed,value,value\n1e6,0,0.5,0.5\n"),
         "column 'value' appears more than once"),
    Case("CSV", "a value outside [0, 1]", _csv("scale,seed,value\n1e6,0,1.5\n"),
         "row 2, column 'value': 1.5 is outside [0, 1]"),
    Case("CSV", "an empty file", _csv(""), "empty file"),
    # Run stores.
    Case("run store", "metadata `completion: [\"x\"]`",
         _tampered_store(lambda m: m.update(completion=["x"])),
         "run metadata field 'completion' is ['x']"),
    Case("run store", "metadata `sizes: \"big\"`",
         _tampered_store(lambda m: m["scale_points"][0].update(sizes="big")),
         "run metadata field 'scale_points[0]'"),
    Case("run store", "metadata with a seed listed twice",
         _tampered_store(lambda m: m.update(seeds=[0, 0, 1])),
         "run metadata field 'seeds' is [0, 0, 1]"),
    Case("run store", "metadata whose `config.model` is not a section",
         _tampered_store(lambda m: m["config"].update(model=5), command="fit"),
         "run metadata field 'config.model' is 5"),
    Case("run store", "a store written by a newer version (format_version 99)",
         _tampered_store(lambda m: m.update(format_version=99)),
         "run store format version 99 is not supported"),
    Case("run store", "`inspect` of a store that lost a chunk", _lost_chunk("inspect"),
         "metrics of evaluations 3..4 (metrics/c/0/0/1/0) missing"),
    Case("run store", "`fit` of a store that lost a chunk", _lost_chunk("fit"),
         "metrics of evaluations 3..4 (metrics/c/0/0/1/0) missing"),
    Case("run store", "`inspect --verify` of a store that lost a chunk",
         _lost_chunk("inspect", "--verify"), "metrics of evaluations 3..4", status=1),
    # Saved fits.
    Case("fit", "a fit folder whose fit.json was edited", _tampered_fit, "checksum mismatch"),
]


def _normalise(text: str, work: Path) -> str:
    """The message as the docs show it: paths relative to the work directory."""
    for prefix in {str(work), os.path.realpath(work)}:
        text = text.replace(prefix + os.sep, "").replace(prefix, ".")
    return text.strip()


def _run_case(case: Case, work: Path, capsys) -> str:
    argv = case.setup(work)
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    if case.status == 1:  # inspect --verify: a report on stdout
        assert code == 1, captured
        lines = [ln.strip() for ln in captured.out.splitlines() if case.expected in ln]
        assert lines, captured.out
        return _normalise(lines[0], work)
    err = captured.err.strip()
    assert code == case.status, (case.input, code, captured)
    assert "Traceback" not in err and "\n" not in err, err
    assert err.startswith(f"emergence-jax {argv[0]}: error: "), err
    assert case.expected in err, (case.expected, err)
    return _normalise(err, work)


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.input}" for c in CASES])
def test_bad_input_is_named(case, work, capsys):
    _run_case(case, work, capsys)
    if case.input.startswith("`sweep --set population.num_seeds"):
        assert not (work / "big").exists()  # refused before any store was created
    if "user's own" in case.input:
        assert "my own file" in next((work / "mine").rglob("*.*")).read_text()


def _doc_rows(text: str) -> dict[str, str]:
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| (.+?) \| (.+?) \| `(.*)` \|$", line)
        if m and m.group(1) != "area":
            rows[m.group(2).replace("\\|", "|")] = m.group(3)
    return rows


def render_doc(messages: list[tuple[Case, str]]) -> str:
    lines = [
        "# Bad inputs and their messages",
        "",
        "What emergence_jax says when it is given something it cannot use. Every command stops "
        "before any compute with exit status 2 and one line naming the file, field or row and "
        "what is allowed (`inspect --verify` lists damage and exits with 1); none prints a "
        "traceback. The same errors reach Python callers as `ConfigError`, `DataError` or "
        "`StoreError` (`emergence_jax.core.errors`).",
        "",
        "This page is generated from the cases of `tests/test_bad_inputs.py`, which runs each "
        "one (paths are shown relative to the directory the command ran in):",
        "",
        "```bash",
        "EMERGENCE_JAX_WRITE_DOCS=1 python -m pytest -q -p no:xdist tests/test_bad_inputs.py",
        "```",
        "",
        "| area | input | message |",
        "| --- | --- | --- |",
    ]
    for case, message in messages:
        shown = message.replace("|", "\\|").replace("`", "'")
        lines.append(f"| {case.area} | {case.input.replace('|', chr(92) + '|')} | `{shown}` |")
    return "\n".join(lines) + "\n"


def test_docs_list_every_case(tmp_path_factory, capsys, monkeypatch):
    """docs/bad-inputs.md lists exactly these cases, each with a message holding the expected
    text (regenerated from the cases when EMERGENCE_JAX_WRITE_DOCS is set)."""
    if os.environ.get("EMERGENCE_JAX_WRITE_DOCS"):
        messages = []
        for i, case in enumerate(CASES):
            work = tmp_path_factory.mktemp(f"case{i}")
            monkeypatch.chdir(work)
            messages.append((case, _run_case(case, work, capsys)))
        DOC.write_text(render_doc(messages))
        shutil.rmtree(tmp_path_factory.getbasetemp(), ignore_errors=True)
    rows = _doc_rows(DOC.read_text())
    assert list(rows) == [c.input for c in CASES], (
        "docs/bad-inputs.md is out of date: regenerate it (see this file's docstring)")
    for case in CASES:
        assert case.expected.replace("`", "'") in rows[case.input], case.input
