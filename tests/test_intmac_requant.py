# amaranth: UnusedElaboratable=no
"""Integer MAC and requantization: golden models against independent straightforward
implementations (Python ints, C semantics written out), parameter validation, module names,
and a short check of both units in Amaranth's simulator."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.cli import main
from hwgen.golden.imac import int_mac
from hwgen.golden.requant import (INT32_MAX, INT32_MIN, activation_range,
                                  multiply_by_quantized_multiplier, quantize_multiplier,
                                  quantize_multipliers, requantize, rounding_divide_by_pot,
                                  saturating_rounding_doubling_high_mul)
from hwgen.units.imac import IntMac
from hwgen.units.requant import Requantize

EDGES32 = [INT32_MIN, INT32_MIN + 1, -(1 << 30) - 1, -(1 << 30), -(1 << 30) + 1, -65536,
           -3, -2, -1, 0, 1, 2, 3, 65535, (1 << 30) - 1, 1 << 30, (1 << 30) + 1,
           INT32_MAX - 1, INT32_MAX]


# -- independent references: gemmlowp / TFLite written out with Python ints -------------------

def c_div(n, d):
    """C integer division: truncates toward zero."""
    q = abs(n) // abs(d)
    return q if (n < 0) == (d < 0) else -q


def ref_srdhm(a, b):
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbpot(x, exponent):
    """gemmlowp's formula, with x and the mask as 32-bit patterns."""
    mask = (1 << exponent) - 1
    remainder = (x & 0xFFFFFFFF) & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def round_half_away(q):
    """Exact rational ``q`` to the nearest integer, ties away from zero."""
    n = math.floor(abs(q) + Fraction(1, 2))
    return n if q >= 0 else -n


def wrap32(x):
    return (x + (1 << 31)) % (1 << 32) - (1 << 31)


def ref_quantize_multiplier(scale):
    """QuantizeMultiplier by exact rationals (no frexp): |scale| = q * 2**shift with
    0.5 <= q < 1, M0 = round(q * 2**31) half away from zero."""
    if scale == 0:
        return 0, 0
    s = Fraction(scale)
    shift = 0
    while abs(s) / Fraction(2) ** shift >= 1:
        shift += 1
    while abs(s) / Fraction(2) ** shift < Fraction(1, 2):
        shift -= 1
    m0 = round_half_away(s / Fraction(2) ** shift * (1 << 31))
    if m0 == 1 << 31:
        m0, shift = 1 << 30, shift + 1
    if shift < -31:
        return 0, 0
    return m0, shift


def ref_requant(acc, bias, m0, shift, zp, lo, hi):
    x = wrap32(acc + bias)
    x = wrap32(x * (1 << max(shift, 0)))
    y = ref_srdhm(x, m0)
    right = max(-shift, 0)
    z = round_half_away(Fraction(y, 1 << right))  # RDBPOT's meaning, not its formula
    return min(max(z + zp, lo), hi)


# -- SaturatingRoundingDoublingHighMul -------------------------------------------------------

def test_srdhm_int32_min_squared_saturates():
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN + 1) == INT32_MAX
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MAX) == INT32_MIN + 1


def test_srdhm_edges_and_random():
    rng = random.Random(1)
    pairs = [(a, b) for a in EDGES32 for b in EDGES32]
    pairs += [(rng.randint(INT32_MIN, INT32_MAX), rng.randint(INT32_MIN, INT32_MAX))
              for _ in range(20000)]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    got = saturating_rounding_doubling_high_mul(a, b)
    assert [int(g) for g in got] == [ref_srdhm(x, y) for x, y in pairs]


def test_srdhm_ties():
    # 2ab/2**32 exactly halfway: positive ties round up, negative ties toward zero (gemmlowp's
    # nudge is 1 - 2**30 for negative products), i.e. every tie rounds toward +inf.
    half = 1 << 29  # a * 2 = 2**30: 0.5
    assert saturating_rounding_doubling_high_mul(half, 2) == 1
    assert saturating_rounding_doubling_high_mul(-half, 2) == 0
    assert saturating_rounding_doubling_high_mul(-3 * half, 2) == -1
    assert saturating_rounding_doubling_high_mul(3 * half, 2) == 2


