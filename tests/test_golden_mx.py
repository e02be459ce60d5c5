"""The MX golden model (:mod:`hwgen.golden.mx`) against independent references.

* Elements: every code of every element format decoded and re-encoded against ml_dtypes
  (E4M3, E5M2, E3M2, E2M3, E2M1) or numpy's int8 (INT8), directed modes against the Fraction
  reference of ``tests/fraction_ref.py``; E8M0 against ``ml_dtypes.float8_e8m0fnu``.
* Quantization (the floor rule, every rounding mode) against gfloat's OCP MX block formats on
  10^5 random blocks: ordinary, all-zero, subnormal-only, huge dynamic range, values at the
  clamp, NaN/Inf. The ceil/rceil rules against their definitions in exact arithmetic.
  gfloat and the spec agree on INT8 (two's complement, saturating to ``[-2, 127/64]``), which
  is what the test checks, code ``0x80`` included; they differ on a block holding ±Inf (gfloat
  clips the scale to 2**127 and saturates the infinities; the spec's max|V| is Inf, which no
  E8M0 code holds, so ours is the NaN scale), tested separately against our documented rule.
* ``mx_dot``: sums of Fractions rounded once per block into FP32 by ``fraction_ref``'s
  rounder (an FP32 view of ``RefFormat`` that lists its values lazily), over mixed element
  formats, every rounding mode per dot product, NaN scales, E5M2 Inf/NaN, overflow, deep
  underflow and exact cancellation.
* Bad input: the exact messages.
"""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from gfloat import RoundMode, compute_scale_amax, encode_ndarray, round_ndarray
from gfloat.formats import (format_info_ocp_e2m1, format_info_ocp_e2m3, format_info_ocp_e3m2,
                            format_info_ocp_e4m3, format_info_ocp_e5m2, format_info_ocp_e8m0,
                            format_info_ocp_int8)

from fraction_ref import MODES, NAN, RefFormat
from hwgen.formats import FRM, FLAG_INVALID, parse_format
from hwgen.golden import (MX_ELEMENTS, e8m0_decode, e8m0_encode, mx_dequantize, mx_dot,
                          mx_element_decode, mx_element_encode, mx_matmul, mx_quantize)

FLOATS = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1")
ML = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
      "e3m2": ml_dtypes.float6_e3m2fn, "e2m3": ml_dtypes.float6_e2m3fn,
      "e2m1": ml_dtypes.float4_e2m1fn}
GF = {"e4m3": format_info_ocp_e4m3, "e5m2": format_info_ocp_e5m2,
      "e3m2": format_info_ocp_e3m2, "e2m3": format_info_ocp_e2m3,
      "e2m1": format_info_ocp_e2m1, "int8": format_info_ocp_int8}
GF_MODE = {"rne": RoundMode.TiesToEven, "rtz": RoundMode.TowardZero,
           "rdn": RoundMode.TowardNegative, "rup": RoundMode.TowardPositive,
           "rna": RoundMode.TiesToAway}
#: Largest magnitude and emax of each element format, from the spec's tables (not the model).
MAXES = {"e4m3": 448.0, "e5m2": 57344.0, "e3m2": 28.0, "e2m3": 7.5, "e2m1": 6.0,
         "int8": 127 / 64}
EMAX = {"e4m3": 8, "e5m2": 15, "e3m2": 4, "e2m3": 2, "e2m1": 2, "int8": 0}
WIDTH = {"e4m3": 8, "e5m2": 8, "e3m2": 6, "e2m3": 6, "e2m1": 4, "int8": 8}


def codes_of(elem):
    return np.arange(1 << WIDTH[elem], dtype=np.uint64)


# -- elements ----------------------------------------------------------------------------------

@pytest.mark.parametrize("elem", FLOATS)
def test_element_decode_every_code_matches_ml_dtypes(elem):
    c = codes_of(elem)
    want = c.astype(np.uint8).view(ML[elem]).astype(np.float64)
    got = mx_element_decode(elem, c)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok], want[ok])
    assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok]))


