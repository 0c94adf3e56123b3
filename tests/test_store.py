"""Run store: layout, load_run API, kvstore URLs, zarr-python readability, clear errors on corrupt
or foreign files. These tests write synthetic stores (no training), so they are fast."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from emergence_jax.app import cli
from emergence_jax.core.config import ExperimentConfig, SweepConfig, to_dict
from emergence_jax.core.errors import DataError, StoreError
from emergence_jax.analysis.outcomes import point_outcomes
from emergence_jax.io.chunk_ledger import chunk_digest
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import (RunStore, config_differences, config_fingerprint,
                                        load_run, read_metadata, resume_ignored, verify_run)

P, S, E, M, CE = 2, 3, 4, 2, 2
NAMES = ["ood/exact_match", "train/loss"]


def _meta():
    cfg = ExperimentConfig(name="synthetic", sweep=SweepConfig(axes={"model.width": (16, 32)}))
    config = to_dict(cfg)
    return {
        "config": config, "fingerprint": config_fingerprint(config), "name": "synthetic",
        "axes": ["model.width"], "sweep_mode": "product",
        "scale_points": [{"coords": {"model.width": w},
                          "sizes": {"params": 1000.0 * (i + 1), "non_embedding_params": 500.0,
                                    "tokens": 1e4, "flops": 1e8}}
                         for i, w in enumerate((16, 32))],
        "metric_names": NAMES, "eval_steps": [10, 20, 30, 40], "chunk_evals": CE,
        "seeds": [0, 1, 2], "scale_variable": "params", "eval_examples": 64, "versions": {},
    }


def _fill(store: RunStore, rng) -> np.ndarray:
    """Writes point 0 completely and the first chunk of point 1; returns the expected metrics."""
    expected = np.full((P, S, E, M), np.nan, np.float32)
    for p, chunks in ((0, 2), (1, 1)):
        for c in range(chunks):
            block = rng.random((S, CE, M)).astype(np.float32)
            store.write_chunk(p, c * CE, block, np.array([False, p == 1, False]),
                              np.array([-1, 7 if p == 1 else -1, -1]))
            store.set_completion(p, (c + 1) * CE)
            expected[p, :, c * CE:(c + 1) * CE] = block
    return expected


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "run"
    store = RunStore.create(Location(path), _meta())
    expected = _fill(store, np.random.default_rng(0))
    return path, expected


def test_roundtrip_and_run_api(written):
    path, expected = written
    run = load_run(path)
    np.testing.assert_array_equal(run.metrics, expected)  # NaN where unwritten
    assert run.metrics.shape == (P, S, E, M)
    assert run.metric_names == NAMES
    assert run.eval_steps == [10, 20, 30, 40]
    assert run.seeds == [0, 1, 2]
    assert run.scale_variable == "params" and run.eval_examples == 64
    assert run.scale_points[1] == {"model.width": 32, "params": 2000.0,
                                   "non_embedding_params": 500.0, "tokens": 1e4, "flops": 1e8}
    assert run.completed.tolist() == [True, False]
    assert run.diverged.dtype == bool and run.diverged.tolist() == [[False] * 3,
                                                                    [False, True, False]]
    assert run.diverged_at[1].tolist() == [-1, 7, -1]
    assert run.config["name"] == "synthetic"
    np.testing.assert_array_equal(run.metric("train/loss"), expected[..., 1])
    outcomes = point_outcomes(run, "ood/exact_match")   # completed points, at their last eval
    assert [o.point for o in outcomes] == [0]
    np.testing.assert_array_equal(outcomes[0].values, expected[0, :, -1, 0])
    assert run.scale_values().tolist() == [1000.0, 2000.0]
    assert run.scale_values("model.width").tolist() == [16.0, 32.0]
    with pytest.raises(KeyError):
        run.metric("nope")


def test_lazy_package_export(written):
    import emergence_jax
    run = emergence_jax.load_run(str(written[0]))
    assert run.metrics.shape == (P, S, E, M)


@pytest.mark.parametrize("url", ["memory://teststore", "file://{tmp}/viaurl"])
def test_kvstore_urls(tmp_path, url):
    url = url.format(tmp=tmp_path)
    store = RunStore.create(Location(url), _meta())
    expected = _fill(store, np.random.default_rng(1))
    reopened = RunStore.open(Location(url))
    assert reopened.completion == [2 * CE, CE]
    run = load_run(url)
    np.testing.assert_array_equal(run.metrics, expected)
    if url.startswith("file://"):
        np.testing.assert_array_equal(load_run(tmp_path / "viaurl").metrics, expected)


def test_readable_with_zarr_python(written):
    zarr = pytest.importorskip("zarr")
    path, expected = written
    group = zarr.open_group(str(path), mode="r")
    assert sorted(group.array_keys()) == ["diverged", "diverged_at", "metrics"]
    metrics = zarr.open_array(str(path / "metrics"), mode="r")
    assert metrics.metadata.dimension_names == ("scale_point", "seed", "eval_step", "metric")
    assert group["diverged"].metadata.dimension_names == ("scale_point", "seed")
    np.testing.assert_array_equal(metrics[:], expected)
    meta = group.attrs["emergence_jax"]
    assert meta["metric_names"] == NAMES and meta["completion"] == [2 * CE, CE]


def test_metadata_write_is_atomic_replace(written):
    path, _ = written
    leftovers = [p.name for p in path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_fingerprint_and_differences():
    a = to_dict(ExperimentConfig())
    b = json.loads(json.dumps(a))
    b["model"]["width"] = 128
    b["name"] = "renamed"  # ignored: does not change stored numbers
    assert config_fingerprint(a) != config_fingerprint(b)
    assert config_differences(a, b) == ["model.width: 64 -> 128"]
    c = json.loads(json.dumps(a))
    c["name"] = "other"
    c["train"]["checkpoint_every_chunks"] = 7
    c["analysis"]["threshold"] = 0.5   # every analysis.* field is ignored
    c["analysis"]["method"] = "svi"
    assert config_fingerprint(a) == config_fingerprint(c)
    assert config_differences(a, c) == []
    assert resume_ignored("analysis.samples") and resume_ignored("name")
    assert not resume_ignored("analysis_extra") and not resume_ignored("train.steps")
    d = json.loads(json.dumps(a))
    del d["analysis"]  # a config written before the analysis section existed
    assert config_fingerprint(a) == config_fingerprint(d)


def _inspect_error(path, capsys) -> str:
    assert cli.main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_garbage_metadata(written, capsys):
    path, _ = written
    (path / "zarr.json").write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        load_run(path)
    assert "not valid JSON" in _inspect_error(path, capsys)


def test_foreign_zarr_group(tmp_path, capsys):
    path = tmp_path / "foreign"
    path.mkdir()
    (path / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                "attributes": {}}))
    with pytest.raises(StoreError, match="not an emergence_jax run store"):
        load_run(path)
    assert "not an emergence_jax run store" in _inspect_error(path, capsys)


def test_corrupt_metadata_fields(written):
    path, _ = written
    group = json.loads((path / "zarr.json").read_text())
    group["attributes"]["emergence_jax"]["completion"] = [1]
    (path / "zarr.json").write_text(json.dumps(group))
    with pytest.raises(StoreError, match="completion"):
        load_run(path)


def test_wrong_array_shape(written, capsys):
    import tensorstore as ts
    path, _ = written
    ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "metrics")}},
            create=True, delete_existing=True, dtype=ts.float32, shape=[5, 5]).result()
    with pytest.raises(StoreError, match="shape"):
        load_run(path)
    assert "shape (5, 5)" in _inspect_error(path, capsys)


def test_random_file_where_array_should_be(written, capsys):
    import shutil
    path, _ = written
    shutil.rmtree(path / "metrics")
    (path / "metrics").write_bytes(b"\x00garbage")
    with pytest.raises(StoreError, match="metrics"):
        load_run(path)
    assert "metrics" in _inspect_error(path, capsys)


def test_garbage_array_metadata_and_chunk(written):
    path, _ = written
    chunk = next(p for p in (path / "metrics" / "c").rglob("*") if p.is_file())
    chunk.write_bytes(b"truncated")
    with pytest.raises(StoreError, match="corrupt"):
        load_run(path)
    (path / "metrics" / "zarr.json").write_text("[]")
    with pytest.raises(StoreError, match="metrics"):
        load_run(path)


def test_missing_and_non_store_paths(tmp_path, capsys):
    with pytest.raises(StoreError, match="does not exist"):
        load_run(tmp_path / "absent")
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(StoreError, match="is a file"):
        load_run(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="not a run store"):
        load_run(tmp_path / "empty")
    assert "does not exist" in _inspect_error(tmp_path / "absent", capsys)
    assert read_metadata(Location(tmp_path / "empty")) is None


def test_inspect_prints_summary(written, capsys, monkeypatch):
    path, _ = written
    (path.parent / "elsewhere").mkdir()
    monkeypatch.chdir(path.parent / "elsewhere")
    assert cli.main(["inspect", "../run"]) == 0
    out = capsys.readouterr().out
    assert "scale points  2" in out and "complete      1/2" in out
    assert "[1/2] model.width=16" in out and "evals 2/4" in out
    assert "ood/exact_match>0.2" in out


def test_open_or_create_store_rules(tmp_path):
    path = tmp_path / "run"
    meta = _meta()
    store = RunStore.create(Location(path), meta)
    _fill(store, np.random.default_rng(2))
    (path / "notes.txt").write_text("keep me")
    # Same config: resumes with its completion.
    assert RunStore.open_or_create(Location(path), meta, overwrite=False).completion == [4, 2]
    # Different config: refused, naming the field.
    other = json.loads(json.dumps(meta))
    other["config"]["optimizer"]["weight_decay"] = 0.5
    other["fingerprint"] = config_fingerprint(other["config"])
    with pytest.raises(StoreError, match=r"optimizer.weight_decay: 0.01 -> 0.5"):
        RunStore.open_or_create(Location(path), other, overwrite=False)
    # Corrupt metadata: refused unless overwrite; overwrite keeps foreign files.
    (path / "zarr.json").write_text("garbage")
    with pytest.raises(StoreError, match="--overwrite"):
        RunStore.open_or_create(Location(path), meta, overwrite=False)
    fresh = RunStore.open_or_create(Location(path), meta, overwrite=True)
    assert fresh.completion == [0, 0] and (path / "notes.txt").read_text() == "keep me"
    assert np.isnan(load_run(path).metrics).all()


def test_interrupted_creation_is_recreated(tmp_path):
    path = tmp_path / "run"
    RunStore.create(Location(path), _meta())
    (path / "zarr.json").unlink()  # as if killed before the metadata was first written
    store = RunStore.open_or_create(Location(path), _meta(), overwrite=False)
    assert store.completion == [0, 0]


def test_resume_accepts_changed_analysis_settings(tmp_path):
    path = tmp_path / "run"
    meta = _meta()
    _fill(RunStore.create(Location(path), meta), np.random.default_rng(3))
    stale = json.loads((path / "zarr.json").read_text())
    stale["attributes"]["emergence_jax"]["fingerprint"] = "0" * 64  # made under older rules
    (path / "zarr.json").write_text(json.dumps(stale))
    other = json.loads(json.dumps(meta))
    other["config"]["analysis"]["threshold"] = 0.6
    other["fingerprint"] = config_fingerprint(other["config"])
    store = RunStore.open_or_create(Location(path), other, overwrite=False)
    assert store.completion == [4, 2]
    assert read_metadata(Location(path))["fingerprint"] == meta["fingerprint"]  # refreshed


def test_points_with_different_numbers_of_evals(tmp_path, capsys):
    """Points that train for different numbers of steps: a shorter point's eval steps are a prefix
    of the store's; its later entries stay NaN and its results end at its own last eval."""
    path = tmp_path / "ragged"
    meta = dict(_meta(), num_evals=[2, 4], chunk_evals=1)
    store = RunStore.create(Location(path), meta)
    rng = np.random.default_rng(4)
    expected = np.full((P, S, E, M), np.nan, np.float32)
    for p, n in ((0, 2), (1, 3)):
        block = rng.random((S, n, M)).astype(np.float32)
        store.write_chunk(p, 0, block, np.zeros(S, bool), np.full(S, -1))
        store.set_completion(p, n)
        expected[p, :, :n] = block
    run = load_run(path)
    assert run.num_evals == [2, 4] and run.completed.tolist() == [True, False]
    assert run.point_eval_steps(0) == [10, 20] and run.point_eval_steps(1) == [10, 20, 30, 40]
    try:
        import xarray  # noqa: F401
    except ImportError:
        pass
    else:
        assert run.to_xarray()["num_evals"].values.tolist() == [2, 4]
    np.testing.assert_array_equal(run.metrics, expected)
    assert np.isnan(run.metric("train/loss")[0, :, 2:]).all()
    outcomes = point_outcomes(run, "ood/exact_match")
    np.testing.assert_array_equal(outcomes[0].values, expected[0, :, 1, 0])  # ends at step 20
    assert [o.point for o in outcomes] == [0]                       # point 1 not finished yet
    assert cli.main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "last eval     per scale point: 20, 40" in out and "evals 3/4" in out
    chunks = json.loads((path / "metrics" / "zarr.json").read_text())["chunk_grid"]
    assert chunks["configuration"]["chunk_shape"] == [1, S, 1, M]
    # Older stores have no num_evals: every point has all eval steps.
    group = json.loads((path / "zarr.json").read_text())
    del group["attributes"]["emergence_jax"]["num_evals"]
    (path / "zarr.json").write_text(json.dumps(group))
    assert load_run(path).num_evals == [E, E]
    group["attributes"]["emergence_jax"]["num_evals"] = [2, 5]
    (path / "zarr.json").write_text(json.dumps(group))
    with pytest.raises(StoreError, match="num_evals"):
        load_run(path)