def test_srdhm_is_one_arithmetic_shift():
    """The unit computes SRDHM as floor((a*b + 2**30) / 2**31): equal except saturation."""
    rng = random.Random(2)
    a = np.array(EDGES32 * len(EDGES32) + [rng.randint(INT32_MIN, INT32_MAX)
                                           for _ in range(5000)])
    b = np.array([e for e in EDGES32 for _ in EDGES32] + [rng.randint(INT32_MIN, INT32_MAX)
                                                           for _ in range(5000)])
    floor_form = [(int(x) * int(y) + (1 << 30)) >> 31 for x, y in zip(a, b)]
    floor_form = [INT32_MAX if x == y == INT32_MIN else f
                  for x, y, f in zip(a, b, floor_form)]
    assert [int(v) for v in saturating_rounding_doubling_high_mul(a, b)] == floor_form


# -- RoundingDivideByPOT ---------------------------------------------------------------------

def test_rdbpot_negative_ties_away_from_zero():
    assert rounding_divide_by_pot(-1, 1) == -1      # -0.5
    assert rounding_divide_by_pot(-3, 1) == -2      # -1.5
    assert rounding_divide_by_pot(-5, 1) == -3      # -2.5
    assert rounding_divide_by_pot(-6, 2) == -2      # -1.5
    assert rounding_divide_by_pot(-5, 2) == -1      # -1.25
    assert rounding_divide_by_pot(-7, 2) == -2      # -1.75
    assert rounding_divide_by_pot(3, 1) == 2        # 1.5
    assert rounding_divide_by_pot(INT32_MIN, 31) == -1
    assert rounding_divide_by_pot(INT32_MIN, 32) == -1  # -0.5, away from zero
    assert rounding_divide_by_pot(INT32_MAX, 31) == 1
    assert rounding_divide_by_pot(INT32_MAX, 32) == 0


@pytest.mark.parametrize("exponent", range(0, 33))
def test_rdbpot_every_shift(exponent):
    rng = random.Random(exponent)
    xs = list(EDGES32)
    if exponent:
        h = 1 << (exponent - 1)
        for k in range(-5, 5):  # exact ties on both sides of zero
            for t in (k * 2 * h + h, k * 2 * h + h - 1, k * 2 * h + h + 1):
                if INT32_MIN <= t <= INT32_MAX:
                    xs.append(t)
    xs += [rng.randint(INT32_MIN, INT32_MAX) for _ in range(2000)]
    got = [int(v) for v in rounding_divide_by_pot(np.array(xs), exponent)]
    assert got == [round_half_away(Fraction(x, 1 << exponent)) for x in xs]
    if exponent <= 31:
        assert got == [ref_rdbpot(x, exponent) for x in xs]


def test_rdbpot_rejects_bad_exponent():
    with pytest.raises(ValueError, match="^Exponent must be between 0 and 32, not 33$"):
        rounding_divide_by_pot(5, 33)
    with pytest.raises(ValueError, match="^X must be an int32"):
        rounding_divide_by_pot(1 << 31, 3)


# -- QuantizeMultiplier ----------------------------------------------------------------------

