"""``hwgen.golden`` ``mul``, ``add``/``sub`` and ``fma``, checked against independent references:
Berkeley SoftFloat (fp16/fp32, every rounding mode, results and flags), the exact Fraction
reference of ``tests/fraction_ref.py`` (every operand pair of the narrow formats, every triple of
e2m1), and ml_dtypes casts of exact products.

NaN results are compared by NaN-ness only (SoftFloat's default NaN is negative; ours is the
canonical positive quiet NaN).
"""

import math
import zlib

import ml_dtypes
import numpy as np
import pytest
import softfloatpy as sf

from fraction_ref import MODES, NAN, RefFormat, exact_add, exact_fma, exact_mul
from hwgen.formats import FLAG_INVALID, FRM, PRESETS, parse_format
from hwgen.golden import add, decode, fma, is_nan, mul, sub

_REFS = {}


def ref_of(name):
    if name not in _REFS:
        _REFS[name] = RefFormat(parse_format(name))
    return _REFS[name]


def assert_same(fmt, got, want, context):
    """Bits equal (NaN results: both NaN) and flags equal."""
    (gb, gf), (wb, wf) = got, want
    gb, wb = np.asarray(gb, dtype=np.uint64), np.asarray(wb, dtype=np.uint64)
    nan_g, nan_w = is_nan(fmt, gb), is_nan(fmt, wb)
    bad = (nan_g != nan_w) | ((gb != wb) & ~nan_w) | (np.asarray(gf) != np.asarray(wf))
    if bad.any():
        idx = np.flatnonzero(bad)[:8]
        rows = [(context(i), hex(int(gb[i])), int(gf[i]), hex(int(wb[i])), int(wf[i]))
                for i in idx]
        raise AssertionError(f"{int(bad.sum())} mismatches (operands, got bits, got flags, "
                             f"want bits, want flags): {rows}")


# -- (a) fp16 / fp32 against Berkeley SoftFloat --------------------------------------------------

_SF = {  # format → (SoftFloat class, mul, add, sub, fma)
    "fp16": (sf.Float16, sf.f16_mul, sf.f16_add, sf.f16_sub, sf.f16_mul_add),
    "fp32": (sf.Float32, sf.f32_mul, sf.f32_add, sf.f32_sub, sf.f32_mul_add),
}


def sf_flags(raw):
    """SoftFloat flags → ours (SoftFloat: 1 inexact, 2 underflow, 4 overflow, 16 invalid)."""
    return (raw & 7) | (FLAG_INVALID if raw & 16 else 0)


def softfloat_run(name, op, mode, *operands):
    """Run a SoftFloat op element-wise over encodings: returns (bits, flags) arrays."""
    cls, f_mul, f_add, f_sub, f_fma = _SF[name]
    func = {"mul": f_mul, "add": f_add, "sub": f_sub, "fma": f_fma}[op]
    nbytes = PRESETS[name].width // 8
    objs = [[cls.from_bytes(int(v).to_bytes(nbytes, "big")) for v in col] for col in operands]
    sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
    sf.set_rounding_mode(sf.RoundingMode(FRM[mode]))
    bits, flags = [], []
    for args in zip(*objs):
        sf.set_exception_flags(0)
        bits.append(int.from_bytes(func(*args).to_bytes(), "big"))
        flags.append(sf_flags(sf.get_exception_flags()))
    return np.array(bits, dtype=np.uint64), np.array(flags, dtype=np.uint8)


def directed(fmt):
    """Edge encodings: zeros, subnormals, normal boundaries, 1 and its neighbours, Inf, NaNs."""
    m, E = fmt.man_bits, fmt.exp_bits
    one = fmt.bias << m
    top = ((1 << E) - 1) << m
    pos = [0, 1, 2, 3, (1 << m) - 1, 1 << m, (1 << m) + 1, one, one + 1, one + (1 << (m - 1)),
           one + (1 << m) - 1, one - 1, fmt.max_bits, fmt.max_bits - 1,
           fmt.max_bits - (1 << m), (fmt.bias + 1) << m, (fmt.bias - m - 1) << m,
           ((fmt.bias + (1 << (E - 2))) << m) | 5, top, top | (1 << (m - 1)), top | 1,
           top | (1 << (m - 1)) | 3]
    return np.array(pos + [p | fmt.sign_mask for p in pos], dtype=np.uint64)


