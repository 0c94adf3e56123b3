import numpy as np
import pytest

from emergence_jax.core.errors import DataError
from emergence_jax.analysis.data import SeedData


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


def test_curves_pivot():
    d = SeedData.from_arrays([1, 2, 1, 2, 1], [0.1, 0.2, 0.3, 0.4, 0.5], seed=[0, 0, 1, 1, 2])
    seeds, scales, table = d.curves()
    np.testing.assert_array_equal(seeds, [0, 1])
    np.testing.assert_array_equal(table, [[0.1, 0.2], [0.3, 0.4]])
