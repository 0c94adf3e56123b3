import numpy as np
import pytest

from emergence_jax.errors import DataError
from emergence_jax.stats.data import SeedData


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_roundtrip(tmp_path):
    p = write(tmp_path, "scale,seed,value,n_eval\n1e6,0,0.5,10\n1e6,1,0.0,10\n2e6,0,1.0,10\n")
    d = SeedData.from_csv(p)
    assert len(d) == 3
    np.testing.assert_array_equal(d.scales, [1e6, 2e6])
    np.testing.assert_array_equal(d.n_eval, [10, 10, 10])
    q = tmp_path / "out.csv"
    d.to_csv(q)
    d2 = SeedData.from_csv(q)
    np.testing.assert_array_equal(d2.value, d.value)


@pytest.mark.parametrize("text, row, column", [
    ("scale,seed\n1,0\n", "row 1", "value"),                              # missing column
    ("scale,seed,value\n1e6,0,0.5\n1e6,1,1.5\n", "row 3", "'value'"),    # outside [0, 1]
    ("scale,seed,value\n1e6,0,0.5\n-2,1,0.5\n", "row 3", "'scale'"),     # non-positive scale
    ("scale,seed,value\n1e6,0,nan\n", "row 2", "'value'"),               # NaN
    ("scale,seed,value\n1e6,0,abc\n", "row 2", "'value'"),               # non-numeric
    ("scale,seed,value\n1e6,x,0.1\n", "row 2", "'seed'"),                # non-integer seed
    ("scale,seed,value,n_eval\n1e6,0,0.1,0\n", "row 2", "'n_eval'"),     # bad n_eval
    ("scale,seed,value\n1e6,0,0.1\n0,1,0.1\n", "row 3", "'scale'"),      # zero scale
    ("scale,seed,value\n1e6,0\n", "row 2", "fields"),                    # short row
])
def test_malformed_csv_names_row_and_column(tmp_path, text, row, column):
    with pytest.raises(DataError) as e:
        SeedData.from_csv(write(tmp_path, text))
    assert row in str(e.value) and column in str(e.value)


def test_from_arrays_rejects_nan_and_range():
    with pytest.raises(DataError, match="row 1, column 'value'"):
        SeedData.from_arrays([1.0, 1.0], [0.1, np.nan])
    with pytest.raises(DataError, match="row 0, column 'scale'"):
        SeedData.from_arrays([0.0, 1.0], [0.1, 0.2])
    with pytest.raises(DataError, match="'value'"):
        SeedData.from_arrays([1.0, 1.0], [0.1, -0.2])


class FakeRun:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.metric_names = ["id/loss", "ood/exact_match"]
        self.eval_steps = [100, 200, 300]
        self.seeds = [10, 11, 12, 13]
        self.scale_points = [{"width": w, "params": 1e5 * w, "non_embedding_params": 9e4 * w,
                              "tokens": 1e7, "flops": 6e12 * w} for w in (1, 2, 4)]
        self.scale_variable = "params"
        self.eval_examples = 50
        m = rng.integers(0, 51, size=(3, 4, 3, 2)) / 50.0
        m[1, 2, 2, 1] = np.nan          # a NaN metric (diverged without the flag)
        self.metrics = m
        self.diverged = np.zeros((3, 4), bool)
        self.diverged[0, 0] = True
        self.completed = np.array([True, True, False])
        self.config = {}


def test_from_run_final_step_completed_points_and_divergence(capsys):
    run = FakeRun()
    d = SeedData.from_run(run, "ood/exact_match")
    assert d.excluded == 2
    assert len(d) == 8 - 2                     # two completed points x 4 seeds, minus 2 excluded
    np.testing.assert_array_equal(d.scales, [1e5, 2e5])
    assert "excluded 2" in capsys.readouterr().out
    expected = run.metrics[0, 1:, 2, 1]
    np.testing.assert_allclose(d.value[d.scale == 1e5], expected)
    np.testing.assert_array_equal(d.n_eval, 50)
    d2 = SeedData.from_run(run, "ood/exact_match", "flops", eval_step=100, verbose=False)
    np.testing.assert_array_equal(d2.scales, [6e12, 1.2e13])
    with pytest.raises(DataError, match="not in this run"):
        SeedData.from_run(run, "nope")


def test_curves_pivot():
    d = SeedData.from_arrays([1, 2, 1, 2, 1], [0.1, 0.2, 0.3, 0.4, 0.5], seed=[0, 0, 1, 1, 2])
    seeds, scales, table = d.curves()
    np.testing.assert_array_equal(seeds, [0, 1])
    np.testing.assert_array_equal(table, [[0.1, 0.2], [0.3, 0.4]])


def test_from_run_points_with_different_numbers_of_evals():
    """A sweep over train.steps: point 0 has 2 evals, point 1 has 3 (entries past a point's end are
    NaN). Every seed of the shorter point is kept, read at its own last eval."""
    from emergence_jax.stats.emergence import emergence_from_run
    run = FakeRun()
    run.num_evals = [2, 3, 3]
    run.metrics[0, :, 2, :] = np.nan
    run.metrics[1, 2, 2, 1] = 0.4
    d = SeedData.from_run(run, "ood/exact_match", verbose=False)
    assert d.excluded == 1                     # only the flagged diverged seed
    assert len(d) == 8 - 1
    np.testing.assert_allclose(d.value[d.scale == 1e5], run.metrics[0, 1:, 1, 1])
    np.testing.assert_allclose(d.value[d.scale == 2e5], run.metrics[1, :, 2, 1])
    d100 = SeedData.from_run(run, "ood/exact_match", eval_step=200, verbose=False)
    np.testing.assert_allclose(d100.value[d100.scale == 1e5], run.metrics[0, 1:, 1, 1])
    with pytest.raises(DataError, match="scale point 0"):
        SeedData.from_run(run, "ood/exact_match", eval_step=300, verbose=False)
    size, time, event = emergence_from_run(run, "ood/exact_match", threshold=0.5)
    assert (size == 1e5).sum() == 3 and (size == 2e5).sum() == 4
    assert time[size == 1e5].max() <= 200      # censored at the point's own last eval
    assert np.all(time[(size == 1e5) & ~event] == 200)