def test_quantize_multiplier_edge_cases():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(-0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.75) == (3 << 29, 0)
    assert quantize_multiplier(-0.75) == (-(3 << 29), 0)
    # q just below 1 rounds to 2**31: the carry halves M0 and bumps the shift.
    assert quantize_multiplier(1 - 2.0 ** -40) == (1 << 30, 1)
    assert quantize_multiplier((1 - 2.0 ** -40) * 2.0 ** -10) == (1 << 30, -9)
    assert quantize_multiplier(1 - 2.0 ** -31) == (INT32_MAX, 0)
    # a tie in the Q31 rounding goes away from zero
    assert quantize_multiplier(0.5 + 2.0 ** -32) == ((1 << 30) + 1, 0)
    assert quantize_multiplier(-(0.5 + 2.0 ** -32)) == (-(1 << 30) - 1, 0)
    assert quantize_multiplier(0.5 + 2.0 ** -33) == (1 << 30, 0)
    # negative q just below -1 rounds to -2**31, which fits: no carry for negatives
    assert quantize_multiplier(-(1 - 2.0 ** -40)) == (INT32_MIN, 0)
    # tiny scales: shift -31 is the last one kept, below it flushes to zero
    assert quantize_multiplier(2.0 ** -32) == (1 << 30, -31)
    assert quantize_multiplier(2.0 ** -33) == (0, 0)
    assert quantize_multiplier(5e-324) == (0, 0)
    # large scales: kept by default, saturated by the single-rounding build
    assert quantize_multiplier(2.0 ** 40) == (1 << 30, 41)
    assert quantize_multiplier(2.0 ** 40, single_rounding=True) == (INT32_MAX, 30)
    assert quantize_multiplier(2.0 ** 29, single_rounding=True) == (1 << 30, 30)
    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError, match="^Scale must be a finite number"):
            quantize_multiplier(bad)


def test_quantize_multiplier_random_matches_exact_rationals():
    rng = random.Random(3)
    scales = [rng.choice([-1, 1]) * 2.0 ** rng.uniform(-40, 40) for _ in range(5000)]
    scales += [1 - 2.0 ** -k for k in range(20, 54)] + [2.0 ** k for k in range(-35, 35)]
    for s in scales:
        m0, sh = quantize_multiplier(s)
        assert (m0, sh) == ref_quantize_multiplier(s), s
        if m0:
            assert INT32_MIN <= m0 <= INT32_MAX and sh >= -31
            assert abs(Fraction(m0) * Fraction(2) ** (sh - 31) - Fraction(s)) <= \
                Fraction(2) ** (sh - 32)
    m0s, shs = quantize_multipliers(scales[:10])
    assert [(int(a), int(b)) for a, b in zip(m0s, shs)] == \
        [quantize_multiplier(s) for s in scales[:10]]


# -- requantize ------------------------------------------------------------------------------

def _rand_cases(rng, n):
    cases = []
    for _ in range(n):
        if rng.random() < 0.3:
            acc, bias = rng.choice(EDGES32), rng.choice(EDGES32)
        else:
            acc = rng.randint(-(1 << rng.randint(0, 31)), 1 << rng.randint(0, 30))
            bias = rng.randint(-5000, 5000)
        if rng.random() < 0.3:
            m0, sh = rng.choice(EDGES32), rng.randint(-32, 31)
        else:
            m0, sh = quantize_multiplier(2.0 ** rng.uniform(-25, 2))
        zp = rng.randint(-256, 255)
        lo, hi = rng.randint(-128, 127), rng.randint(-128, 127)
        if rng.random() < 0.5:
            lo, hi = -128, 127
        cases.append((acc, bias, m0, sh, zp, lo, hi))
    return cases


def test_requantize_matches_reference():
    rng = random.Random(4)
    cases = _rand_cases(rng, 20000)
    cases += [(INT32_MIN, 0, INT32_MIN, s, 0, -128, 127) for s in range(-32, 1)]
    cases += [(-1, 0, INT32_MIN, 31, 0, -128, 127), (INT32_MAX, INT32_MAX, 1 << 30, 0, 0,
                                                      -128, 127)]
    arr = np.array(cases)
    got = requantize(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], 8, True,
                     act_min=arr[:, 5], act_max=arr[:, 6])
    assert [int(g) for g in got] == [ref_requant(*c) for c in cases]
    # INT32_MIN * INT32_MIN saturates to INT32_MAX before the right shift.
    assert requantize(INT32_MIN, 0, INT32_MIN, -24, 0, 8, True) == 127
    assert requantize(INT32_MIN, 0, INT32_MIN, -24, -200, 8, True) == -72
    # acc + bias wraps in int32, as TFLite's int32 add does.
    assert requantize(INT32_MAX, 1, 1 << 30, -24, 0, 8, True) == -64


