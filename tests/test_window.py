"""Windowed fixed-point accumulation (``F:window[L..M][:OUT]``): the spec, the golden model
against :class:`fractions.Fraction` (``tests/fraction_ref.py``, no code shared with it), and
one PE step of the hardware against the golden model's terms."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from fraction_ref import NAN, RefFormat
from pe_step_tb import step_errors
from hwgen.arrays.pe import PEDatapath, ReadOut
from hwgen.formats import parse_format
from hwgen.golden.matmul import matmul
from hwgen.golden.rounding import encode
from hwgen.golden.window import window_mac, window_terms
from hwgen.pespec import parse_pe


def test_window_spec():
    pe = parse_pe("bf16:window:fp32")
    assert (pe.spec, pe.window, pe.acc_bits, pe.fixed_lsb) == \
        ("bf16:window-32..16:fp32", (-32, 16), 49, -32)
    assert parse_pe("e5m2:window-20..8").spec == "e5m2:window-20..8:fp32"
    for bad in ("bf16:window8..8", "bf16:window-70..0", "bf16:window1", "bf16:windowx:fp32"):
        with pytest.raises(ValueError, match=r"^Invalid PE spec .*F:window\[L\.\.M\]\[:OUT\]"):
            parse_pe(bad)


def _expected(refs, out_ref, lsb, msb, a_row, b_col):
    """One dot product by the definition, with Fractions."""
    ra, rb = refs
    unit = Fraction(2) ** lsb
    lo, hi = -(1 << (msb - lsb)), (1 << (msb - lsb)) - 1
    acc, nan, pinf, ninf = 0, False, False, False
    for a, b in zip(a_row, b_col):
        (sa, ma), (sb, mb) = ra.value[a], rb.value[b]
        sign = sa ^ sb
        if ma is NAN or mb is NAN or ra.snan[a] or rb.snan[b] or \
                (ma == math.inf and mb == 0) or (mb == math.inf and ma == 0):
            nan = True
            continue
        if ma == math.inf or mb == math.inf:
            pinf, ninf = pinf or not sign, ninf or bool(sign)
            continue
        t = min(math.floor(ma * mb / unit), hi)
        acc = min(max(acc + (-t if sign else t), lo), hi)
    if nan or (pinf and ninf):
        return "nan"
    if pinf or ninf:
        return out_ref.round(-math.inf if ninf else math.inf)[0]
    return out_ref.round(Fraction(acc) * unit, "rne", neg=False if acc == 0 else None)[0]


@pytest.mark.parametrize("spec,k", [("bf16:window-24..8:bf16", 6), ("e5m2:window-20..8:fp16", 9),
                                    ("fp16:window-30..10:fp16", 5), ("e4m3:window-8..4:bf16", 7)])
def test_golden_window_against_fractions(spec, k):
    pe = parse_pe(spec)
    ra = RefFormat(pe.a_fmt)
    out_ref = RefFormat(pe.out_fmt)
    rng = random.Random(11)
    width = pe.a_fmt.width
    lsb, msb = pe.window
    # mostly values near 1 (the window's business), some anything (specials, huge, tiny)
    ones = [b for b in range(1 << width) if isinstance(ra.value[b][1], Fraction)
            and Fraction(1, 64) <= ra.value[b][1] <= 64]
    rows = []
    for _ in range(300):
        pick = [rng.choice(ones) if rng.random() < 0.85 else rng.randrange(1 << width)
                for _ in range(2 * k)]
        rows.append((pick[:k], pick[k:]))
    a = np.array([r[0] for r in rows], dtype=np.uint64)
    b = np.array([r[1] for r in rows], dtype=np.uint64)
    got, _ = window_mac(a, b, pe)
    bad = []
    for i, (ar, br) in enumerate(rows):
        want = _expected((ra, ra), out_ref, lsb, msb, ar, br)
        g = int(got[i])
        if want == "nan":
            if not out_ref.is_nan(g):
                bad.append((ar, br, g, "nan"))
        elif g != want:
            bad.append((ar, br, g, want))
    assert not bad, bad[:3]


def test_saturation_and_truncation_are_what_the_grammar_says():
    pe = parse_pe("bf16:window-4..4:fp32")

    def e(v):
        return int(encode(parse_format("bf16"), np.array([v]))[0])
    # 0.03125 = 2**-5 is below the LSB 2**-4: truncated to nothing; 0.09375 → 0.0625
    t, *_ = window_terms(np.array([e(0.03125), e(0.09375), e(100.0)], dtype=np.uint64),
                         np.array([e(1.0)] * 3, dtype=np.uint64), "bf16", "bf16", -4, 4)
    assert list(t) == [0, 1, 255]              # 100 capped at 2**4 - 2**-4 (255 units)
    # 15 + 15 saturates at 16 - 1/16, then -1 brings it to 15 - 1/16
    got, _ = window_mac(np.array([[e(15.0), e(15.0), e(-1.0)]], dtype=np.uint64),
                        np.array([[e(1.0)] * 3], dtype=np.uint64), pe)
    assert int(got[0]) == int(encode(parse_format("fp32"), np.array([15 - 1 / 16]))[0])


@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_matmul_adds_in_natural_order(dataflow):
    pe = parse_pe("bf16:window-8..6:bf16")
    rng = np.random.default_rng(3)
    A = encode(pe.a_fmt, rng.normal(0, 8, (5, 11)))
    B = encode(pe.w_fmt, rng.normal(0, 8, (11, 3)))
    got = matmul(A, B, pe, dataflow, rows=4, cols=2)
    a3 = np.broadcast_to(A[:, None, :], (5, 3, 11))
    b3 = np.broadcast_to(B.T[None, :, :], (5, 3, 11))
    assert np.array_equal(got, window_mac(a3, b3, pe)[0])


@pytest.mark.parametrize("spec,mul_latency", [("bf16:window-24..8:bf16", 0),
                                              ("bf16:window-24..8:bf16", 2),
                                              ("e5m2:window-20..8:fp16", 1)])
def test_pe_step_against_the_golden_terms(spec, mul_latency):
    pe = parse_pe(spec)
    rng = random.Random(5)
    lsb, msb = pe.window
    lo, hi = -(1 << (msb - lsb)), (1 << (msb - lsb)) - 1
    width = pe.a_fmt.width
    pairs = [(rng.randrange(1 << width), rng.randrange(1 << width)) for _ in range(500)]
    accs = [rng.randrange(lo, hi + 1) if rng.random() < 0.7 else rng.choice((lo, hi))
            for _ in pairs]
    terms, nan, inf, sign = window_terms(np.array([p[0] for p in pairs], dtype=np.uint64),
                                         np.array([p[1] for p in pairs], dtype=np.uint64),
                                         pe.a_fmt, pe.w_fmt, lsb, msb)
    dut = PEDatapath(pe, mul_latency=mul_latency)
    errors = step_errors(dut, pairs, [(acc, 0, 0, 0) for acc in accs], mul_latency,
                         lambda k: (min(max(accs[k] + int(terms[k]), lo), hi), nan[k],
                                    inf[k] & ~sign[k], inf[k] & sign[k]))
    assert not errors, errors[:5]


def test_readout_rounds_the_window_once():
    pe = parse_pe("bf16:window-24..8:bf16")
    from hwgen.golden.window import window_readout
    rng = random.Random(2)
    lsb, msb = pe.window
    accs = [rng.randrange(-(1 << (msb - lsb)), 1 << (msb - lsb)) for _ in range(300)]
    want, _ = window_readout(np.array(accs, dtype=object), np.zeros(300, bool),
                             np.zeros(300, bool), np.zeros(300, bool), lsb, pe.out_fmt)
    dut = ReadOut(pe)
    errors = []

    async def tb(ctx):
        for acc, w in zip(accs, want):
            ctx.set(dut.acc.fixed, acc)
            await ctx.delay(1e-6)
            if ctx.get(dut.y) != int(w):
                errors.append((acc, ctx.get(dut.y), int(w)))

    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()
    assert not errors, errors[:5]
