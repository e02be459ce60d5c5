"""Golden FloatMac: each accumulation mode against an independent computation."""

import math
from fractions import Fraction

import numpy as np
import pytest

from hwgen import golden
from hwgen.formats import parse_format
from hwgen.golden.fmac import mac, mac_stream, exact_acc_bits


def rne_fraction(fmt, s):
    """Round a Fraction to nearest-even in ``fmt`` (value only; None on overflow).

    Written from the definition: quantum 2**(e - m) with e = max(floor(log2|s|), emin).
    """
    if s == 0:
        return Fraction(0)
    mag = abs(s)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    if Fraction(2) ** e > mag:
        e -= 1
    e = max(e, fmt.emin)
    quantum = Fraction(2) ** (e - fmt.man_bits)
    q = mag / quantum
    n = math.floor(q)
    rem = q - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2 == 1):
        n += 1
    r = n * quantum
    if r > fmt.max_finite:
        return None
    return r if s > 0 else -r


def _finite_codes(fmt, shape, rng):
    f = parse_format(fmt)
    codes = rng.integers(0, 1 << f.width, 4 * int(np.prod(shape)), dtype=np.uint64)
    codes = codes[np.isfinite(golden.decode(f, codes))]
    return codes[:int(np.prod(shape))].reshape(shape)


def test_fp16_rounded_sum_of_ones_stalls_at_2048():
    # Hill et al.'s narrow accumulator: 2048 + 1 rounds back to 2048 in fp16 (11-bit precision).
    ones = golden.encode("fp16", np.ones(5000))
    acc, flags = mac(ones, ones, mul_fmt="fp16", acc_fmt="fp16", accumulate="rounded")
    assert golden.decode("fp16", acc)[0] == 2.0 ** 11
    assert flags[0] & 1  # inexact from the stalled additions
    exact, _ = mac(ones, ones, mul_fmt="fp16", accumulate="exact", out_fmt="fp32",
                   max_terms=5000)
    assert golden.decode("fp32", exact)[0] == 5000.0


@pytest.mark.parametrize("fmt, out", [("e4m3", "fp32"), ("e2m1", "e4m3"), ("e5m2", "fp16"),
                                      ("bf16", "bf16"), ("e3m2", "e5m2")])
def test_exact_mode_is_one_rounding_of_the_fraction_sum(fmt, out):
    rng = np.random.default_rng(7)
    a = _finite_codes(fmt, (30, 60), rng)
    b = _finite_codes(fmt, (30, 60), rng)
    bits, _ = mac(a, b, mul_fmt=fmt, accumulate="exact", out_fmt=out)
    fo = parse_format(out)
    for i in range(a.shape[0]):
        s = sum(golden.to_fraction(fmt, int(x)) * golden.to_fraction(fmt, int(y))
                for x, y in zip(a[i], b[i]))
        want = rne_fraction(fo, s)
        got = golden.to_fraction(fo, int(bits[i]))
        if want is None:
            assert got is None or got in (float("inf"), float("-inf")) or \
                abs(got) == fo.max_finite
        else:
            assert got == want, (i, s, got, want)


@pytest.mark.parametrize("mode", ["rounded", "fused"])
def test_step_modes_follow_the_hardware_order(mode):
    # Recompute step by step with the scalar golden operators, in order.
    rng = np.random.default_rng(3)
    a = _finite_codes("e4m3", (8, 25), rng)
    b = _finite_codes("e4m3", (8, 25), rng)
    bits, flags = mac(a, b, mul_fmt="e4m3", acc_fmt="fp16", accumulate=mode, rounding="rtz")
    for i in range(a.shape[0]):
        acc, fl = np.uint64(0), 0
        for x, y in zip(a[i], b[i]):
            if mode == "rounded":
                p, f1 = golden.mul("e4m3", x, y, "rtz", out_fmt="fp16")
                acc, f2 = golden.add("fp16", acc, p, "rtz")
                fl |= int(f1) | int(f2)
            else:
                acc, f = golden.fma("e4m3", x, y, acc, "rtz", c_fmt="fp16", out_fmt="fp16")
                fl |= int(f)
        assert int(acc) == int(bits[i]) and fl == int(flags[i])


def test_rounded_differs_from_exact_on_long_sums():
    rng = np.random.default_rng(5)
    a = golden.encode("e4m3", rng.standard_normal((20, 400)))
    b = golden.encode("e4m3", rng.standard_normal((20, 400)))
    r, _ = mac(a, b, mul_fmt="e4m3", acc_fmt="fp16", accumulate="rounded")
    e, _ = mac(a, b, mul_fmt="e4m3", accumulate="exact", out_fmt="fp16")
    assert np.isfinite(golden.decode("fp16", e)).all()
    assert (r != e).sum() > 5


def test_stream_view_splits_on_last():
    rng = np.random.default_rng(9)
    a = _finite_codes("e5m2", (100,), rng)
    b = _finite_codes("e5m2", (100,), rng)
    last = np.zeros(100, bool)
    last[[4, 5, 49, 99]] = True
    bits, _ = mac_stream(a, b, last, mul_fmt="e5m2", acc_fmt="fp16", accumulate="fused")
    for res, (lo, hi) in zip(bits, [(0, 5), (5, 6), (6, 50), (50, 100)]):
        want, _ = mac(a[lo:hi], b[lo:hi], mul_fmt="e5m2", acc_fmt="fp16", accumulate="fused")
        assert int(res) == int(want[0])


def test_exact_accumulator_width():
    # e4m3: products span 2**-18 .. below 2**18 (36 bits); 1000 terms add 10 bits; plus sign.
    width, lsb = exact_acc_bits("e4m3", 1000)
    assert lsb == 2 * (parse_format("e4m3").emin - 3)
    assert width == 36 + 10 + 1
    with pytest.raises(ValueError, match="Maximum number of terms must be a positive integer, "
                                         "not 0"):
        exact_acc_bits("e4m3", 0)


def test_bad_mode():
    with pytest.raises(ValueError, match="Accumulation must be one of rounded, fused, exact, "
                                         "not 'kulisch'"):
        mac(np.zeros((1, 1)), np.zeros((1, 1)), mul_fmt="e4m3", accumulate="kulisch")