def test_requantize_negative_ties():
    # M0 = INT32_MAX keeps |x| <= 2**30 unchanged through SRDHM; then x / 2**rs ties.
    for rs in range(1, 20):
        for k in range(-4, 4):
            x = k * (1 << rs) + (1 << (rs - 1))
            assert requantize(x, 0, INT32_MAX, -rs, 0, 16, True) == round_half_away(
                Fraction(x, 1 << rs))
    assert requantize(-3, 0, INT32_MAX, -1, 0, 8, True) == -2
    assert requantize(-1, 0, INT32_MAX, -1, 0, 8, True) == -1


def test_requantize_per_channel():
    rng = random.Random(5)
    scales = [2.0 ** rng.uniform(-14, -6) for _ in range(6)]
    m0, sh = quantize_multipliers(scales)
    zp = np.array([rng.randint(-10, 10) for _ in range(6)])
    acc = np.array([[rng.randint(-(1 << 16), 1 << 16) for _ in range(6)] for _ in range(50)])
    bias = np.array([rng.randint(-1000, 1000) for _ in range(6)])
    broadcast = requantize(acc, bias, m0, sh, zp, 8, True, act="relu")
    ch = np.tile(np.arange(6), 50)
    indexed = requantize(acc.ravel(), np.tile(bias, 50), m0, sh, zp, 8, True, act="relu",
                         channel=ch)
    assert np.array_equal(broadcast.ravel(), indexed)
    for (i, c), v in np.ndenumerate(broadcast):
        assert v == ref_requant(int(acc[i, c]), int(bias[c]), int(m0[c]), int(sh[c]),
                                int(zp[c]), max(-128, int(zp[c])), 127)


def test_activation_ranges():
    assert activation_range("none", 8, True) == (-128, 127)
    assert activation_range("none", 8, False) == (0, 255)
    assert activation_range("relu", 8, True, -5) == (-5, 127)
    assert activation_range("relu", 8, True, -300) == (-128, 127)
    assert activation_range("relu6", 8, False, 10, 0.05) == (10, 130)
    assert activation_range("relu6", 8, True, -128, 6 / 255) == (-128, 127)
    assert activation_range("relu_n1_to_1", 8, True, 0, 1 / 64) == (-64, 64)
    with pytest.raises(ValueError, match="^Activation 'relu6' needs a positive output scale"):
        activation_range("relu6", 8, True, 0)
    with pytest.raises(ValueError, match="^Activation must be one of none, relu, relu6, "
                                         "relu_n1_to_1, not 'gelu'$"):
        activation_range("gelu")
    # crossed bounds: max first, then min, so the upper bound wins
    assert requantize(100, 0, 1 << 30, 1, 0, 8, True, act_min=50, act_max=-50) == -50
    assert requantize([0, 1000], 0, 1 << 30, 0, 3, 8, True, act="relu6", out_scale=0.1) \
        .tolist() == [3, 63]


def test_multiply_by_quantized_multiplier_left_shift_wraps():
    # x * 2**left in int32, as TFLite's `x * (1 << left_shift)`
    assert multiply_by_quantized_multiplier(1 << 30, INT32_MAX, 1) == \
        ref_srdhm(wrap32(1 << 31), INT32_MAX)
    assert multiply_by_quantized_multiplier(3, 1 << 30, 31) == ref_srdhm(INT32_MIN, 1 << 30)


def test_requantize_validation():
    with pytest.raises(ValueError, match="^Shift must be between -32 and 31, not 32$"):
        requantize(1, 0, 1 << 30, 32, 0)
    with pytest.raises(ValueError, match="^Accumulator must be an int32"):
        requantize(1 << 31, 0, 1 << 30, 0, 0)
    with pytest.raises(ValueError, match="^act_max must be between -128 and 127, not 200$"):
        requantize(1, 0, 1 << 30, 0, 0, act_max=200)
    with pytest.raises(ValueError, match="^Output width must be between 2 and 16, not 1$"):
        requantize(1, 0, 1 << 30, 0, 0, out_bits=1)


