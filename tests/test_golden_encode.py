"""``hwgen.golden`` decode/encode (the one rounder, fed by float64 values), checked against
independent references: ml_dtypes and numpy casts, Berkeley SoftFloat's conversions, and the
exact Fraction reference of ``tests/fraction_ref.py``; then property tests over arbitrary
``eXmY`` formats.

A note on ml_dtypes: it converts float64 to its narrow types *through float32* (two roundings),
so a float64 just beside a halfway point can land on the wrong side. Every comparison with
ml_dtypes therefore uses float32-exact inputs (neighbours are float32 ulps); the float64
neighbours are checked separately against the exact answer.
"""

import math

import ml_dtypes
import numpy as np
import pytest
import softfloatpy as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraction_ref import MODES, RefFormat
from hwgen.formats import (FLAG_INEXACT, FLAG_INVALID, FLAG_OVERFLOW, FLAG_UNDERFLOW, FRM,
                           PRESETS, FloatFormat, parse_format)
from hwgen.golden import decode, encode, is_inf, is_nan, to_fraction, unpack

#: Formats with an independent implementation, and that implementation's dtype.
DTYPES = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "bf16": ml_dtypes.bfloat16,
    "fp16": np.float16,
}
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32}

#: The ends of float64: the smallest subnormal (and 3 of them), the smallest normal, the largest.
FLOAT64_EXTREMES = np.array([5e-324, 1.5e-323, 2.2250738585072014e-308, 1e-300, 1e300,
                             1.7976931348623157e308])

#: Formats checked in every rounding mode against the Fraction reference: the presets of at
#: most 8 bits, non-presets, FTZ, custom biases, saturation, and a format without mantissa.
REF_FORMATS = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "e3m4", "e5m3", "e4m3_ieee",
               "e4m3_ftz", "e5m2_ftz", "e4m3_b10", "e3m2_bm2", "e5m2_sat", "e4m3_sat",
               "e3m0_fn", "e2m2_none_ftz"]


def all_codes(fmt):
    return np.arange(1 << fmt.width, dtype=np.uint64)


def ref_decode(dtype, codes):
    """Encodings → float64 through the reference dtype."""
    uint = _UINT[np.dtype(dtype).itemsize]
    with np.errstate(invalid="ignore"):  # NaN payloads through float32
        return codes.astype(uint).view(dtype).astype(np.float64)


def ref_encode(dtype, values):
    """float64 values → encodings (uint64) through the reference dtype's cast."""
    uint = _UINT[np.dtype(dtype).itemsize]
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(values).astype(dtype).view(uint).astype(np.uint64)


def same_value(a, b):
    """Element-wise: equal values, equal NaN-ness, equal sign of zeros (and of everything)."""
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    eq = (a == b) & (np.signbit(a) == np.signbit(b))
    return np.where(nan_a | nan_b, nan_a & nan_b, eq)


def sweep(mags, next_fn, max_finite, min_sub, rng, n_random=20000, rtype=np.float64):
    """Dense test values for a format whose finite magnitudes are ``mags`` (sorted).

    Every value and every midpoint between neighbours, each with its neighbours one
    ``next_fn`` step either side; quarter points; the regions around the overflow threshold
    and below the smallest subnormal; log-uniform random values; both signs; all in ``rtype``
    precision.
    """
    mids = (mags[:-1] + mags[1:]) / 2
    top_gap = mags[-1] - mags[-2]
    over = max_finite + top_gap * np.arange(0, 4.01, 1 / 16)
    tiny = min_sub * np.array([1 / 64, 1 / 4, 1 / 2, 3 / 4, 0.999, 1.001, 1.25, 1.5])
    logs = rng.uniform(math.log2(min_sub) - 3, math.log2(max_finite) + 2, n_random)
    rand = np.exp2(logs)
    with np.errstate(over="ignore"):  # values beyond float32 become Inf: harmless extras
        edges = np.concatenate([mags, mids, over, tiny]).astype(rtype)
        rest = np.concatenate([(mags[:-1] + mids) / 2, (mids + mags[1:]) / 2, rand,
                               [max_finite * 2 ** 10]]).astype(rtype)
    x = np.concatenate([edges, next_fn(edges, rtype(np.inf)), next_fn(edges, rtype(0)), rest])
    x = np.unique(x.astype(np.float64))
    return np.concatenate([x, -x])


