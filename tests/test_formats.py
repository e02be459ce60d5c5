"""``hwgen.formats``: presets and their derived facts (against ml_dtypes/numpy ``finfo``),
``eXmY`` names and their round trip, and the exact messages for bad parameters."""

import re
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from hwgen.formats import (FLAG_INEXACT, FLAG_INVALID, FLAG_OVERFLOW, FLAG_UNDERFLOW, FRM,
                           MAX_EXP_BITS, MAX_MAN_BITS, OVERFLOW_POLICIES, PRESETS,
                           ROUNDING_MODES, SPECIALS, FloatFormat, IntFormat, parse_format)

#: Each preset that has an independent implementation, with that implementation's dtype.
REFERENCE_DTYPES = {
    "e4m3": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e3m2": ml_dtypes.float6_e3m2fn,
    "e2m3": ml_dtypes.float6_e2m3fn,
    "e2m1": ml_dtypes.float4_e2m1fn,
    "bf16": ml_dtypes.bfloat16,
    "fp16": np.float16,
    "fp32": np.float32,
}


def finfo(dtype):
    return np.finfo(dtype) if dtype in (np.float16, np.float32) else ml_dtypes.finfo(dtype)


def from_bits(bits, dtype):
    uint = {1: np.uint8, 2: np.uint16, 4: np.uint32}[np.dtype(dtype).itemsize]
    return np.array([bits], dtype=uint).view(dtype)[0]


# -- presets against finfo -------------------------------------------------------------------

@pytest.mark.parametrize("name", list(REFERENCE_DTYPES))
def test_preset_facts_match_finfo(name):
    fmt, fi = PRESETS[name], finfo(REFERENCE_DTYPES[name])
    assert fmt.width == fmt.total_bits == fi.bits
    assert fmt.exp_bits == fi.nexp
    assert fmt.man_bits == fi.nmant
    assert fmt.precision == fi.nmant + 1
    assert fmt.emin == fi.minexp
    assert fmt.emax == fi.maxexp - 1  # finfo.maxexp: the first power of two that overflows
    assert fmt.max_finite == Fraction(float(fi.max))
    assert fmt.min_normal == Fraction(float(fi.smallest_normal))
    assert fmt.min_subnormal == Fraction(float(fi.smallest_subnormal))
    assert fmt.epsilon == Fraction(float(fi.eps))
    for fact in (fmt.max_finite, fmt.min_normal, fmt.min_subnormal, fmt.epsilon):
        assert isinstance(fact, Fraction)


@pytest.mark.parametrize("name", list(REFERENCE_DTYPES))
def test_preset_special_encodings_match_reference(name):
    fmt, dtype = PRESETS[name], REFERENCE_DTYPES[name]
    # Which specials exist: a cast of Inf/NaN says it (ml_dtypes saturates where there is none).
    assert fmt.has_inf == bool(np.isinf(np.array(np.inf).astype(dtype)))
    assert fmt.has_nan == bool(np.isnan(np.array(np.nan).astype(dtype)))
    assert float(from_bits(fmt.max_bits, dtype)) == float(finfo(dtype).max)
    assert from_bits(fmt.sign_mask, dtype) == 0 and np.signbit(from_bits(fmt.sign_mask, dtype))
    if fmt.has_inf:
        assert from_bits(fmt.inf_bits, dtype) == np.inf
    else:
        assert fmt.inf_bits is None
    if fmt.has_nan:
        assert np.isnan(from_bits(fmt.nan_bits, dtype))
        assert not np.signbit(from_bits(fmt.nan_bits, dtype).astype(np.float32))
        if fmt.specials == "ieee":  # quiet: the top mantissa bit is set
            assert fmt.nan_bits >> (fmt.man_bits - 1) & 1
    else:
        assert fmt.nan_bits is None


def test_preset_table():
    # The shapes the rest of hwgen relies on (names, widths and specials of the OCP/IEEE types).
    shapes = {name: (f.exp_bits, f.man_bits, f.specials, f.overflow, f.subnormals)
              for name, f in PRESETS.items()}
    assert shapes == {
        "fp32": (8, 23, "ieee", "inf", True),
        "fp16": (5, 10, "ieee", "inf", True),
        "bf16": (8, 7, "ieee", "inf", True),
        "tf32": (8, 10, "ieee", "inf", True),
        "e4m3": (4, 3, "fn", "nan", True),
        "e5m2": (5, 2, "ieee", "inf", True),
        "e3m2": (3, 2, "none", "saturate", True),
        "e2m3": (2, 3, "none", "saturate", True),
        "e2m1": (2, 1, "none", "saturate", True),
    }
    for name, fmt in PRESETS.items():
        assert fmt.bias == 2 ** (fmt.exp_bits - 1) - 1
        assert fmt.name == name == str(fmt)
        assert parse_format(name) is fmt