# -- int_mac ---------------------------------------------------------------------------------

def ref_int_mac(a, b, last, acc_bits, signed):
    out, acc = [], 0
    for x, y, z in zip(a, b, last):
        acc += x * y
        if z:
            v = acc % (1 << acc_bits)
            if signed and v >> (acc_bits - 1):
                v -= 1 << acc_bits
            out.append(v)
            acc = 0
    return out


@pytest.mark.parametrize("a_bits, b_bits, acc_bits, signed", [
    (8, 8, 32, True), (8, 8, 32, False), (3, 5, 9, True), (8, 8, 16, True), (1, 1, 2, False),
    (32, 32, 64, True), (32, 32, 64, False), (16, 8, 63, True), (2, 2, 1, False)])
def test_int_mac_matches_reference(a_bits, b_bits, acc_bits, signed):
    rng = random.Random(a_bits * 100 + acc_bits)
    lo_a, hi_a = (-(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1) if signed else \
        (0, (1 << a_bits) - 1)
    lo_b, hi_b = (-(1 << (b_bits - 1)), (1 << (b_bits - 1)) - 1) if signed else \
        (0, (1 << b_bits) - 1)
    n = 5000
    a = [rng.choice([lo_a, hi_a, rng.randint(lo_a, hi_a)]) for _ in range(n)]
    b = [rng.choice([lo_b, hi_b, rng.randint(lo_b, hi_b)]) for _ in range(n)]
    last = [rng.random() < 0.01 for _ in range(n)]
    got = int_mac(a, b, last, a_bits, b_bits, acc_bits, signed)
    assert [int(v) for v in got] == ref_int_mac(a, b, last, acc_bits, signed)


def test_int_mac_semantics():
    assert int_mac([], [], [], 8, 8, 32, True).tolist() == []
    # items after the last `last` give no result; the accumulator restarts after each last
    assert int_mac([1, 2, 3, 4], [1, 1, 1, 1], [0, 1, 1, 0]).tolist() == [3, 3]
    # -128 * -128 summed twice wraps in a 16-bit accumulator
    assert int_mac([-128, -128], [-128, -128], [0, 1], 8, 8, 16).tolist() == [-32768]
    with pytest.raises(ValueError, match="^Operand A must be between -128 and 127 for 8-bit "
                                         "signed inputs, not 128$"):
        int_mac([128], [1], [1])
    with pytest.raises(ValueError, match="^Operands and last flags must have the same length"):
        int_mac([1, 2], [1], [1])


# -- units: validation and names -------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(acc_bits=0), ValueError, "Accumulator width must be between 2 and 64 when signed, "
                                   "not 0"),
    (dict(acc_bits=12), ValueError, "Accumulator width must be at least a_bits + b_bits = 16 "
                                    "to hold one product, not 12"),
    (dict(a_bits=33), ValueError, "Operand A width must be between 2 and 32 when signed, "
                                  "not 33"),
    (dict(b_bits=1), ValueError, "Operand B width must be between 2 and 32 when signed, "
                                 "not 1"),
    (dict(b_bits=0, signed=False), ValueError, "Operand B width must be between 1 and 32, "
                                               "not 0"),
    (dict(acc_bits=65), ValueError, "Accumulator width must be between 2 and 64 when signed, "
                                    "not 65"),
    (dict(a_bits=8.0), TypeError, "Operand A width must be an integer, not 8.0"),
    (dict(acc_bits="32"), TypeError, "Accumulator width must be an integer, not '32'"),
])
def test_intmac_validation(kwargs, exc, message):
    with pytest.raises(exc) as info:
        IntMac(**kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(acc_bits=33), ValueError, "Accumulator width must be between 2 and 32, not 33"),
    (dict(acc_bits=1), ValueError, "Accumulator width must be between 2 and 32, not 1"),
    (dict(out_bits=17), ValueError, "Output width must be between 2 and 16, not 17"),
    (dict(per_channel=0), ValueError, "Channel count must be between 1 and 256, not 0"),
    (dict(per_channel=257), ValueError, "Channel count must be between 1 and 256, not 257"),
    (dict(per_channel="4"), TypeError, "Channel count must be an integer or None, not '4'"),
    (dict(out_bits=None), TypeError, "Output width must be an integer, not None"),
])
def test_requantize_unit_validation(kwargs, exc, message):
    with pytest.raises(exc) as info:
        Requantize(**kwargs)
    assert str(info.value) == message