def random_operands(fmt, rng, n, op):
    """Random encodings for ``op``, mixing uniform bits with operands built so that products
    land near 1 and near the overflow/underflow thresholds, sums cancel or tie, and
    significands are short (many exact results and exact halfway cases)."""
    m, E, w = fmt.man_bits, fmt.exp_bits, fmt.width
    top = (1 << E) - 1

    def build(sign, field, mant):
        field = np.clip(field, 0, top)
        return ((sign.astype(np.uint64) << np.uint64(w - 1))
                | (field.astype(np.uint64) << np.uint64(m)) | mant.astype(np.uint64))

    def short_mant(k):
        keep = rng.integers(0, 5, n)  # 0..4 random top mantissa bits, the rest zero
        mant = rng.integers(0, 1 << m, n, dtype=np.uint64)
        return np.where(rng.random(n) < k, mant >> np.uint64(m) - keep.astype(np.uint64)
                        << np.uint64(m) - keep.astype(np.uint64), mant)

    sign = lambda: rng.integers(0, 2, n)
    a_field = rng.integers(0, top + 1, n)
    a = build(sign(), a_field, short_mant(0.3))
    uniform = rng.random(n) < 0.25
    if op == "mul":
        # b's exponent chosen so that the product's exponent spans the whole range evenly.
        target = rng.integers(-m - 3, top + 3, n)
        b_field = target - a_field + fmt.bias
        others = [build(sign(), b_field, short_mant(0.3))]
    elif op in ("add", "sub"):
        b_field = a_field - rng.integers(-1, m + 4, n)
        others = [build(sign(), b_field, short_mant(0.3))]
    else:  # fma: c near the product, or anywhere
        target = rng.integers(-m - 3, top + 3, n)
        b_field = target - a_field + fmt.bias
        b = build(sign(), b_field, short_mant(0.3))
        c_field = np.where(rng.random(n) < 0.7, target + rng.integers(-m - 3, 3, n),
                           rng.integers(0, top + 1, n))
        others = [b, build(sign(), c_field, short_mant(0.3))]
    cols = [a] + others
    mask = np.uint64((1 << w) - 1)
    return [np.where(uniform, rng.integers(0, 1 << w, n, dtype=np.uint64), c) & mask
            for c in cols]


_GOLDEN = {"mul": mul, "add": add, "sub": sub, "fma": fma}
_N_RANDOM = 20000


@pytest.mark.parametrize("name", ["fp16", "fp32"])
@pytest.mark.parametrize("op", ["mul", "add", "sub", "fma"])
def test_ops_match_softfloat_random(name, op):
    fmt = PRESETS[name]
    rng = np.random.default_rng(zlib.crc32(f"{name} {op}".encode()))
    for mode in MODES:
        cols = random_operands(fmt, rng, _N_RANDOM, op)
        got = _GOLDEN[op](fmt, *cols, mode)
        want = softfloat_run(name, op, mode, *cols)
        assert_same(fmt, got, want, lambda i: (mode, *(hex(int(c[i])) for c in cols)))


@pytest.mark.parametrize("name", ["fp16", "fp32"])
@pytest.mark.parametrize("op", ["mul", "add", "sub", "fma"])
def test_ops_match_softfloat_directed(name, op):
    fmt = PRESETS[name]
    d = directed(fmt)
    if op == "fma":  # every triple of a smaller edge set
        d = d[::2]
        grid = np.meshgrid(d, d, d, indexing="ij")
    else:
        grid = np.meshgrid(d, d, indexing="ij")
    cols = [g.ravel() for g in grid]
    for mode in MODES:
        got = _GOLDEN[op](fmt, *cols, mode)
        want = softfloat_run(name, op, mode, *cols)
        assert_same(fmt, got, want, lambda i: (mode, *(hex(int(c[i])) for c in cols)))