# --------------------------------------------------------------------------------------------
# The chunk ledger: every written chunk accounted for.


def test_ledger_records_every_counted_chunk(written):
    path, expected = written
    meta = read_metadata(Location(path))
    assert meta["format_version"] == 2
    digests = meta["digests"]
    assert [d is not None for d in digests["metrics"][0]] == [True, True]
    assert [d is not None for d in digests["metrics"][1]] == [True, False]  # 1 of 2 counted
    assert digests["metrics"][0][1] == chunk_digest(expected[0, :, 2:4])
    assert all(digests[name][p] is not None for name in ("diverged", "diverged_at")
               for p in (0, 1))
    assert verify_run(path)[1] == []


def test_lost_chunk_is_an_error_not_fill_values(written, capsys):
    path, _ = written
    (path / "metrics/c/0/0/1/0").unlink()
    with pytest.raises(StoreError, match=r"scale point 0 \(model.width=16\): metrics of "
                                         r"evaluations 3..4 \(metrics/c/0/0/1/0\) missing"):
        load_run(path)
    assert cli.main(["inspect", "--verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert "1 damaged chunk(s) of 3 written" in out and "metrics/c/0/0/1/0" in out


def test_altered_and_undecodable_chunks(written):
    import tensorstore as ts
    path, expected = written
    metrics = ts.open({"driver": "zarr3", "kvstore": {"driver": "file",
                                                     "path": str(path / "metrics")}}).result()
    metrics[0, :, 0:2, :].write(expected[0, :, 0:2] + 0.5).result()   # valid, but not what was written
    (path / "diverged/c/1/0").unlink()                                  # flags of point 1
    with pytest.raises(StoreError, match=r"evaluations 1..2 \(metrics/c/0/0/0/0\) corrupt"):
        load_run(path)
    (path / "metrics/c/1/0/0/0").write_bytes(b"not zstd")
    _, lines = verify_run(path)
    assert lines == [
        "scale point 1 (model.width=32): metrics of evaluations 1..2 (metrics/c/1/0/0/0) "
        "corrupt (cannot be decoded)",
        "scale point 0 (model.width=16): metrics of evaluations 1..2 (metrics/c/0/0/0/0) "
        "corrupt (its values differ from those written)",
        "scale point 1 (model.width=32): diverged flags (diverged/c/1/0) missing"]
    with pytest.raises(StoreError, match=r"the chunk metrics/c/1/0/0/0 is corrupt"):
        load_run(path)
    store = RunStore.open_or_create(Location(path), _meta())
    assert store.repairs == {0: [(0, 2)], 1: [(0, 2)]}   # flags: rewritten with the last chunk


def test_readers_see_only_counted_evaluations(tmp_path):
    """A chunk written but not yet counted (a sweep between writing and recording it) reads as
    NaN, as it would after a crash."""
    store = RunStore.create(Location(tmp_path / "run"), _meta())
    block = np.ones((S, CE, M), np.float32)
    store.write_chunk(0, 0, block, np.zeros(S, bool), np.full(S, -1))
    assert np.isnan(load_run(tmp_path / "run").metrics).all()
    store.set_completion(0, CE)
    assert (load_run(tmp_path / "run").metrics[0, :, :CE] == 1).all()


def test_format_1_store_is_read_and_upgraded_on_resume(written):
    """A store written before the ledger: read (missing metrics chunks still found); resuming it
    records the digests of what it holds."""
    path, expected = written
    group = json.loads((path / "zarr.json").read_text())
    meta = group["attributes"]["emergence_jax"]
    meta["format_version"] = 1
    del meta["digests"]
    (path / "zarr.json").write_text(json.dumps(group))
    np.testing.assert_array_equal(load_run(path).metrics, expected)
    store = RunStore.open_or_create(Location(path), _meta())
    upgraded = read_metadata(Location(path))
    assert upgraded["format_version"] == 2 and store.repairs == {}
    assert upgraded["digests"]["metrics"][0][1] == chunk_digest(expected[0, :, 2:4])
    assert upgraded["digests"]["diverged"][1] is None     # point 1 unfinished: flags not final
    (path / "zarr.json").write_text(json.dumps(group))    # format 1 again, then lose a chunk
    (path / "metrics/c/0/0/0/0").unlink()
    with pytest.raises(StoreError, match="missing"):
        load_run(path)


def test_overwrite_deletes_only_the_stores_own_entries(tmp_path):
    path = tmp_path / "run"
    _fill(RunStore.create(Location(path), _meta()), np.random.default_rng(5))
    (path / "checkpoints" / "my_notes.txt").write_text("keep me")
    with pytest.raises(StoreError, match="checkpoints is not part of a run store.*nothing was "
                                         "deleted"):
        RunStore.open_or_create(Location(path), _meta(), overwrite=True)
    assert (path / "checkpoints" / "my_notes.txt").exists() and (path / "metrics").exists()
    (path / "checkpoints" / "my_notes.txt").unlink()
    assert RunStore.open_or_create(Location(path), _meta(), overwrite=True).completion == [0, 0]

    # A directory holding only someone's folder named like a store entry is not "leftovers".
    mine = tmp_path / "mine"
    (mine / "metrics").mkdir(parents=True)
    (mine / "metrics" / "results.csv").write_text("a,b\n")
    with pytest.raises(StoreError, match="metrics is not part of a run store"):
        RunStore.open_or_create(Location(mine), _meta())
    assert (mine / "metrics" / "results.csv").exists()
    # Someone else's zarr group is not replaced either.
    other = tmp_path / "other"
    other.mkdir()
    (other / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                 "attributes": {"owner": "me"}}))
    with pytest.raises(StoreError, match="zarr.json is not part of a run store"):
        RunStore.open_or_create(Location(other), _meta(), overwrite=True)
    assert "owner" in (other / "zarr.json").read_text()