def float_mags(values):
    v = values[np.isfinite(values)]
    return np.unique(np.abs(v))


# -- (a) decode ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(DTYPES))
def test_decode_every_encoding_matches_reference(name):
    fmt, dtype = PRESETS[name], DTYPES[name]
    codes = all_codes(fmt)
    got, want = decode(fmt, codes), ref_decode(dtype, codes)
    assert got.dtype == np.float64
    bad = ~same_value(got, want)
    assert not bad.any(), (codes[bad][:8], got[bad][:8], want[bad][:8])
    assert np.array_equal(is_nan(fmt, codes), np.isnan(want))
    assert np.array_equal(is_inf(fmt, codes), np.isinf(want))


def test_decode_fp32_matches_numpy():
    rng = np.random.default_rng(1)
    codes = np.concatenate([rng.integers(0, 1 << 32, 200000, dtype=np.uint64),
                            np.array([0, 1 << 31, 0x7F800000, 0xFF800000, 0x7FC00000, 1,
                                      0x7F7FFFFF, 0x00800000, 0x007FFFFF], dtype=np.uint64)])
    got = decode("fp32", codes)
    with np.errstate(invalid="ignore"):
        want = codes.astype(np.uint32).view(np.float32).astype(np.float64)
    assert same_value(got, want).all()