def test_module_names():
    assert IntMac().module_name == "imac_s8x8_a32"
    assert IntMac(4, 6, 20, signed=False).module_name == "imac_u4x6_a20"
    assert Requantize().module_name == "requant_a32_s8"
    assert Requantize(24, 8, False, per_channel=16).module_name == "requant_a24_u8_pc16"
    assert IntMac().latency == 2 and Requantize().latency == 4
    assert Requantize(per_channel=6).channel_bits == 3


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "i.v"
    assert main(["generate", "imac", "-o", str(out)]) == 0
    assert "module imac_s8x8_a32" in out.read_text()
    assert main(["generate", "requant", "--per-channel", "4", "--unsigned", "-o",
                 str(tmp_path / "r.v")]) == 0
    assert "module requant_a32_u8_pc4" in (tmp_path / "r.v").read_text()
    assert "[65:0] i__payload" in capsys.readouterr().out


def test_cli_errors(tmp_path, capsys):
    out = tmp_path / "i.v"
    assert main(["generate", "imac", "--acc-bits", "0", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["hwgen: error: Accumulator width must be between 2 and 64 when signed, "
                   "not 0"]
    assert main(["generate", "requant", "--per-channel", "0", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["hwgen: error: Channel count must be between 1 and 256, not 0"]


# -- units in Amaranth's simulator -----------------------------------------------------------

async def _put(ctx, stream, fields):
    for name, value in fields.items():
        ctx.set(getattr(stream.payload, name), value)
    ctx.set(stream.valid, 1)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def _get(ctx, stream):
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


def test_intmac_amaranth_sim():
    dut = IntMac(8, 8, 16)
    rng = random.Random(6)
    a = [rng.randint(-128, 127) for _ in range(60)]
    b = [rng.choice([-128, 127, rng.randint(-128, 127)]) for _ in range(60)]
    last = [k % 7 == 6 or k == 59 for k in range(60)]
    got = []

    async def source(ctx):
        for x, y, z in zip(a, b, last):
            await _put(ctx, dut.i, {"a": x, "b": y, "last": int(z)})

    async def sink(ctx):
        for _ in range(sum(last)):
            for _ in range(rng.randint(0, 3)):  # back-pressure
                await ctx.tick()
            got.append(await _get(ctx, dut.o))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run_until(1e-5)
    assert got == int_mac(a, b, last, 8, 8, 16, True).tolist()


def test_requantize_amaranth_sim():
    dut = Requantize(32, 8, True)
    rng = random.Random(7)
    m0, sh = quantize_multiplier(0.0037)
    items = [(rng.choice(EDGES32), rng.choice([0, INT32_MIN, INT32_MAX, 7])) for _ in range(30)]
    items += [(rng.randint(-(1 << 16), 1 << 16), rng.randint(-100, 100)) for _ in range(30)]
    got = []

    async def source(ctx):
        ctx.set(dut.multiplier, m0)
        ctx.set(dut.shift, sh)
        ctx.set(dut.zero_point, -3)
        ctx.set(dut.act_min, -128)
        ctx.set(dut.act_max, 127)
        for acc, bias in items:
            await _put(ctx, dut.i, {"acc": acc, "bias": bias})

    async def sink(ctx):
        for _ in items:
            if rng.random() < 0.3:
                await ctx.tick()
            got.append(await _get(ctx, dut.o))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run_until(1e-5)
    acc = np.array([i[0] for i in items])
    bias = np.array([i[1] for i in items])
    assert got == requantize(acc, bias, m0, sh, -3, 8, True).tolist()