@pytest.mark.parametrize("field, value, message", [
    ("eval_steps", [10, 30, 20, 40], "increasing positive integers"),
    ("chunk_evals", 3, "dividing the 4 eval steps"),
    ("eval_examples", True, "'eval_examples' is True"),
    ("metric_names", ["a", "a"], "distinct strings"),
    ("completion", [5, 0], "each in 0..num_evals"),
    ("num_evals", [2], "one count in 1..4 per scale point"),
    ("digests", {"metrics": []}, "a chunk ledger"),
    ("axes", [1], "a list of field names"),
])
def test_tampered_metadata_fields_are_named(written, field, value, message):
    path, _ = written
    group = json.loads((path / "zarr.json").read_text())
    group["attributes"]["emergence_jax"][field] = value
    (path / "zarr.json").write_text(json.dumps(group))
    with pytest.raises(StoreError, match=re.escape(message)):
        load_run(path)


_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
              st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_tampered_metadata_gives_a_run_or_a_named_error(tmp_path_factory, data):
    """Any field of the metadata replaced by any JSON value (or removed): ``load_run`` returns a
    Run whose outcomes can be read, or raises StoreError — never another exception."""
    path = tmp_path_factory.getbasetemp() / "fuzz_meta"
    if not path.exists():
        _fill(RunStore.create(Location(path), _meta()), np.random.default_rng(7))
    original = (path / "zarr.json").read_text()
    group = json.loads(original)
    meta = group["attributes"]["emergence_jax"]
    target = meta
    keys = data.draw(st.lists(st.sampled_from(["scale_points", "config", "digests", "sizes",
                                               "coords", "0", "metrics", "model"]), max_size=2))
    field = data.draw(st.sampled_from(sorted(meta)))
    for key in keys:  # sometimes reach into a nested field
        inner = target.get(field) if isinstance(target, dict) else None
        if isinstance(inner, list) and inner:
            inner = inner[0]
        if not isinstance(inner, dict) or not inner:
            break
        target, field = inner, data.draw(st.sampled_from(sorted(inner)))
    if data.draw(st.booleans()):
        target[field] = data.draw(_VALUES)
    else:
        del target[field]
    try:
        (path / "zarr.json").write_text(json.dumps(group))
        try:
            run = load_run(path)
        except StoreError:
            return
        for name in run.metric_names:
            point_outcomes(run, name)
        run.scale_values()
    except (DataError, KeyError) as e:  # outcome errors about a metric or scale key are named
        assert str(e)
    finally:
        (path / "zarr.json").write_text(original)
