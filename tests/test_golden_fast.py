"""The golden model's fast paths (:mod:`hwgen.golden.fast`) give the general model's bits and
flags: every operand pair of the small formats, and millions of random and edge operands of
fp16 and bf16. The general model is reached with the rounding mode given as an array of
codes (the form the fast paths and tables do not take)."""

import numpy as np
import pytest

from hwgen.formats import parse_format
from hwgen.golden import add, encode, mul, sub
from hwgen.golden import fast
from hwgen.golden.rounding import decode, raw_from_float64, round_raw, rounding_codes

SMALL = ["e2m1", "e3m2", "e2m3", "e4m3", "e5m2", "e4m3_ieee", "e4m3_sat", "e5m2_ovnan",
         "e3m2_bm2", "e4m3_b12"]
WIDE = ["fp16", "bf16"]


def _general_encode(fmt, x):
    return round_raw(fmt, raw_from_float64(x), "rne")


def _injected(fmt):
    """What the golden model passes the fast paths: its decode and general rounding."""
    return dict(decode=decode, general=lambda v: _general_encode(fmt, v))


def _edge_values(fmt):
    """Every value, every midpoint, each nudged by one float64 ulp both ways, the tininess
    threshold, the largest value and beyond, zeros, infinities and NaN, both signs."""
    t = fast._table(fmt, decode)
    base = np.concatenate([t.pos_values, t.mids, [t.tiny_below, t.max_finite * 1.0001,
                                                 t.max_finite * 2, 1e300, np.inf, 5e-324,
                                                 1e-310, 2.2250738585072014e-308, 1e-200]])
    vals = np.concatenate([base, np.nextafter(base, np.inf), np.nextafter(base, 0)])
    return np.concatenate([vals, -vals, [np.nan, 0.0, -0.0]])


@pytest.mark.parametrize("name", SMALL + WIDE)
def test_encode_equals_the_general_model(name):
    fmt = parse_format(name)
    assert fast.eligible(fmt)
    rng = np.random.default_rng(7)
    lo, hi = np.log2(float(fmt.min_subnormal)) - 3, np.log2(float(fmt.max_finite)) + 1
    rand = np.exp2(rng.uniform(lo, hi, 300_000)) * rng.choice([-1.0, 1.0], 300_000)
    x = np.concatenate([_edge_values(fmt), rand])
    bits, flags = fast.encode_rne(fmt, x, **_injected(fmt))
    want_bits, want_flags = _general_encode(fmt, x)
    assert np.array_equal(bits, want_bits) and np.array_equal(flags, want_flags)
    # and through the public function
    assert np.array_equal(encode(fmt, x, "rne"), want_bits)
    got_b, got_f = encode(fmt, x, "rne", with_flags=True)
    assert np.array_equal(got_b, want_bits) and np.array_equal(got_f, want_flags)


def _ops(op):
    return {"mul": mul, "add": add, "sub": sub}[op]


@pytest.mark.parametrize("op", ["mul", "add", "sub"])
@pytest.mark.parametrize("name", SMALL)
def test_every_pair_of_a_small_format(name, op):
    fmt = parse_format(name)
    n = 1 << fmt.width
    a, b = (g.ravel() for g in np.meshgrid(np.arange(n, dtype=np.uint64),
                                           np.arange(n, dtype=np.uint64), indexing="ij"))
    func = _ops(op)
    want = func(fmt, a, b, rounding_codes("rne", a.shape))
    got = fast.binary(op, fmt, fmt, fmt, a, b,
                      lambda x, y: func(fmt, x, y, rounding_codes("rne", x.shape)),
                      **_injected(fmt))
    assert got is not None
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("op, name", [("mul", "fp16"), ("add", "fp16"), ("sub", "fp16"),
                                      ("mul", "bf16"), ("mul", "e4m3")])
def test_random_and_special_operands_of_wide_formats(op, name):
    fmt = parse_format(name)
    rng = np.random.default_rng(3)
    n = 1 << fmt.width
    a = rng.integers(0, n, 1_000_000, dtype=np.uint64)
    b = rng.integers(0, n, 1_000_000, dtype=np.uint64)
    # close exponents too (uniform codes are mostly far apart), and every special
    b[:300_000] = (a[:300_000] ^ rng.integers(0, 64, 300_000, dtype=np.uint64))
    specials = np.nonzero(~np.isfinite(fast.values(fmt, np.arange(n), decode)))[0]
    specials = specials.astype(np.uint64)
    edges = np.concatenate([specials, [0, fmt.sign_mask, 1, fmt.sign_mask | 1,
                                       fmt.max_bits, fmt.sign_mask | fmt.max_bits]])
    ea, eb = (g.ravel() for g in np.meshgrid(edges, rng.integers(0, n, 200, dtype=np.uint64),
                                             indexing="ij"))
    a, b = np.concatenate([a, ea, eb]), np.concatenate([b, eb, ea])
    func = _ops(op)
    want = func(fmt, a, b, rounding_codes("rne", a.shape))
    got = func(fmt, a, b, "rne")                      # the public function's fast path
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_formats_without_a_fast_path():
    assert not fast.eligible(parse_format("fp32"))              # 32 bits
    assert not fast.eligible(parse_format("e5m2_ftz"))          # no subnormals
    bf16 = parse_format("bf16")
    x = np.arange(8, dtype=np.uint64)
    assert fast.binary("add", bf16, bf16, bf16, x, x, None,
                       **_injected(bf16)) is None      # its sums are not float64s


@pytest.mark.parametrize("fmt, acc, mode", [
    ("e4m3", "e4m3", "rounded"), ("e4m3", "fp16", "rounded"),
    ("fp16", "fp16", "rounded"), ("e3m2", "e3m2", "fused")])
def test_mac_with_a_static_mode_equals_the_general_model(fmt, acc, mode):
    """The explorer's emulation passes the mode as a string (tables and fast paths); with
    the same mode as codes every step takes the general model: the same dot products."""
    from hwgen.golden.fmac import mac
    f = parse_format(fmt)
    rng = np.random.default_rng(5)
    a = rng.integers(0, 1 << f.width, (300, 40), dtype=np.uint64)
    b = rng.integers(0, 1 << f.width, (300, 40), dtype=np.uint64)
    lengths = rng.integers(0, 41, 300)
    for kw in ({}, {"lengths": lengths}):
        got = mac(a, b, mul_fmt=fmt, acc_fmt=acc, accumulate=mode, rounding="rne", **kw)
        want = mac(a, b, mul_fmt=fmt, acc_fmt=acc, accumulate=mode,
                   rounding=rounding_codes("rne", (300,)), **kw)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