def test_tf32_facts():
    # No library type to compare with: fp32's exponent with fp16's mantissa.
    tf32, fp32, fp16 = PRESETS["tf32"], PRESETS["fp32"], PRESETS["fp16"]
    assert tf32.width == 19
    assert tf32.min_normal == fp32.min_normal
    assert tf32.epsilon == fp16.epsilon
    assert tf32.max_finite == (2 - Fraction(2) ** -10) * Fraction(2) ** 127
    assert tf32.min_subnormal == Fraction(2) ** (-126 - 10)


def test_constants():
    assert ROUNDING_MODES == ("rne", "rtz", "rdn", "rup", "rna")
    assert FRM == {"rne": 0, "rtz": 1, "rdn": 2, "rup": 3, "rna": 4}  # RISC-V frm codes
    assert (FLAG_INEXACT, FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID) == (1, 2, 4, 8)
    assert SPECIALS == ("ieee", "fn", "none")
    assert OVERFLOW_POLICIES == ("inf", "nan", "saturate")


# -- derived facts of non-presets, from first principles ---------------------------------------

def brute_force_values(fmt):
    """Finite magnitudes of every encoding, from the bit fields (independent of the class)."""
    vals = set()
    top = (1 << fmt.exp_bits) - 1
    for e in range(top + 1):
        for f in range(1 << fmt.man_bits):
            if fmt.specials == "ieee" and e == top:
                continue
            if fmt.specials == "fn" and e == top and f == (1 << fmt.man_bits) - 1:
                continue
            if e == 0:
                sig = f if fmt.subnormals else 0
                vals.add(Fraction(sig) * Fraction(2) ** (1 - fmt.bias - fmt.man_bits))
            else:
                vals.add(Fraction((1 << fmt.man_bits) + f)
                         * Fraction(2) ** (e - fmt.bias - fmt.man_bits))
    return sorted(vals)


@pytest.mark.parametrize("name", [
    "e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "e3m4", "e5m3", "e4m3_ieee", "e4m3_ftz", "e4m3_b10",
    "e3m2_bm2", "e2m0_none", "e3m0_fn", "e1m2_none", "e1m1_fn", "e2m0_fn", "e5m2_sat",
    "e4m0_none_ftz", "e6m7"])
def test_derived_facts_by_enumeration(name):
    fmt = parse_format(name)
    vals = brute_force_values(fmt)
    assert fmt.max_finite == vals[-1]
    assert fmt.min_subnormal == vals[1]
    normals = [v for v in vals if v >= Fraction(2) ** (1 - fmt.bias)]
    assert fmt.min_normal == Fraction(2) ** (1 - fmt.bias)
    if normals:
        assert fmt.min_normal == normals[0]
    # epsilon: the gap above 1, whenever 1 is a normal value of the format.
    if Fraction(1) in vals and fmt.min_normal <= 1:
        assert fmt.epsilon == vals[vals.index(1) + 1] - 1
    # max_bits/max_finite agree with the encoding layout.
    e, f = fmt.max_bits >> fmt.man_bits, fmt.max_bits & ((1 << fmt.man_bits) - 1)
    sig = ((1 << fmt.man_bits) + f) if e else f
    assert Fraction(sig) * Fraction(2) ** (max(e, 1) - fmt.bias - fmt.man_bits) == vals[-1]
    assert fmt.sign_mask == 1 << (fmt.width - 1)


# -- names -------------------------------------------------------------------------------------

def all_formats():
    """Every valid FloatFormat over a grid of parameters (invalid combinations skipped)."""
    out = []
    for e in range(1, MAX_EXP_BITS + 1):
        for m in range(0, MAX_MAN_BITS + 1):
            default = 2 ** (e - 1) - 1
            for specials in SPECIALS:
                for overflow in (None,) + OVERFLOW_POLICIES:
                    for subnormals in (True, False):
                        for bias in {default, default + 3, -2, 0}:
                            try:
                                out.append(FloatFormat(e, m, bias=bias, subnormals=subnormals,
                                                       specials=specials, overflow=overflow))
                            except ValueError:
                                pass
    return out


