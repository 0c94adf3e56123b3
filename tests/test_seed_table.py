"""Seed CSVs: encodings (UTF-8 with or without a byte-order mark), exact integers, repeated rows,
the 1/n_eval grid, and a fuzz test: whatever the bytes, reading gives valid ``SeedData`` or a
``DataError`` — never another exception."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from emergence_jax.analysis.data import SeedData
from emergence_jax.core.errors import DataError
from emergence_jax.io.seed_table import read_seed_table, write_seed_table


def _read(data: bytes, **kw) -> SeedData:
    fd, path = tempfile.mkstemp(suffix=".csv")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return SeedData.from_csv(path, **kw)
    finally:
        os.unlink(path)


def test_byte_order_mark_and_crlf_are_accepted():
    text = "scale,seed,value\r\n1e6,0,0.5\r\n2e6,0,0.25\r\n"
    plain = _read(text.encode())
    with_bom = _read("\ufeff".encode() + text.encode())
    np.testing.assert_array_equal(plain.value, with_bom.value)
    np.testing.assert_array_equal(with_bom.scale, [1e6, 2e6])


def test_other_encodings_are_named():
    with pytest.raises(DataError, match=r"row 3: byte 0xe9 is not UTF-8"):
        _read("scale,seed,value,group\n1,0,0.5,a\n1,1,0.5,caf\xe9\n".encode("cp1252"))
    with pytest.raises(DataError, match="UTF-16"):
        _read("scale,seed,value\n1,0,0.5\n".encode("utf-16"))


def test_integers_are_exact():
    d = _read(b"scale,seed,value,n_eval\n1,9007199254740993,0.5,2\n1,9007199254740992,0.5,2\n"
              b"1,1e3,0.5,2.0\n")
    assert d.seed.tolist() == [9007199254740993, 9007199254740992, 1000]  # no float rounding
    with pytest.raises(DataError, match=r"row 2, column 'seed': '9.007199254740993e15' is not "
                                        r"an integer \(write large integers"):
        _read(b"scale,seed,value\n1,9.007199254740993e15,0.5\n")
    with pytest.raises(DataError, match=r"row 2, column 'seed': -99999999999999999999 is outside"):
        _read(b"scale,seed,value\n1,-99999999999999999999,0.5\n")
    with pytest.raises(DataError, match=r"row 1, column 'seed': 1.5 is not an integer"):
        SeedData.from_arrays([1, 1], [0.1, 0.2], seed=[0, 1.5])
    with pytest.raises(DataError, match=r"row 0, column 'seed': .* outside the int64 range"):
        SeedData.from_arrays([1], [0.1], seed=np.array([2**64], dtype=object))


def test_repeated_rows_are_refused_or_merged():
    rows = b"scale,seed,value,n_eval,group\n" + b"".join(
        b"1e6,%d,%s,10,a\n" % (s, v) for s, v in ((0, b"0.2"), (1, b"0.5"), (0, b"0.4")))
    with pytest.raises(DataError, match=r"row 2 and row 4 have the same \(scale 1e\+06, seed 0, "
                                        r"group 'a'\)"):
        _read(rows)
    merged = _read(rows, duplicates="mean")
    assert merged.seed.tolist() == [0, 1]           # in the order of first appearance
    np.testing.assert_allclose(merged.value, [0.3, 0.5])
    assert merged.n_eval.tolist() == [20, 10]        # evaluations pooled: 6 of 20 correct
    # Same seed at another scale or in another group is not a repeat.
    ok = _read(b"scale,seed,value,group\n1,0,0.1,a\n2,0,0.2,a\n1,0,0.3,b\n")
    assert len(ok) == 3
    # The case: every row pasted three times would fit 3x the seeds.
    once = "".join(f"1e6,{s},{s / 10}\n" for s in range(10))
    with pytest.raises(DataError, match="20 repeated row"):
        _read(("scale,seed,value\n" + once * 3).encode())
    assert len(_read(("scale,seed,value\n" + once * 3).encode(), duplicates="mean")) == 10


def test_values_off_the_n_eval_grid():
    with pytest.raises(DataError, match=r"row 3, column 'value': 0.347 is not a fraction of the "
                                        r"row's n_eval = 2 .*nearest such value is 0.5"):
        _read(b"scale,seed,value,n_eval\n1,0,0.5,2\n1,1,0.347,2\n")
    rounded = _read(b"scale,seed,value,n_eval\n1,0,0.333,3\n1,1,0.14,7\n1,2,0.3008,256\n")
    assert len(rounded) == 3                       # decimals of k/n are fine
    with pytest.raises(DataError, match="--n-eval|fraction"):
        SeedData.from_arrays([1.0], [0.5004], n_eval=1000)


def test_written_tables_read_back_and_replace_atomically(tmp_path):
    path = tmp_path / "t.csv"
    write_seed_table(path, [1e6, 2e6], [0, 1], [0.1, 1 / 3], n_eval=None, group=["a", "b"])
    t = read_seed_table(path)
    assert t["value"].tolist() == [0.1, 1 / 3] and t["group"].tolist() == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


# ------------------------------------------------------------------------------------------
# Fuzz: any bytes at all.

_CELLS = st.sampled_from(["1e6", "3", "0", "-1", "0.5", "1", "1.0", "nan", "inf", "", " ", "abc",
                          "99999999999999999999", "1e400", "0.347", "2", '"1,5"', "\x00", "é",
                          "1_000", "0x10", "+7", "9007199254740993", "1e-320"])
_HEADERS = st.lists(st.sampled_from(["scale", "seed", "value", "n_eval", "group", "extra",
                                     "Value", " seed "]), min_size=0, max_size=6)


@st.composite
def _csv_bytes(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    header = draw(_HEADERS)
    rows = draw(st.lists(st.lists(_CELLS, min_size=0, max_size=7), max_size=8))
    text = "\n".join([",".join(header)] + [",".join(r) for r in rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_csv_bytes(), duplicates=st.sampled_from(["error", "mean"]))
def test_fuzz_csv_gives_seed_data_or_a_named_error(data, duplicates):
    try:
        d = _read(data, duplicates=duplicates)
    except DataError as e:
        assert str(e)
        return
    assert len(d) >= 1 and d.value.dtype == np.float64 and d.seed.dtype == np.int64
    assert np.all((d.value >= 0) & (d.value <= 1)) and np.all(d.scale > 0)
    keys = list(zip(d.scale.tolist(), d.seed.tolist(),
                    d.group.tolist() if d.group is not None else [None] * len(d)))
    assert len(set(keys)) == len(keys)