@pytest.mark.parametrize("elem", FLOATS)
def test_element_encode_matches_ml_dtypes(elem):
    """rne: every code's value, every midpoint between neighbours and random values against
    ml_dtypes; beyond the largest element the conversion saturates, which is ml_dtypes' cast
    of the clamped value."""
    vals = mx_element_decode(elem, codes_of(elem))
    fin = np.unique(vals[np.isfinite(vals)])
    mids = (fin[1:] + fin[:-1]) / 2
    rng = np.random.default_rng(1)
    top = 2.0 * MAXES[elem]
    rand = rng.uniform(-top, top, 20000) * np.exp2(-rng.integers(0, 20, 20000))
    x = np.concatenate([vals[np.isfinite(vals)], mids, rand, [-0.0, 0.0]])
    got = mx_element_encode(elem, x)
    m = MAXES[elem]
    want = np.clip(x, -m, m).astype(ML[elem]).view(np.uint8)
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, [(x[i], int(got[i]), int(want[i])) for i in bad[:5]]


@pytest.mark.parametrize("elem", FLOATS)
def test_element_encode_directed_modes_match_fraction_reference(elem):
    ref = RefFormat(parse_format(f"{elem}_sat"))
    vals = sorted(set(float(v) for v in mx_element_decode(elem, codes_of(elem))
                      if math.isfinite(v)))
    pts = set(vals)
    for lo, hi in zip(vals, vals[1:]):
        pts.update({(lo + hi) / 2, lo + (hi - lo) / 3, hi - (hi - lo) / 8})
    pts.update({MAXES[elem] * 1.5, -MAXES[elem] * 1.01, 1e30, -1e30})
    x = np.array(sorted(pts))
    for mode in MODES:
        got = mx_element_encode(elem, x, mode)
        want = [ref.round(Fraction(v), mode)[0] for v in x]
        assert got.tolist() == want, mode


def test_int8_elements_are_twos_complement_sixty_fourths():
    c = np.arange(256)
    assert np.array_equal(mx_element_decode("int8", c),
                          c.astype(np.uint8).view(np.int8).astype(np.float64) / 64)
    k = np.arange(-300, 301)
    x = k / 128.0                              # every midpoint of the 1/64 grid, and beyond
    for mode in MODES:
        want = []
        for v in x:
            q = Fraction(v) * 64
            lo = math.floor(q)
            if q == lo:
                r = lo
            elif mode == "rtz":
                r = lo if q > 0 else lo + 1
            elif mode == "rdn":
                r = lo
            elif mode == "rup":
                r = lo + 1
            elif q - lo != Fraction(1, 2):
                r = lo if q - lo < Fraction(1, 2) else lo + 1
            elif mode == "rna":
                r = lo + 1 if q > 0 else lo
            else:
                r = lo if lo % 2 == 0 else lo + 1
            want.append(min(max(r, -128), 127) & 0xFF)
        assert mx_element_encode("int8", x, mode).tolist() == want, mode


def test_e8m0_matches_ml_dtypes():
    c = np.arange(256, dtype=np.uint8)
    want = c.view(ml_dtypes.float8_e8m0fnu).astype(np.float64)
    got = e8m0_decode(c)
    assert np.isnan(got[255]) and np.isnan(want[255])
    assert np.array_equal(got[:255], want[:255])
    x = np.concatenate([np.ldexp(1.0, np.arange(-127, 128)), [np.nan]])
    assert np.array_equal(e8m0_encode(x), x.astype(ml_dtypes.float8_e8m0fnu).view(np.uint8))


@pytest.mark.parametrize("bad", [0.0, 3.0, -2.0, np.inf, 2.0 ** 128, 2.0 ** -128])
def test_e8m0_encode_rejects_what_it_cannot_hold(bad):
    with pytest.raises(ValueError, match=r"^E8M0 holds powers of two from 2\*\*-127 to "
                                         r"2\*\*127 and NaN, not "):
        e8m0_encode([1.0, bad])