def test_name_round_trip_over_parameter_grid():
    formats = all_formats()
    assert len(formats) > 3000
    names = set()
    for fmt in formats:
        name = fmt.name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name  # a Verilog identifier fragment
        back = parse_format(name)
        assert back == fmt, (name, fmt, back)
        assert hash(back) == hash(fmt)
        names.add(name)
    assert len(names) == len(set(formats))  # distinct formats get distinct names


@pytest.mark.parametrize("spec, expect", [
    ("e4m3", PRESETS["e4m3"]),
    ("E4M3", PRESETS["e4m3"]),
    (" fp16 ", PRESETS["fp16"]),
    ("e5m10", PRESETS["fp16"]),
    ("e8m7", PRESETS["bf16"]),
    ("e8m23", PRESETS["fp32"]),
    ("e4m3_ieee", FloatFormat(4, 3)),
    ("e4m3_fn", PRESETS["e4m3"]),
    ("e4m3_ftz", FloatFormat(4, 3, specials="fn", subnormals=False)),
    ("e4m3_sat", FloatFormat(4, 3, specials="fn", overflow="saturate")),
    ("e5m2_ovnan", FloatFormat(5, 2, overflow="nan")),
    ("e3m4", FloatFormat(3, 4)),
    ("e3m4_none", FloatFormat(3, 4, specials="none")),
    ("e2m1_fn", FloatFormat(2, 1, specials="fn")),
    ("e4m3_b10", FloatFormat(4, 3, specials="fn", bias=10)),
    ("e3m2_bm2", FloatFormat(3, 2, specials="none", bias=-2)),
    ("e6m7", FloatFormat(6, 7)),
])
def test_parse_names(spec, expect):
    assert parse_format(spec) == expect


def test_parse_passes_formats_through():
    fmt = FloatFormat(6, 5, bias=20)
    assert parse_format(fmt) is fmt
    i8 = IntFormat(8)
    assert parse_format(i8) is i8