@pytest.mark.parametrize("name", REF_FORMATS)
def test_decode_matches_fraction_reference(name):
    fmt = parse_format(name)
    ref = RefFormat(fmt)
    codes = all_codes(fmt)
    got = decode(fmt, codes)
    want = np.array(ref.float_values())
    assert same_value(got, want).all()
    raw, snan = unpack(fmt, codes)
    assert np.array_equal(snan, np.array(ref.snan))
    for bits in range(0, 1 << fmt.width, max(1, (1 << fmt.width) // 64)):
        sign, mag = ref.value[bits]
        f = to_fraction(fmt, bits)
        if ref.is_nan(bits):
            assert f is None
        elif mag == math.inf:
            assert f == (-math.inf if sign else math.inf)
        else:
            assert f == (-mag if sign else mag)


def test_ftz_decodes_subnormals_as_signed_zeros():
    fmt = parse_format("e4m3_ftz")
    codes = np.array([1, 7, 0x81, 0x87], dtype=np.uint64)
    got = decode(fmt, codes)
    assert (got == 0).all() and list(np.signbit(got)) == [False, False, True, True]


# -- (b) rne encode against the ml_dtypes / numpy casts -----------------------------------------

@pytest.mark.parametrize("name", list(DTYPES))
def test_encode_rne_matches_reference_cast(name):
    fmt, dtype = PRESETS[name], DTYPES[name]
    # numpy converts float64 → float16 in one rounding; ml_dtypes goes through float32.
    rtype = np.float64 if dtype is np.float16 else np.float32
    mags = float_mags(ref_decode(dtype, all_codes(fmt)))
    x = sweep(mags, np.nextafter, float(fmt.max_finite), float(fmt.min_subnormal),
              np.random.default_rng(2), rtype=rtype)
    assert (x.astype(rtype).astype(np.float64) == x).all()
    specials = np.array([0.0, -0.0, np.inf, -np.inf] + ([np.nan] if fmt.has_nan else []))
    x = np.concatenate([x, specials])
    got, want = encode(fmt, x), ref_encode(dtype, x)
    assert got.dtype == np.uint64
    nan_got, nan_want = is_nan(fmt, got), is_nan(fmt, want)
    assert np.array_equal(nan_got, nan_want), x[nan_got != nan_want][:8]
    bad = (got != want) & ~nan_want
    assert not bad.any(), (x[bad][:8], got[bad][:8], want[bad][:8])


@pytest.mark.parametrize("name", list(DTYPES))
def test_encode_float64_neighbours_of_midpoints(name):
    # One float64 ulp below/above a halfway point rounds to the nearer neighbour, in every
    # nearest mode; the neighbours are the reference's own values.
    fmt, dtype = PRESETS[name], DTYPES[name]
    mags = float_mags(ref_decode(dtype, all_codes(fmt)))
    lo, hi = mags[:-1], mags[1:]
    mids = (lo + hi) / 2
    for mode in ("rne", "rna"):
        for sgn in (1.0, -1.0):
            below = decode(fmt, encode(fmt, sgn * np.nextafter(mids, 0), mode))
            above = decode(fmt, encode(fmt, sgn * np.nextafter(mids, np.inf), mode))
            assert np.array_equal(below, sgn * lo) and np.array_equal(above, sgn * hi)


def test_encode_nan_and_inf_in_formats_without_them():
    for name in ("e3m2", "e2m3", "e2m1"):
        fmt = PRESETS[name]
        bits, flags = encode(fmt, np.array([np.nan, np.inf, -np.inf]), with_flags=True)
        # documented: NaN → -0 with invalid (ml_dtypes gives -0 for +NaN); Inf saturates.
        assert list(bits) == [fmt.sign_mask, fmt.max_bits, fmt.sign_mask | fmt.max_bits]
        assert list(flags) == [FLAG_INVALID, FLAG_OVERFLOW | FLAG_INEXACT,
                               FLAG_OVERFLOW | FLAG_INEXACT]
        assert list(bits[1:]) == list(ref_encode(DTYPES[name], np.array([np.inf, -np.inf])))
    bits, flags = encode("e4m3", np.array([np.nan, np.inf, -np.inf]), with_flags=True)
    assert list(bits) == [0x7F] * 3 and list(flags) == [0, FLAG_INVALID, FLAG_INVALID]


# -- (b') every mode for the IEEE formats, against SoftFloat's conversions ------------------------

_SF_CONVERT = {  # format → (SoftFloat source class, conversion, numpy type of the source)
    "fp16": (sf.Float64, sf.f64_to_f16, np.float64),
    "fp32": (sf.Float64, sf.f64_to_f32, np.float64),
    "bf16": (sf.Float32, sf.f32_to_bf16, np.float32),
}


def sf_flags(raw):
    """SoftFloat flags → ours (SoftFloat: 1 inexact, 2 underflow, 4 overflow, 16 invalid)."""
    return (raw & 7) | (FLAG_INVALID if raw & 16 else 0)


@pytest.mark.parametrize("name", list(_SF_CONVERT))
def test_encode_all_modes_match_softfloat_conversion(name):
    fmt = PRESETS[name]
    src_type, convert, rtype = _SF_CONVERT[name]
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 1 << fmt.width, 3000, dtype=np.uint64)
    mags = float_mags(decode(fmt, codes))
    edge = np.array([float(fmt.max_finite), float(fmt.min_normal), float(fmt.min_subnormal)])
    mags = np.unique(np.concatenate([mags, edge, edge * (1 - 2.0 ** -fmt.precision)]))
    x = sweep(mags, np.nextafter, float(fmt.max_finite), float(fmt.min_subnormal), rng,
              n_random=3000, rtype=rtype)
    if rtype is np.float64:
        x = np.concatenate([x, FLOAT64_EXTREMES, -FLOAT64_EXTREMES])
    x = np.concatenate([x, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    srcs = [src_type.from_bytes(v.tobytes()[::-1]) for v in x.astype(rtype)]
    sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
    for mode in MODES:
        sf.set_rounding_mode(sf.RoundingMode(FRM[mode]))
        want_bits, want_flags = [], []
        for s in srcs:
            sf.set_exception_flags(0)
            want_bits.append(int.from_bytes(convert(s).to_bytes(), "big"))
            want_flags.append(sf_flags(sf.get_exception_flags()))
        want_bits = np.array(want_bits, dtype=np.uint64)
        got_bits, got_flags = encode(fmt, x, mode, with_flags=True)
        nan_w = is_nan(fmt, want_bits)
        assert np.array_equal(is_nan(fmt, got_bits), nan_w)
        bad = ((got_bits != want_bits) & ~nan_w) | (got_flags != np.array(want_flags))
        assert not bad.any(), (mode, x[bad][:6], got_bits[bad][:6], want_bits[bad][:6],
                               got_flags[bad][:6], np.array(want_flags)[bad][:6])


# -- (c) every mode and flag against the Fraction reference ------------------------------------

def ref_sweep(ref, rng):
    vals = np.array(ref.float_values())
    mags = float_mags(vals)
    x = sweep(mags, np.nextafter, float(ref.max_finite), float(mags[1]), rng, n_random=300)
    return np.concatenate([x, FLOAT64_EXTREMES, -FLOAT64_EXTREMES,
                           [0.0, -0.0, np.inf, -np.inf, np.nan]])


def check_against_ref(fmt, ref, x, rounding):
    """Golden encode of ``x`` with ``rounding`` (a mode or a frm-code array) vs the reference."""
    got_bits, got_flags = encode(fmt, x, rounding, with_flags=True)
    codes = np.broadcast_to(np.asarray(FRM[rounding] if isinstance(rounding, str) else rounding),
                            x.shape)
    names = {v: k for k, v in FRM.items()}
    bad = []
    for xi, b, f, c in zip(x, got_bits, got_flags, codes):
        want = ref.round(float(xi), names.get(int(c), "rne"))
        if (int(b), int(f)) != want:
            bad.append((float(xi), int(c), (int(b), int(f)), want))
    assert not bad, bad[:8]


@pytest.mark.parametrize("name", REF_FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_encode_matches_fraction_reference(name, mode):
    fmt = parse_format(name)
    ref = _ref(name)
    x = ref_sweep(ref, np.random.default_rng(4))
    check_against_ref(fmt, ref, x, mode)


def test_encode_dynamic_rounding_codes():
    # Per-element frm codes; 5, 6, 7 (and anything out of range) behave as rne.
    fmt = parse_format("e4m3")
    ref = _ref("e4m3")
    rng = np.random.default_rng(5)
    x = ref_sweep(ref, rng)
    codes = rng.integers(-2, 9, x.shape)
    check_against_ref(fmt, ref, x, codes)
    for mode in MODES:
        same = np.full(x.shape, FRM[mode])
        assert np.array_equal(encode(fmt, x, same), encode(fmt, x, mode))


def test_bad_rounding_mode_message():
    with pytest.raises(ValueError) as info:
        encode("e4m3", np.array([1.0]), "nearest")
    assert str(info.value) == "Rounding mode must be one of rne, rtz, rdn, rup, rna, not 'nearest'"


_REF_CACHE = {}


def _ref(name):
    if name not in _REF_CACHE:
        _REF_CACHE[name] = RefFormat(parse_format(name))
    return _REF_CACHE[name]


def test_flags_of_known_cases():
    # A few cases stated in the docstrings, checked through the reference too.
    e4m3 = PRESETS["e4m3"]
    ref = _ref("e4m3")
    cases = [
        (464.0, "rne"),                 # halfway to the NaN pattern: ties to even = 448
        (464.0 + 2 ** -20, "rne"),      # just above: overflow → NaN
        (470.0, "rtz"),                 # above max, rtz keeps max without overflow
        (480.0, "rtz"),                 # rounds to 480 with unbounded exponent: overflow
        (2.0 ** -10, "rne"),            # tie between 0 and min subnormal: 0, UF|NX
        (2.0 ** -10 * 3, "rne"),        # 1.5 min subnormals → 2 (even), UF|NX
        (2.0 ** -6 * (1 - 2 ** -5), "rne"),  # rounds up to min normal: not tiny after rounding
        (2.0 ** -6 * (1 - 2 ** -5), "rtz"),  # rounds down: tiny, UF|NX
    ]
    for x, mode in cases:
        bits, flags = encode(e4m3, np.array([x]), mode, with_flags=True)
        assert (int(bits[0]), int(flags[0])) == ref.round(x, mode)
    # And the facts themselves (from the definitions, not from the code under test).
    assert ref.round(464.0, "rne") == (0x7E, FLAG_INEXACT)
    assert ref.round(2.0 ** -6 * (1 - 2 ** -5), "rne") == (0x08, FLAG_INEXACT)
    assert ref.round(2.0 ** -6 * (1 - 2 ** -5), "rtz") == (0x07, FLAG_INEXACT | FLAG_UNDERFLOW)


# -- (d) properties over arbitrary eXmY formats ------------------------------------------------

@st.composite
def formats(draw):
    e = draw(st.integers(2, 8))
    m = draw(st.integers(0, 10))
    specials = draw(st.sampled_from(["fn", "none"] if m == 0 else ["ieee", "fn", "none"]))
    overflow = draw(st.sampled_from({"ieee": ["inf", "saturate"], "fn": ["nan", "saturate"],
                                     "none": ["saturate"]}[specials]))
    bias = 2 ** (e - 1) - 1 + draw(st.integers(-2, 2))
    subnormals = draw(st.booleans())
    return FloatFormat(e, m, bias=bias, subnormals=subnormals, specials=specials,
                       overflow=overflow)


# Derandomized (the same examples every run, so CI is reproducible) and without an example
# database (nothing written into the tree).
_PROP = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


@_PROP
@given(fmt=formats())
def test_property_decode_encode_round_trip(fmt):
    codes = all_codes(fmt)
    vals = decode(fmt, codes)
    keep = ~np.isnan(vals)
    if not fmt.subnormals:  # subnormal encodings read as zero: they come back as zeros
        field = (codes >> np.uint64(fmt.man_bits)) & np.uint64((1 << fmt.exp_bits) - 1)
        keep &= (field != 0) | ((codes & np.uint64(fmt.sign_mask - 1)) == 0)
    for mode in MODES:
        bits, flags = encode(fmt, vals[keep], mode, with_flags=True)
        assert np.array_equal(bits, codes[keep])
        assert not flags.any()
    assert parse_format(fmt.name) == fmt


def random_values(fmt, seed, n=3000):
    rng = np.random.default_rng(seed)
    mags = np.exp2(rng.uniform(math.log2(fmt.min_subnormal) - 3,
                               math.log2(fmt.max_finite) + 2, n))
    vals = decode(fmt, all_codes(fmt))
    fin = float_mags(vals)
    lo, hi = fin[:-1], fin[1:]
    if len(lo) > 4000:  # wide formats: a random subset of neighbour pairs
        pick = rng.choice(len(lo), 4000, replace=False)
        fin, lo, hi = fin[pick], lo[pick], hi[pick]
    mids = (lo + hi) / 2
    x = np.concatenate([mags, fin, mids, np.nextafter(mids, 0), np.nextafter(mids, np.inf)])
    return np.concatenate([x, -x])


def ulp(fmt, x):
    """Spacing of the format at ``x`` (the subnormal spacing below the normal range)."""
    _, e = np.frexp(np.abs(x))
    return np.exp2(np.maximum(e - 1, fmt.emin) - fmt.man_bits)


@_PROP
@given(fmt=formats(), seed=st.integers(0, 2 ** 32 - 1))
def test_property_encode_monotonic(fmt, seed):
    x = np.sort(random_values(fmt, seed))
    for mode in MODES:
        y = decode(fmt, encode(fmt, x, mode))
        y = np.where(np.isnan(y), np.copysign(np.inf, x), y)  # an overflow to NaN is "huge"
        assert (y[1:] >= y[:-1]).all(), mode


@_PROP
@given(fmt=formats(), seed=st.integers(0, 2 ** 32 - 1))
def test_property_directed_bounds_and_nearest_error(fmt, seed):
    x = random_values(fmt, seed)
    x = x[np.abs(x) <= float(fmt.max_finite)]
    if not fmt.subnormals:  # FTZ flushes tiny results to zero, whatever the mode
        x = x[np.abs(x) >= float(fmt.min_normal)]
    dn, up, tz, ne, na = (decode(fmt, encode(fmt, x, mode))
                          for mode in ("rdn", "rup", "rtz", "rne", "rna"))
    u = ulp(fmt, x)
    assert (dn <= x).all() and (x <= up).all()
    assert (up - dn <= u).all()
    assert (np.abs(tz) <= np.abs(x)).all() and np.array_equal(tz, np.where(x > 0, dn, up))
    for near in (ne, na):
        assert (np.abs(near - x) <= u / 2).all()
        assert ((near == dn) | (near == up)).all()
    # Signs survive, zeros included.
    for y in (dn, up, tz, ne, na):
        assert np.array_equal(np.signbit(y), np.signbit(x))
