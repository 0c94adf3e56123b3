import json

import numpy as np
import pytest

from _stats_common import FAST, small
from emergence_jax.core.errors import StoreError
from emergence_jax.analysis import fit_distribution, load_fit


@pytest.fixture(scope="module")
def fitted():
    data, truth = small("emergent", seed=3, return_truth=True)
    fit = fit_distribution(data, compare=False, **FAST)
    return data, truth, fit


def test_queries(fitted):
    data, truth, fit = fitted
    assert fit.diagnostics.ok, fit.diagnostics.message
    scales = np.array([1e4, 1e5, 1e6, 1e7, 1e9])          # includes unseen scales
    ps = fit.p_success(scales)
    assert ps.mean.shape == (5,)
    assert np.all(np.diff(ps.mean) > 0)                    # emergent preset: beta > 0
    assert np.all(ps.lower <= ps.mean) and np.all(ps.mean <= ps.upper)
    assert isinstance(fit.p_success(1e6).mean, float)
    sm = fit.success_mean(scales)
    assert np.all(np.diff(sm.mean) > 0)
    assert fit.failure_mean().mean < 0.15
    q = fit.quantiles(1e6, [0.1, 0.5, 0.9])
    assert q.mean.shape == (3,) and np.all(np.diff(q.mean) >= 0)
    y = fit.sample(1e6, 4000, seed=1)
    assert y.shape == (4000,) and y.min() >= 0 and y.max() <= 1
    # predictive sample agrees with the fitted P(success) and mean
    assert abs((y > 0.2).mean() - fit.p_above(1e6, 0.2).mean) < 0.05
    assert abs(y.mean() - fit.mean(1e6).mean) < 0.03
    grid = np.arange(51) / 50                              # count fit: n * pmf at k / n
    dens = fit.density(1e6, grid)
    assert dens.sum() / 50 == pytest.approx(1.0, abs=1e-3)
    assert np.trapezoid(fit.density(1e6, np.linspace(0.3, 0.7, 401)), np.linspace(0.3, 0.7, 401)) \
        == pytest.approx(fit.p_above(1e6, 0.29).mean - fit.p_above(1e6, 0.7).mean, abs=0.03)
    bt = fit.breakthrough_scale(0.5)
    assert bt.direction == "rising"
    assert bt.lower <= bt.median <= bt.upper
    assert fit.p_success(bt.median).mean == pytest.approx(0.5, abs=0.08)
    probs = fit.seed_success_probability()
    assert probs.shape == (len(data),)
    assert np.mean((probs > 0.5) == (truth == 1)) > 0.9
    text = fit.summary()
    assert "P(success)" in text and "diagnostics passed" in text


def test_save_load_identical_and_tamper(fitted, tmp_path):
    _, _, fit = fitted
    path = fit.save(tmp_path / "fit")
    assert not any(p.name.startswith(".fit.tmp") for p in tmp_path.iterdir())
    again = load_fit(path)
    for s in (3e5, [1e5, 1e8]):
        for name in ("p_success", "success_mean", "quantiles"):
            a, b = getattr(fit, name)(s), getattr(again, name)(s)
            np.testing.assert_array_equal(a.mean, b.mean)
            np.testing.assert_array_equal(a.upper, b.upper)
    np.testing.assert_array_equal(fit.sample(1e6, 100, seed=5), again.sample(1e6, 100, seed=5))
    np.testing.assert_array_equal(fit.seed_success_probability(), again.seed_success_probability())
    assert again.breakthrough_scale(0.5).median == fit.breakthrough_scale(0.5).median
    assert again.diagnostics.ok == fit.diagnostics.ok
    # overwrite in place works and leaves no temp/old directories
    fit.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit"]

    # tampered npz: one byte flipped
    npz = path / "posterior.npz"
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="checksum"):
        load_fit(path)
    fit.save(path)
    # tampered JSON: a plausible edit of the scale transform
    meta = json.loads((path / "fit.json").read_text())
    meta["scale_transform"]["xbar"] += 1.0
    (path / "fit.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="checksum"):
        load_fit(path)
    (path / "fit.json").write_text("{not json")
    with pytest.raises(StoreError):
        load_fit(path)
    fit.save(path)
    (path / "posterior.npz").unlink()
    with pytest.raises(StoreError, match="missing"):
        load_fit(path)
    with pytest.raises(StoreError):
        load_fit(tmp_path / "nothing")


def test_load_refuses_pickled_arrays(fitted, tmp_path, monkeypatch):
    """An npz holding an object array (which would need pickle) is refused even with a valid hash."""
    _, _, fit = fitted
    path = fit.save(tmp_path / "fit")
    import hashlib
    from emergence_jax.io import fit_store
    with np.load(path / "posterior.npz") as z:
        arrays = {k: z[k] for k in z.files}
    name = next(k for k in arrays if k.startswith("param__"))
    arrays[name] = np.array([{"x": 1}] * arrays[name].shape[0], dtype=object).reshape(-1, 1)
    with open(path / "posterior.npz", "wb") as f:
        np.savez(f, **arrays)
    meta = json.loads((path / "fit.json").read_text())
    meta["npz_sha256"] = hashlib.sha256((path / "posterior.npz").read_bytes()).hexdigest()
    meta["content_sha256"] = fit_store._content_hash(meta)
    (path / "fit.json").write_text(json.dumps(meta))
    calls = []
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    with pytest.raises(StoreError, match="unreadable"):
        load_fit(path)
    assert calls and all(k.get("allow_pickle") is False for k in calls)