def test_int_formats():
    assert parse_format("int8") == IntFormat(8)
    assert parse_format("uint4") == IntFormat(4, signed=False)
    for bits in (2, 8, 32, 64):
        f = IntFormat(bits)
        assert (f.min_value, f.max_value) == (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        assert (f.width, f.total_bits, f.name) == (bits, bits, f"int{bits}")
        assert parse_format(f.name) == f
    for bits in (1, 8, 64):
        f = IntFormat(bits, signed=False)
        assert (f.min_value, f.max_value) == (0, 2 ** bits - 1)
        assert parse_format(f.name) == f and str(f) == f"uint{bits}"
    assert IntFormat(8) != IntFormat(8, signed=False)
    assert IntFormat(8) != FloatFormat(4, 3)


def test_equality_and_repr():
    a = FloatFormat(4, 3, specials="fn")
    assert a == PRESETS["e4m3"] and hash(a) == hash(PRESETS["e4m3"])
    assert a != FloatFormat(4, 3) and a != FloatFormat(4, 3, specials="fn", subnormals=False)
    assert a != "e4m3"
    assert repr(a) == ("FloatFormat(4, 3, bias=7, subnormals=True, specials='fn', "
                       "overflow='nan')")


# -- error messages ------------------------------------------------------------------------------

_UNKNOWN = ("expected a preset (fp32, fp16, bf16, tf32, e4m3, e5m2, e3m2, e2m3, e2m1), "
            "intN/uintN, or eXmY with optional suffixes _ieee, _fn, _none, _bN, _bmN, _ftz, "
            "_sat, _ovnan, _ovinf")


@pytest.mark.parametrize("args, kwargs, exc, message", [
    ((0, 3), {}, ValueError, "Exponent width must be between 1 and 11, not 0"),
    ((-1, 3), {}, ValueError, "Exponent width must be between 1 and 11, not -1"),
    ((12, 3), {}, ValueError, "Exponent width must be between 1 and 11, not 12"),
    ((4, -1), {}, ValueError, "Mantissa width must be between 0 and 23, not -1"),
    ((4, 24), {}, ValueError, "Mantissa width must be between 0 and 23, not 24"),
    ((4.0, 3), {}, TypeError, "Exponent width must be an integer, not 4.0"),
    ((True, 3), {}, TypeError, "Exponent width must be an integer, not True"),
    (("4", 3), {}, TypeError, "Exponent width must be an integer, not '4'"),
    ((4, "3"), {}, TypeError, "Mantissa width must be an integer, not '3'"),
    ((4, None), {}, TypeError, "Mantissa width must be an integer, not None"),
    ((4, 3), {"bias": 1.5}, TypeError, "Bias must be an integer, not 1.5"),
    ((4, 3), {"bias": 5000}, ValueError, "Bias must be between -2048 and 2048, not 5000"),
    ((8, 3), {"bias": -2000}, ValueError,
     "Bias -2000 puts e8m3 outside the float64 range the golden model decodes to"),
    ((4, 3), {"specials": "x"}, ValueError, "Specials must be one of ieee, fn, none, not 'x'"),
    ((4, 3), {"overflow": "wrap"}, ValueError,
     "Overflow policy must be one of inf, nan, saturate, not 'wrap'"),
    ((1, 2), {}, ValueError, "Exponent width must be at least 2 with specials 'ieee', not 1"),
    ((3, 0), {}, ValueError,
     "Mantissa width must be at least 1 with specials 'ieee' (NaN needs a mantissa bit), not 0"),
    ((1, 0), {"specials": "fn"}, ValueError, "Format e1m0 is too narrow for specials 'fn'"),
    ((4, 3), {"specials": "fn", "overflow": "inf"}, ValueError,
     "Overflow policy 'inf' needs specials 'ieee', not 'fn'"),
    ((3, 2), {"specials": "none", "overflow": "nan"}, ValueError,
     "Overflow policy 'nan' needs a NaN; specials 'none' has none"),
])
def test_float_format_errors(args, kwargs, exc, message):
    with pytest.raises(exc) as info:
        FloatFormat(*args, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("args, exc, message", [
    ((0,), ValueError, "Integer width must be between 1 and 64, not 0"),
    ((65,), ValueError, "Integer width must be between 1 and 64, not 65"),
    ((1,), ValueError, "Signed integer width must be at least 2, not 1"),
    ((8.0,), TypeError, "Integer width must be an integer, not 8.0"),
    ((False,), TypeError, "Integer width must be an integer, not False"),
])
def test_int_format_errors(args, exc, message):
    with pytest.raises(exc) as info:
        IntFormat(*args)
    assert str(info.value) == message


@pytest.mark.parametrize("spec, exc, message", [
    ("fp8", ValueError, f"Unknown format 'fp8'; {_UNKNOWN}"),
    ("", ValueError, f"Unknown format ''; {_UNKNOWN}"),
    ("e4m-1", ValueError, f"Unknown format 'e4m-1'; {_UNKNOWN}"),
    ("e4m3__fn", ValueError, f"Unknown format 'e4m3__fn'; {_UNKNOWN}"),
    ("e4m3_xyz", ValueError,
     "Unknown format suffix 'xyz' in 'e4m3_xyz'; allowed: _ieee, _fn, _none, _bN, _bmN, _ftz, "
     "_sat, _ovnan, _ovinf"),
    ("e4m3_b", ValueError,
     "Unknown format suffix 'b' in 'e4m3_b'; allowed: _ieee, _fn, _none, _bN, _bmN, _ftz, "
     "_sat, _ovnan, _ovinf"),
    ("e0m3", ValueError, "Invalid format 'e0m3': Exponent width must be between 1 and 11, not 0"),
    ("e12m3", ValueError,
     "Invalid format 'e12m3': Exponent width must be between 1 and 11, not 12"),
    ("e4m24", ValueError,
     "Invalid format 'e4m24': Mantissa width must be between 0 and 23, not 24"),
    ("e2m0", ValueError,
     "Invalid format 'e2m0': Mantissa width must be at least 1 with specials 'ieee' (NaN needs "
     "a mantissa bit), not 0"),
    ("e4m3_ovinf", ValueError,
     "Invalid format 'e4m3_ovinf': Overflow policy 'inf' needs specials 'ieee', not 'fn'"),
    ("int1", ValueError, "Invalid format 'int1': Signed integer width must be at least 2, not 1"),
    ("uint65", ValueError,
     "Invalid format 'uint65': Integer width must be between 1 and 64, not 65"),
    (3, TypeError, "Format must be a name or a FloatFormat/IntFormat, not 3"),
    (None, TypeError, "Format must be a name or a FloatFormat/IntFormat, not None"),
    (np.float16, TypeError,
     f"Format must be a name or a FloatFormat/IntFormat, not {np.float16!r}"),
])
def test_parse_format_errors(spec, exc, message):
    with pytest.raises(exc) as info:
        parse_format(spec)
    assert str(info.value) == message