def test_dynamic_rounding_matches_softfloat():
    # One call with a per-element frm array equals the per-mode SoftFloat results.
    fmt = PRESETS["fp16"]
    rng = np.random.default_rng(11)
    a, b, c = random_operands(fmt, rng, 5000, "fma")
    codes = rng.integers(0, 8, a.shape)
    for op, cols in (("mul", (a, b)), ("add", (a, b)), ("fma", (a, b, c))):
        got_b, got_f = _GOLDEN[op](fmt, *cols, codes)
        want_b = np.zeros(a.shape, dtype=np.uint64)
        want_f = np.zeros(a.shape, dtype=np.uint8)
        for code in range(8):
            sel = codes == code
            mode = MODES[code] if code < 5 else "rne"  # codes 5..7 behave as rne
            want_b[sel], want_f[sel] = softfloat_run("fp16", op, mode, *(x[sel] for x in cols))
        assert_same(fmt, (got_b, got_f), (want_b, want_f), lambda i: (op, int(codes[i])))


# -- (b) every operand pair of the narrow formats, against the Fraction reference --------------

def expected_binary(op, ra, a, rb, b, ro, mode):
    """Reference (bits, flags) of ``op`` over encodings ``a`` (format ra) and ``b`` (rb).

    Finite operands with a non-zero result go through float64 (exact here: asserted by the
    caller's choice of formats) and are rounded once per distinct value by the Fraction
    reference; zeros, infinities and NaNs take the reference's exact_* rules one by one.
    """
    va = np.array(ra.float_values())[a]
    vb = np.array(rb.float_values())[b]
    with np.errstate(invalid="ignore"):
        exact = va * vb if op == "mul" else (va - vb if op == "sub" else va + vb)
    regular = np.isfinite(va) & np.isfinite(vb) & (exact != 0)
    bits = np.zeros(a.shape, dtype=np.uint64)
    flags = np.zeros(a.shape, dtype=np.uint8)
    uniq, inv = np.unique(exact[regular], return_inverse=True)
    table = [ro.round(float(u), mode) for u in uniq]
    bits[regular] = np.array([t[0] for t in table], dtype=np.uint64)[inv]
    flags[regular] = np.array([t[1] for t in table], dtype=np.uint8)[inv]
    for i in np.flatnonzero(~regular):
        x, y = int(a[i]), int(b[i])
        if op == "mul":
            v, neg, invalid = exact_mul(ra, x, rb, y)
        else:
            v, neg, invalid = exact_add(ra, x, rb, y, mode, subtract=op == "sub")
        rbits, rflags = ro.round(v, mode, neg if v is not NAN else None)
        bits[i], flags[i] = rbits, rflags | (FLAG_INVALID if invalid else 0)
    return bits, flags


def float64_exact_for_sums(ref):
    """Sums of two values are exact in float64 when the range spans at most 52 bits."""
    return math.log2(ref.max_finite / ref.mags[1]) + 2 <= 53


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "e3m4",
                                  "e4m3_ftz", "e3m2_bm2", "e5m2_sat"])
@pytest.mark.parametrize("op", ["mul", "add", "sub"])
def test_every_pair_matches_fraction_reference(name, op):
    fmt, ref = parse_format(name), ref_of(name)
    assert float64_exact_for_sums(ref) and 2 * fmt.precision <= 53
    codes = np.arange(1 << fmt.width, dtype=np.uint64)
    a, b = (g.ravel() for g in np.meshgrid(codes, codes, indexing="ij"))
    for mode in MODES:
        got = _GOLDEN[op](fmt, a, b, mode)
        want = expected_binary(op, ref, a, ref, b, ref, mode)
        assert_same(fmt, got, want, lambda i: (mode, hex(int(a[i])), hex(int(b[i]))))


# -- (c) fma against the Fraction reference ------------------------------------------------------

def expected_fma(ra, a, b, c, ro, mode):
    bits = np.zeros(a.shape, dtype=np.uint64)
    flags = np.zeros(a.shape, dtype=np.uint8)
    for i, (x, y, z) in enumerate(zip(a.tolist(), b.tolist(), c.tolist())):
        v, neg, invalid = exact_fma(ra, x, ra, y, ra, z, mode)
        rbits, rflags = ro.round(v, mode, neg if v is not NAN else None)
        bits[i], flags[i] = rbits, rflags | (FLAG_INVALID if invalid else 0)
    return bits, flags