# -- quantization against gfloat -------------------------------------------------------------

def _f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def make_blocks(elem, kind, n, rng):
    """``n`` blocks of 32 float32-representable values of one kind."""
    sign = np.where(rng.random((n, 32)) < 0.5, -1.0, 1.0)
    if kind == "normal":
        mag = np.exp2(rng.uniform(-20, 20, (n, 1)) + rng.uniform(-6, 0, (n, 32)))
    elif kind == "zero":
        mag = np.zeros((n, 32))
    elif kind == "subnormal":                  # float32 subnormals only (and a few zeros)
        mag = np.ldexp(rng.integers(0, 1 << 23, (n, 32)).astype(np.float64), -149)
    elif kind == "range":                      # magnitudes across float32's whole range
        mag = np.exp2(rng.uniform(-149, 127.99, (n, 32)))
    elif kind == "clamp":
        # The block's largest value in the element's top binade at its scale, near and above
        # the largest element (what floor clamps), the others anywhere below it.
        s = rng.integers(-110, 100, (n, 1))
        hi = 2.0 ** (EMAX[elem] + 1)
        top = rng.uniform(MAXES[elem] * 0.9, hi, (n, 1))
        top[: n // 4] = MAXES[elem]             # exactly the largest element
        mag = np.ldexp(np.concatenate([top, rng.uniform(0, 1, (n, 31)) * top], axis=1), s)
    else:
        raise AssertionError(kind)
    return _f32(sign * mag)


def gfloat_quantize(elem, blocks, mode="rne"):
    """gfloat's OCP MX conversion: its scale (floor rule), its saturating element rounding."""
    et = GF[elem]
    scale = np.array([compute_scale_amax(et.emax, b) for b in blocks])
    s_codes = encode_ndarray(format_info_ocp_e8m0, scale)
    el = round_ndarray(et, blocks / scale[:, None], GF_MODE[mode], sat=True)
    return s_codes.astype(np.int64), encode_ndarray(et, el).astype(np.int64)


QUANT_KINDS = {"normal": 6000, "zero": 300, "subnormal": 1500, "range": 5000, "clamp": 4000}


@pytest.mark.parametrize("elem", MX_ELEMENTS)
def test_quantize_matches_gfloat(elem):
    """16 800 blocks per element format (10^5 in all), rne, the spec's floor rule."""
    rng = np.random.default_rng(MX_ELEMENTS.index(elem))
    blocks = np.concatenate([make_blocks(elem, k, n, rng) for k, n in QUANT_KINDS.items()])
    scales, codes = mx_quantize(blocks, elem)
    ws, wc = gfloat_quantize(elem, blocks)
    assert scales.shape == (len(blocks), 1) and codes.shape == blocks.shape
    bad = np.nonzero((scales[:, 0] != ws) | (codes != wc).any(axis=1))[0]
    assert bad.size == 0, [(blocks[i].tolist(), int(scales[i, 0]), int(ws[i])) for i in bad[:2]]
    # The clamp was exercised (floor clamps; gfloat agrees) and, for INT8, -2 appears.
    top = np.abs(mx_element_decode(elem, codes)).max(axis=1)
    assert (top == MAXES[elem]).sum() > 1000
    if elem == "int8":
        assert (codes == 0x80).sum() > 100


@pytest.mark.parametrize("mode", ["rtz", "rdn", "rup", "rna"])
@pytest.mark.parametrize("elem", ["e4m3", "e2m1", "int8"])
def test_quantize_directed_modes_match_gfloat(elem, mode):
    rng = np.random.default_rng(7)
    blocks = np.concatenate([make_blocks(elem, k, 400, rng) for k in QUANT_KINDS])
    scales, codes = mx_quantize(blocks, elem, rounding=mode)
    ws, wc = gfloat_quantize(elem, blocks, mode)
    assert np.array_equal(scales[:, 0], ws) and np.array_equal(codes, wc)


@pytest.mark.parametrize("elem", MX_ELEMENTS)
def test_quantize_nan_and_inf_blocks(elem):
    rng = np.random.default_rng(3)
    blocks = make_blocks(elem, "normal", 300, rng)
    col = rng.integers(0, 32, 300)
    blocks[np.arange(300), col] = np.tile([np.nan, np.inf, -np.inf], 100)
    scales, codes = mx_quantize(blocks, elem)
    # gfloat agrees on NaN (its scale is NaN); for ±Inf see the module docstring.
    ws = [compute_scale_amax(GF[elem].emax, b) for b in blocks[0::3]]
    assert (encode_ndarray(format_info_ocp_e8m0, np.array(ws)) == 0xFF).all()
    assert (scales == 0xFF).all() and (codes == 0).all()
    assert np.isnan(mx_dequantize(scales, codes, elem)).all()


def test_quantize_float64_beyond_the_scale_range_is_a_nan_block():
    v = np.zeros((3, 32))
    v[0, 5] = 2.0 ** 200                       # floor(log2) - emax > 127
    v[1, 0] = 2.0 ** -1000                     # far below: the scale stops at 2**-127
    v[2, 0] = 2.0 ** 136                       # e2m1: 136 - 2 = 134 > 127
    s, c = mx_quantize(v, "e2m1")
    assert s[:, 0].tolist() == [0xFF, 0, 0xFF]
    assert (c[1] == 0).all()                   # 2**-1000 / 2**-127 rounds to +0


@pytest.mark.parametrize("elem", MX_ELEMENTS)
@pytest.mark.parametrize("rule", ["ceil", "rceil"])
def test_ceil_rules_follow_their_definitions(elem, rule):
    """``ceil``: X = 2**(ceil(log2 amax) - emax); ``rceil``: the smallest power of two with
    amax / X <= max_elem. Both never clamp; elements as gfloat rounds them at that scale."""
    rng = np.random.default_rng(11)
    blocks = np.concatenate([make_blocks(elem, k, 300, rng)
                             for k in ("normal", "range", "clamp")])
    blocks[:20] = np.ldexp(1.0, rng.integers(-60, 60, (20, 1))) * np.ones(32)  # powers of two
    scales, codes = mx_quantize(blocks, elem, scale_rule=rule)
    top = Fraction(MAXES[elem])
    want_s = []
    for b in blocks:
        amax = Fraction(float(np.abs(b).max()))
        e = math.frexp(float(amax))[1] + 2            # an upper bound, then walk down exactly
        if rule == "ceil":
            while Fraction(2) ** (e - 1) >= amax:
                e -= 1
            s = e - EMAX[elem]
        else:
            while top * Fraction(2) ** (e - 1) >= amax:
                e -= 1
            s = e
        want_s.append(255 if s > 127 else max(s, -127) + 127)   # 2**128: a NaN scale
    assert scales[:, 0].tolist() == want_s
    ok = scales[:, 0] != 255
    assert (codes[~ok] == 0).all() and ok.sum() > 800
    x = np.ldexp(1.0, scales[ok, 0].astype(int) - 127)
    assert (np.abs(blocks[ok]) / x[:, None] <= MAXES[elem]).all()
    el = round_ndarray(GF[elem], blocks[ok] / x[:, None], RoundMode.TiesToEven, sat=True)
    assert np.array_equal(codes[ok], encode_ndarray(GF[elem], el).astype(np.int64))


def test_quantize_and_dequantize_along_any_axis():
    rng = np.random.default_rng(5)
    v = _f32(rng.standard_normal((3, 64, 5)))
    s, c = mx_quantize(v, "e2m3", axis=1)
    assert s.shape == (3, 2, 5) and c.shape == v.shape
    s2, c2 = mx_quantize(np.moveaxis(v, 1, -1), "e2m3")
    assert np.array_equal(np.moveaxis(s2, -1, 1), s)
    assert np.array_equal(np.moveaxis(c2, -1, 1), c)
    d = mx_dequantize(s, c, "e2m3", axis=1)
    x = np.ldexp(1.0, np.repeat(s.astype(int) - 127, 32, axis=1))
    assert np.array_equal(d, x * mx_element_decode("e2m3", c))
    # Values already on the grid come back exactly.
    s3, c3 = mx_quantize(d, "e2m3", axis=1)
    assert np.array_equal(mx_dequantize(s3, c3, "e2m3", axis=1), d)


# -- mx_dot against Fractions rounded once per block -----------------------------------------

FP32 = parse_format("fp32")
_G = Fraction(2) ** -149                     # FP32's smallest spacing


class _Fp32Units:
    """FP32's finite magnitudes in units of 2**-149, indexed by encoding (sorted)."""

    def __len__(self):
        return 0x7F7FFFFF + 1

    def __getitem__(self, i):
        e, f = i >> 23, i & 0x7FFFFF
        return f if e == 0 else (0x800000 | f) << (e - 1)


class _Fp32Codes:
    """Units of 2**-149 → FP32 encoding (the inverse of :class:`_Fp32Units`)."""

    def __getitem__(self, r):
        if r < 0x800000:
            return r
        e = r.bit_length() - 23
        assert r & ((1 << (e - 1)) - 1) == 0
        return (e << 23) | ((r >> (e - 1)) - 0x800000)


class Fp32Ref(RefFormat):
    """fraction_ref's rounder for FP32, its value list built lazily (2**31 entries)."""

    def __init__(self):                        # noqa: D107 (RefFormat's fields, computed)
        self.fmt = FP32
        self.E, self.M, self.bias, self.width = 8, 23, 127, 32
        self.sign_bit = 1 << 31
        self.imags = _Fp32Units()
        self.enc_units = _Fp32Codes()
        self.max_units = self.imags[0x7F7FFFFF]
        self.max_finite = self.max_units * _G
        self.enc = {self.max_finite: 0x7F7FFFFF}
        self.above_max_units = self.max_units + (1 << (self.max_units.bit_length() - 24))
        self.min_normal = Fraction(2) ** -126
        self.nan_bits, self.inf_bits = 0x7FC00000, 0x7F800000
        self._cache = {}


REF32 = Fp32Ref()
_REFS = {}


def elem_value(elem, code):
    """(value, negative, signaling): Fraction, ±math.inf or NAN, decoded independently."""
    if elem == "int8":
        v = code - 256 if code >= 128 else code
        return Fraction(v, 64), v < 0, False
    if elem not in _REFS:
        _REFS[elem] = RefFormat(parse_format(elem))
    ref = _REFS[elem]
    sign, mag = ref.value[code]
    if mag is NAN:
        return NAN, False, ref.snan[code]
    return (-mag if sign else mag), bool(sign), False


def fp32_value(bits):
    sign, e, f = bits >> 31, (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if e == 0xFF:
        return (NAN if f else (-math.inf if sign else math.inf)), bool(sign)
    mag = f * _G if e == 0 else (0x800000 | f) * Fraction(2) ** (e - 150)
    return (-mag if sign else mag), bool(sign)


def ref_dot(sa, ca, sb, cb, ea, eb, mode):
    """One MX dot product: Fraction block sums, one FP32 rounding per block (fraction_ref)."""
    acc, flags = 0, 0
    for j in range(len(sa)):
        nan = sa[j] == 255 or sb[j] == 255
        invalid = pinf = ninf = False
        s = Fraction(0)
        for i in range(32):
            x, xn, xs = elem_value(ea, int(ca[j][i]))
            y, yn, ys = elem_value(eb, int(cb[j][i]))
            invalid |= xs or ys
            if x is NAN or y is NAN:
                nan = True
                continue
            xi, yi = abs(x) == math.inf, abs(y) == math.inf
            if (xi and y == 0) or (yi and x == 0):
                nan = invalid = True
            elif xi or yi:
                if xn != yn:
                    ninf = True
                else:
                    pinf = True
            else:
                s += x * y
        if pinf and ninf:
            nan = invalid = True
        a, a_neg = fp32_value(acc)
        if nan or a is NAN:
            v, neg = NAN, False
        elif pinf or ninf:
            t = -math.inf if ninf else math.inf
            if abs(a) == math.inf and a != t:
                v, neg, invalid = NAN, False, True
            else:
                v, neg = t, ninf
        elif abs(a) == math.inf:
            v, neg = a, a_neg
        else:
            v = a + s * Fraction(2) ** (int(sa[j]) + int(sb[j]) - 254)
            t_neg = s < 0
            neg = (v < 0) if v != 0 else (a_neg if a_neg == t_neg else mode == "rdn")
        acc, f = REF32.round(v, mode, neg)
        flags |= f | (FLAG_INVALID if invalid else 0)
    return acc, flags


def random_elements(elem, shape, rng, p_special):
    """Element codes: finite ones uniformly, a special (NaN, Inf) in a ``p_special`` share
    of the blocks (those of E4M3/E5M2)."""
    c = rng.integers(0, 1 << WIDTH[elem], shape)
    if elem in ("e4m3", "e5m2"):
        vals = mx_element_decode(elem, np.arange(256))
        finite = np.flatnonzero(np.isfinite(vals))
        special = np.flatnonzero(~np.isfinite(vals))
        c = finite[rng.integers(0, len(finite), shape)]
        hit = rng.random(shape[:-1]) < p_special
        idx = np.nonzero(hit)
        c[idx + (rng.integers(0, 32, len(idx[0])),)] = special[
            rng.integers(0, len(special), len(idx[0]))]
    return c


def random_scales(shape, rng):
    kind = rng.integers(0, 10, shape)
    return np.select([kind < 4, kind < 6, kind < 8, kind < 9],
                     [rng.integers(117, 138, shape), rng.integers(0, 20, shape),
                      rng.integers(235, 255, shape), rng.integers(0, 255, shape)],
                     np.where(rng.random(shape) < 0.3, 255, 127))


DOT_PAIRS = [("e4m3", "e4m3"), ("e5m2", "e5m2"), ("e4m3", "e2m1"), ("e2m3", "e3m2"),
             ("int8", "e5m2"), ("int8", "int8"), ("e2m1", "e2m1")]


@pytest.mark.parametrize("ea, eb", DOT_PAIRS)
def test_mx_dot_matches_fraction_reference(ea, eb):
    rng = np.random.default_rng(DOT_PAIRS.index((ea, eb)) + 100)
    n, nb = 240, 3
    sa, sb = random_scales((n, nb), rng), random_scales((n, nb), rng)
    ca = random_elements(ea, (n, nb, 32), rng, 0.1)
    cb = random_elements(eb, (n, nb, 32), rng, 0.1)
    # Exact cancellation: block 1 is block 0 negated, under the same scales; in half of these
    # block 0 is one finite product at a moderate scale (exact in FP32) and block 2 is zeros,
    # so the result is an exact zero (+0, or -0 rounding down).
    k = n // 4
    h = k // 2
    ca[:h, 0, 1:], cb[:h, 0, 1:] = 0, 0
    ca[:h, 0, 0] = random_elements(ea, (h, 32), rng, 0)[:, 0]
    cb[:h, 0, 0] = random_elements(eb, (h, 32), rng, 0)[:, 0]
    ca[:h, 2], sa[:h, 0], sb[:h, 0] = 0, rng.integers(120, 135, h), rng.integers(120, 135, h)
    sa[:k, 1], sb[:k, 1], cb[:k, 1] = sa[:k, 0], sb[:k, 0], cb[:k, 0]
    if ea == "int8":
        ca[:k, 1] = (-np.where(ca[:k, 0] >= 128, ca[:k, 0] - 256, ca[:k, 0])).clip(-127, 127) & 0xFF
        ca[:k, 0] = np.where(ca[:k, 0] == 0x80, 0x81, ca[:k, 0])
    else:
        ca[:k, 1] = ca[:k, 0] ^ (1 << (WIDTH[ea] - 1))
    # Deep underflow (tiny negative terms round to -0 or the smallest subnormal) and overflow.
    sa[k:2 * k, 0], sb[k:2 * k, 0] = 0, rng.integers(0, 3, k)
    sa[k:k + 20], sb[k:k + 20] = 0, rng.integers(0, 3, (20, nb))
    sa[2 * k:2 * k + 20, :], sb[2 * k:2 * k + 20, :] = 254, 254
    modes = rng.integers(0, 5, n)              # per dot product: the dynamic mode
    bits, flags = mx_dot((sa, ca.reshape(n, -1)), (sb, cb.reshape(n, -1)), ea, eb,
                         rounding=modes)
    seen = set()
    for d in range(n):
        mode = MODES[modes[d]]
        want = ref_dot(sa[d], ca[d], sb[d], cb[d], ea, eb, mode)
        got = (int(bits[d]), int(flags[d]))
        assert got == want, (d, mode, hex(got[0]), hex(want[0]), got[1], want[1])
        seen.add(want[1])
        seen.add("nan" if (want[0] & 0x7FFFFFFF) > 0x7F800000 else
                 "-0" if want[0] == 0x80000000 else "inf" if (want[0] & 0x7FFFFFFF) ==
                 0x7F800000 else "sub" if 0 < (want[0] & 0x7FFFFFFF) < 0x800000 else "")
    # The directed cases were reached: NaN, subnormals, -0, overflow flags.
    assert {"nan", "sub", "-0"} <= seen and any(isinstance(f, int) and f & 4 for f in seen)
    zero_rdn = [d for d in range(h) if modes[d] == FRM["rdn"] and bits[d] == 0x80000000]
    assert len(zero_rdn) >= 2                  # exact cancellation rounding down is -0


def test_mx_dot_static_mode_equals_its_frm_code():
    rng = np.random.default_rng(4)
    sa, sb = random_scales((50, 2), rng), random_scales((50, 2), rng)
    ca, cb = random_elements("e4m3", (50, 64), rng, 0), random_elements("e2m1", (50, 64), rng, 0)
    for mode, code in FRM.items():
        assert all(np.array_equal(x, y) for x, y in zip(
            mx_dot((sa, ca), (sb, cb), "e4m3", "e2m1", rounding=mode),
            mx_dot((sa, ca), (sb, cb), "e4m3", "e2m1", rounding=np.full(50, code))))


def test_mx_dot_exact_small_values_and_matmul():
    """Values whose every partial sum is exact in FP32: the dot is the plain real sum; and
    ``mx_matmul`` is ``mx_dot`` of each row against each column."""
    rng = np.random.default_rng(9)
    A = rng.integers(-6, 7, (5, 64)) / 2.0     # on the E2M1 and E4M3 grids at scale 1
    B = rng.choice([0, 0.5, 1, 1.5, 2, 3, -0.5, -1, -1.5, -2, -3], (64, 4))
    B[[0, 32]] = 3.0                           # every block's scale is 2**-1 (3 -> 6)
    qa = mx_quantize(A, "e4m3", axis=1)
    qb = mx_quantize(B, "e2m1", axis=0)
    assert np.array_equal(mx_dequantize(*qa, "e4m3", axis=1), A)
    assert np.array_equal(mx_dequantize(*qb, "e2m1", axis=0), B)
    bits, flags = mx_matmul(qa, qb, "e4m3", "e2m1")
    got = bits.astype(np.uint32).view(np.float32)
    assert np.array_equal(got, (A @ B).astype(np.float32)) and not flags.any()
    for i in range(5):
        for j in range(4):
            d = mx_dot((qa[0][i], qa[1][i]), (qb[0][:, j], qb[1][:, j]), "e4m3", "e2m1")
            assert (int(d[0]), int(d[1])) == (int(bits[i, j]), int(flags[i, j]))


def test_mx_dot_specials():
    z = np.zeros((1, 32), dtype=np.int64)
    one_e5 = 0x3C                               # E5M2 1.0
    s = np.array([[127]])
    # +0 for an all-zero dot product; -0 when a negative term underflows (rne), then +0 again.
    assert mx_dot((s, z), (s, z), "e5m2")[0][0] == 0
    a = z.copy()
    a[0, 0] = 0x80 | 0x01                       # -2**-16
    b = z.copy()
    b[0, 0] = 0x01
    tiny = (np.array([[0]]), a), (np.array([[0]]), b)
    assert mx_dot(*tiny, "e5m2")[0][0] == 0x80000000
    assert mx_dot(*tiny, "e5m2", rounding="rdn")[0][0] == 0x80000001
    # Inf * 0 is invalid; +Inf and -Inf in one block are invalid; a NaN scale is quiet.
    a, b = z.copy(), z.copy()
    a[0, 0] = 0x7C                              # +Inf
    assert tuple(int(x[0]) for x in mx_dot((s, a), (s, b), "e5m2")) == (0x7FC00000, 8)
    b[0, :2] = one_e5
    a[0, 1] = 0xFC                              # -Inf
    assert tuple(int(x[0]) for x in mx_dot((s, a), (s, b), "e5m2")) == (0x7FC00000, 8)
    a[0, 1] = 0
    assert tuple(int(x[0]) for x in mx_dot((s, a), (s, b), "e5m2")) == (0x7F800000, 0)
    assert tuple(int(x[0]) for x in mx_dot((np.array([[255]]), a), (s, b), "e5m2")) == \
        (0x7FC00000, 0)


# -- bad input ---------------------------------------------------------------------------------

ELEM_MSG = "must be one of e4m3, e5m2, e3m2, e2m3, e2m1, int8, not "


@pytest.mark.parametrize("call, msg", [
    (lambda: mx_quantize(np.zeros(32), "e4m4"), "MX element format " + ELEM_MSG + "'e4m4'"),
    (lambda: mx_quantize(np.zeros(32), "fp16"), "MX element format " + ELEM_MSG + "'fp16'"),
    (lambda: mx_quantize(np.zeros(32), "e4m3", block=16),
     "Block size must be 32 (the block size of every concrete MX format), not 16"),
    (lambda: mx_quantize(np.zeros(32), "e4m3", scale_rule="round"),
     "Scale rule must be one of floor, ceil, rceil, not 'round'"),
    (lambda: mx_quantize(np.zeros(32), "e4m3", rounding="rnd"),
     "Rounding mode must be one of rne, rtz, rdn, rup, rna, not 'rnd'"),
    (lambda: mx_quantize(np.zeros(33), "e4m3"),
     "Length along axis -1 must be a multiple of the block size 32, not 33"),
    (lambda: mx_quantize(np.zeros((2, 32)), "e4m3", axis=2),
     "Axis must be an integer from -2 to 1, not 2"),
    (lambda: mx_dequantize(np.zeros(1, int), np.zeros(32, int), "e9m9"),
     "MX element format " + ELEM_MSG + "'e9m9'"),
    (lambda: mx_dot(([127], [0] * 32), ([127], [0] * 32), "e4m3", "fp8"),
     "B element format " + ELEM_MSG + "'fp8'"),
    (lambda: mx_dot(([127], [0] * 32), ([127, 127], [0] * 64), "e4m3"),
     "Operands must have the same length, not 32 and 64"),
    (lambda: mx_dot(([127, 1], [0] * 32), ([127], [0] * 32), "e4m3"),
     "Operand a has 2 scales for 32 elements; each block of 32 elements needs one scale"),
    (lambda: mx_dot(([127], [0] * 32), ([127], [0] * 32), "e4m3", rounding="up"),
     "Rounding mode must be one of rne, rtz, rdn, rup, rna, not 'up'"),
    (lambda: mx_dot(([127], [0] * 32), ([127], [0] * 32), "e4m3", block=64),
     "Block size must be 32 (the block size of every concrete MX format), not 64"),
])
def test_bad_input_messages(call, msg):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == msg
