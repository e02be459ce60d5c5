"""The table fast path of ``golden.mul``/``add``/``sub`` (narrow formats, static rounding,
large arrays) gives the same bits, flags and dtypes as the computed path, for every operand
pair of several narrow formats and every rounding mode, and keeps broadcasting."""

import numpy as np
import pytest

from hwgen.golden import ops
from hwgen.golden.rounding import ROUNDING_MODES


def _all_pairs(wa, wb):
    a, b = np.meshgrid(np.arange(1 << wa, dtype=np.uint64), np.arange(1 << wb, dtype=np.uint64),
                       indexing="ij")
    return a.ravel(), b.ravel()


def _both(monkeypatch, func, *args, **kw):
    fast = func(*args, **kw)
    with monkeypatch.context() as m:
        m.setattr(ops, "TABLE_MAX_BITS", 0)            # the computed path only
        slow = func(*args, **kw)
    return fast, slow


@pytest.mark.parametrize("fmt, out", [("e4m3", None), ("e5m2", None), ("e2m1", None),
                                      ("e3m2_none", None), ("e4m3", "fp16")])
@pytest.mark.parametrize("rm", ROUNDING_MODES)
def test_tables_equal_the_computation(monkeypatch, fmt, out, rm):
    from hwgen.formats import parse_format
    w = parse_format(fmt).width
    a, b = _all_pairs(w, w)
    funcs = [(ops.mul, {}), (ops.add, {}), (ops.add, dict(subtract=True))]
    for func, kw in funcs:
        (yf, ff), (ys, fs) = _both(monkeypatch, func, fmt, a, b, rm, out_fmt=out, **kw)
        assert yf.dtype == ys.dtype and ff.dtype == fs.dtype
        np.testing.assert_array_equal(yf, ys)
        np.testing.assert_array_equal(ff, fs)


def test_broadcasting_and_signed_inputs(monkeypatch):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 1))                   # int64, broadcast against b
    b = rng.integers(0, 256, (1, 128))
    (yf, ff), (ys, fs) = _both(monkeypatch, ops.mul, "e4m3", a, b, "rtz")
    assert yf.shape == (64, 128)
    np.testing.assert_array_equal(yf, ys)
    np.testing.assert_array_equal(ff, fs)