def test_fma_every_triple_e2m1():
    fmt, ref = parse_format("e2m1"), ref_of("e2m1")
    codes = np.arange(16, dtype=np.uint64)
    a, b, c = (g.ravel() for g in np.meshgrid(codes, codes, codes, indexing="ij"))
    for mode in MODES:
        got = fma(fmt, a, b, c, mode)
        want = expected_fma(ref, a, b, c, ref, mode)
        assert_same(fmt, got, want, lambda i: (mode, int(a[i]), int(b[i]), int(c[i])))


@pytest.mark.parametrize("name, n", [("e4m3", 3000), ("e5m2", 3000), ("bf16", 2000),
                                     ("e3m4", 2000)])
def test_fma_random_triples_match_fraction_reference(name, n):
    fmt, ref = parse_format(name), ref_of(name)
    rng = np.random.default_rng(12)
    for mode in MODES:
        if fmt.width <= 8:
            a, b, c = (rng.integers(0, 1 << fmt.width, n, dtype=np.uint64) for _ in range(3))
        else:
            a, b, c = random_operands(fmt, rng, n, "fma")
        got = fma(fmt, a, b, c, mode)
        want = expected_fma(ref, a, b, c, ref, mode)
        assert_same(fmt, got, want, lambda i: (mode, hex(int(a[i])), hex(int(b[i])),
                                               hex(int(c[i]))))


# -- (d) mixed formats ----------------------------------------------------------------------------

def test_mul_e4m3_into_fp16():
    # Every e4m3 product is exact in fp16's precision (4 + 4 significant bits) and range below
    # (2**-18 and up); above it, 448 * 448 = 200704 overflows fp16's 65504.
    e4m3, fp16 = PRESETS["e4m3"], PRESETS["fp16"]
    ra, ro = ref_of("e4m3"), ref_of("fp16")
    codes = np.arange(256, dtype=np.uint64)
    a, b = (g.ravel() for g in np.meshgrid(codes, codes, indexing="ij"))
    exact = decode(e4m3, a) * decode(e4m3, b)
    in_range = np.abs(exact) <= float(fp16.max_finite)
    for mode in MODES:
        bits, flags = mul(e4m3, a, b, mode, out_fmt=fp16)
        want = expected_binary("mul", ra, a, ra, b, ro, mode)
        assert_same(fp16, (bits, flags), want, lambda i: (mode, hex(int(a[i])), hex(int(b[i]))))
        fin = in_range & ~np.isnan(exact)
        assert not flags[fin].any()
        got = bits.astype(np.uint16).view(np.float16).astype(np.float64)
        assert np.array_equal(got[fin], exact[fin])
        assert np.array_equal(np.signbit(got[fin]), np.signbit(exact[fin]))
        assert np.isnan(got[np.isnan(exact)]).all()
    assert (~in_range & ~np.isnan(exact)).sum() > 0  # the overflow cases are really there


def test_add_bf16_plus_fp32_into_fp32():
    bf16, fp32 = PRESETS["bf16"], PRESETS["fp32"]
    rng = np.random.default_rng(13)
    n = 6000
    a32, b = random_operands(fp32, rng, n, "add")
    a = a32 >> np.uint64(16)  # a bf16 operand near b (bf16 is fp32's top half)
    a = np.where(rng.random(n) < 0.2, rng.integers(0, 1 << 16, n, dtype=np.uint64), a)
    d = directed(bf16)
    da, db = (g.ravel() for g in np.meshgrid(d, directed(fp32), indexing="ij"))
    a, b = np.concatenate([a, da]), np.concatenate([b, db])
    for mode in MODES:
        got = add(bf16, a, b, mode, b_fmt=fp32, out_fmt=fp32)
        # SoftFloat has no bf16 add: widen bf16 to fp32 exactly (append 16 zero bits).
        want = softfloat_run("fp32", "add", mode, a << np.uint64(16), b)
        assert_same(fp32, got, want, lambda i: (mode, hex(int(a[i])), hex(int(b[i]))))


@pytest.mark.parametrize("narrow, acc", [("e4m3", "fp32"), ("e5m2", "fp16")])
def test_fma_narrow_products_into_wide_accumulator(narrow, acc):
    # The MAC shape: narrow a * b plus a wide c, one rounding into the wide format. SoftFloat
    # sees a and b widened exactly, not by the code under test: e4m3 by ml_dtypes (it has no
    # signaling NaN to lose), e5m2 by appending 8 zero bits (it is fp16's top byte, so even a
    # signaling NaN stays one).
    fn, fa = PRESETS[narrow], PRESETS[acc]
    rng = np.random.default_rng(15)
    n = 8000
    a, b = (rng.integers(0, 256, n, dtype=np.uint64) for _ in range(2))
    with np.errstate(invalid="ignore"):
        wide = np.float32 if acc == "fp32" else np.float16
        uint = np.uint32 if acc == "fp32" else np.uint16
        if narrow == "e5m2":
            widen = lambda x: x << np.uint64(8)
        else:
            widen = lambda x: (x.astype(np.uint8).view(_ML[narrow]).astype(wide)
                               .view(uint).astype(np.uint64))
        product = (widen(a).astype(uint).view(wide).astype(np.float64)
                   * widen(b).astype(uint).view(wide).astype(np.float64))
        _, exp2 = np.frexp(np.where(np.isfinite(product), product, 1.0))
    # c: random, or near the product (cancellation, ties), or random bits.
    target = np.clip(exp2 + rng.integers(-fa.precision - 2, 3, n) - 1 + fa.bias, 0,
                     (1 << fa.exp_bits) - 2).astype(np.uint64)
    c = ((rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(fa.width - 1))
         | (target << np.uint64(fa.man_bits))
         | rng.integers(0, 1 << fa.man_bits, n, dtype=np.uint64))
    c = np.where(rng.random(n) < 0.2, rng.integers(0, 1 << fa.width, n, dtype=np.uint64), c)
    for mode in MODES:
        got = fma(fn, a, b, c, mode, c_fmt=fa, out_fmt=fa)
        want = softfloat_run(acc, "fma", mode, widen(a), widen(b), c)
        assert_same(fa, got, want, lambda i: (mode, hex(int(a[i])), hex(int(b[i])),
                                              hex(int(c[i]))))


# -- (e) ml_dtypes casts of exact products --------------------------------------------------------

_ML = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
       "bf16": ml_dtypes.bfloat16}


@pytest.mark.parametrize("name", list(_ML))
def test_rne_product_is_ml_dtypes_cast_of_exact_product(name):
    fmt, dtype = PRESETS[name], _ML[name]
    uint = np.uint8 if fmt.width == 8 else np.uint16
    if fmt.width == 8:
        codes = np.arange(256, dtype=np.uint64)
        a, b = (g.ravel() for g in np.meshgrid(codes, codes, indexing="ij"))
    else:
        rng = np.random.default_rng(14)
        a, b = random_operands(fmt, rng, 200000, "mul")
    with np.errstate(invalid="ignore", over="ignore"):
        va = a.astype(uint).view(dtype).astype(np.float64)
        vb = b.astype(uint).view(dtype).astype(np.float64)
        exact = va * vb  # exact: at most 2 x 8 significant bits
        # ml_dtypes rounds float64 through float32: compare where that first step is exact.
        f32_exact = (exact.astype(np.float32).astype(np.float64) == exact) | ~np.isfinite(exact)
        want = exact.astype(dtype).view(uint).astype(np.uint64)
    assert f32_exact.mean() > 0.9
    a, b, want = a[f32_exact], b[f32_exact], want[f32_exact]
    bits, _ = mul(fmt, a, b, "rne")
    nan_w = is_nan(fmt, want)
    assert np.array_equal(is_nan(fmt, bits), nan_w)
    bad = (bits != want) & ~nan_w
    assert not bad.any(), (a[bad][:8], b[bad][:8], bits[bad][:8], want[bad][:8])
