"""The exact (Kulisch) PE step and its read-out, pipelined or not, in Amaranth's simulator.

The PE's step is checked against exact products written with :class:`fractions.Fraction`
(``tests/fraction_ref.py``, no code shared with the golden model): both datapaths (operands
aligned before one multiplier, e4m3, aligned in the PE or before it as an array does;
significand product then shift, e5m2), every latency.
The pipelined read-out must give, cycle for cycle ``latency`` later, what the combinational one
gives (which the cocotb array tests compare with the golden model).
"""

import random
from fractions import Fraction

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from fraction_ref import NAN, RefFormat
from pe_step_tb import step_errors
from hwgen.arrays.pe import (EXACT_DSP_WIDTH, PEDatapath, ReadOut, acc_shape, align_operand,
                             exact_aligned_width, prealigned, readout_cuts)
from hwgen.formats import parse_format
from hwgen.pespec import parse_pe


def _operands(ref, rng, n):
    """Every special and zero encoding against random others, then random pairs."""
    width = ref.width
    specials = [b for b in range(1 << width)
                if ref.value[b][1] is NAN or not isinstance(ref.value[b][1], Fraction)
                or ref.value[b][1] == 0]
    pairs = [(s, rng.randrange(1 << width)) for s in specials]
    pairs += [(rng.randrange(1 << width), s) for s in specials]
    pairs += [(rng.randrange(1 << width), rng.randrange(1 << width)) for _ in range(n)]
    return pairs


def _expected_step(ref, pe, a, w, acc):
    fixed, nan, pinf, ninf = acc
    (sa, ma), (sw, mw) = ref.value[a], ref.value[w]
    sign = sa ^ sw
    if ma is NAN or mw is NAN or (not isinstance(ma, Fraction) and mw == 0) or \
            (not isinstance(mw, Fraction) and ma == 0):
        return fixed, 1, pinf, ninf
    if not isinstance(ma, Fraction) or not isinstance(mw, Fraction):
        return fixed, nan, pinf | (1 - sign), ninf | sign
    units = ma * mw / Fraction(2) ** pe.exact_lsb
    assert units.denominator == 1        # the Kulisch LSB holds every product exactly
    return fixed + (-1) ** sign * int(units), nan, pinf, ninf


class _AlignedPE(wiring.Component):
    """Encodings in, aligned as an array aligns them where they enter (one aligner per
    operand), into a ``PEDatapath(aligned=True)``: the same ports as the plain PE."""

    def __init__(self, pe, mul_latency):
        self._pe, self._lat = pe, mul_latency
        super().__init__({"a": In(pe.a_fmt.width), "w": In(pe.w_fmt.width),
                          "acc_in": In(acc_shape(pe)), "acc_out": Out(acc_shape(pe))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = PEDatapath(self._pe, mul_latency=self._lat, aligned=True)
        m.d.comb += [pe.a.eq(align_operand(m, self._pe.a_fmt, self.a, "a_al")),
                     pe.w.eq(align_operand(m, self._pe.w_fmt, self.w, "w_al")),
                     pe.acc_in.eq(self.acc_in), self.acc_out.eq(pe.acc_out)]
        return m


@pytest.mark.parametrize("fmt,mul_latency,aligned", [
    ("e4m3", 0, False), ("e4m3", 1, False), ("e4m3", 2, False), ("e4m3", 0, True),
    ("e4m3", 1, True), ("e4m3", 2, True), ("e3m4", 1, True), ("e2m1", 2, True),
    ("e3m4", 1, False), ("e2m1", 2, False), ("fp16", 1, False), ("e5m2", 0, False),
    ("e5m2", 2, False)])
def test_exact_step_adds_the_exact_product(fmt, mul_latency, aligned):
    pe = parse_pe(f"{fmt}:exact")
    ref = RefFormat(parse_format(fmt))
    rng = random.Random(7)
    pairs = _operands(ref, rng, 600)
    lim = 1 << (pe.acc_bits - 3)
    accs = [(rng.randrange(-lim, lim), rng.random() < 0.1, rng.random() < 0.1,
             rng.random() < 0.1) for _ in pairs]
    dut = _AlignedPE(pe, mul_latency) if aligned else PEDatapath(pe, mul_latency=mul_latency)
    errors = step_errors(dut, pairs, accs, mul_latency,
                         lambda k: _expected_step(ref, pe, *pairs[k], accs[k]))
    assert not errors, errors[:5]


def test_which_formats_align_before_the_multiplier():
    assert EXACT_DSP_WIDTH == 18
    assert prealigned("e4m3:exact") and prealigned("e2m1:exact:bf16")
    assert not prealigned("e5m2:exact") and not prealigned("e4m3:fp16:rounded")
    with pytest.raises(ValueError, match=r"^PE e5m2:exact:fp32 does not take aligned "):
        PEDatapath("e5m2:exact", aligned=True)
    assert exact_aligned_width(parse_format("e4m3")) == 18       # 4-bit sig, shifts 0..14
    assert exact_aligned_width(parse_format("e5m2")) == 33
    assert exact_aligned_width(parse_format("e2m1")) == 4


@pytest.mark.parametrize("pe_spec", ["e4m3:exact", "e4m3:exact:fp16", "e2m1:exact:bf16"])
@pytest.mark.parametrize("latency", [1, 2, 3])
def test_pipelined_readout_equals_the_combinational_one(pe_spec, latency):
    pe = parse_pe(pe_spec)
    rng = random.Random(latency)
    accs = []
    for _ in range(400):
        bits = rng.randrange(0, pe.acc_bits)
        fixed = rng.randrange(-(1 << bits), 1 << bits)
        flags = [rng.random() < 0.05 for _ in range(3)]
        accs.append((fixed, *flags))
    m = Module()
    m.submodules.comb = comb = ReadOut(pe)
    m.submodules.pipe = pipe = ReadOut(pe, latency=latency)
    assert pipe.latency == latency and len(readout_cuts(pe, latency)) == latency
    errors = []

    async def tb(ctx):
        outs = []
        for t in range(len(accs) + latency):
            if t < len(accs):
                for ro in (comb, pipe):
                    fixed, nan, pinf, ninf = accs[t]
                    ctx.set(ro.acc.fixed, fixed)
                    ctx.set(ro.acc.nan, nan)
                    ctx.set(ro.acc.pinf, pinf)
                    ctx.set(ro.acc.ninf, ninf)
                outs.append(ctx.get(comb.y))
            if t >= latency and ctx.get(pipe.y) != outs[t - latency]:
                errors.append((accs[t - latency], ctx.get(pipe.y), outs[t - latency]))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert not errors, errors[:5]


def test_readout_latency_is_checked():
    # no register between the sum's magnitude and the shift (docs/arrays.md says why)
    assert [readout_cuts("e4m3:exact", n) for n in range(4)] == [
        (), ("norm3",), ("norm1", "norm4"), ("norm1", "norm4", "round")]
    with pytest.raises(ValueError, match=r"^Adder latency must be between 0 and 3 for "
                                         r"e4m3:exact:fp32, not 4$"):
        ReadOut("e4m3:exact", latency=4)
    with pytest.raises(ValueError, match="A PE pipeline needs"):
        ReadOut("int8", latency=1)


def test_a_target_frequency_plans_the_exact_pipeline():
    from hwgen.arrays.pipeline import plan_pe_pipeline
    from hwgen.arrays.systolic import SystolicArray
    plans = [plan_pe_pipeline("e4m3:exact", f, "ecp5-85f") for f in (20, 50, 60, 75)]
    assert (plans[0].mul_latency, plans[0].add_latency) == (0, 0)
    lat = [(p.mul_latency, p.add_latency) for p in plans]
    assert all(a <= b for x, y in zip(lat, lat[1:]) for a, b in zip(x, y))    # never fewer
    for f, p in zip((20, 50, 60, 75), plans):
        assert p.estimate_mhz >= f
        SystolicArray(2, 2, "e4m3:exact", mul_latency=p.mul_latency,
                      add_latency=p.add_latency)._MustUse__silence = True
    with pytest.raises(ValueError, match=r"^Target of 500 MHz is not reachable for the "
                                         r"(product path|read-out) of e4m3:exact:fp32 PEs"):
        plan_pe_pipeline("e4m3:exact", 500, "ecp5-85f")
    # output-stationary exact PEs pipeline as weight-stationary ones; rounded ones do not
    assert plan_pe_pipeline("e4m3:exact", 50, "ecp5-85f", dataflow="os") == \
        plan_pe_pipeline("e4m3:exact", 50, "ecp5-85f")
    with pytest.raises(ValueError, match="has no PE pipeline"):
        plan_pe_pipeline("e4m3:fp16:rounded", 50, "ecp5-85f", dataflow="os")


def test_the_planner_counts_the_routes_to_the_dsp_block(monkeypatch):
    """On an ECP5 the product path of an aligned exact PE includes the array's routes to and
    from its DSP block (``ARRAY_DSP_ROUTE_NS``): without them the model would leave the
    product unregistered at 60 MHz, with them it takes the product register (the DSP's own
    there); a low target still takes none."""
    import hwgen.arrays.pipeline as pipeline
    planned = pipeline.plan_pe_pipeline("e4m3:exact", 60, "ecp5-85f")
    assert planned.mul_latency >= 1
    assert pipeline.plan_pe_pipeline("e4m3:exact", 20, "ecp5-85f").mul_latency == 0
    monkeypatch.setattr(pipeline, "ARRAY_DSP_ROUTE_NS", {})
    assert pipeline.plan_pe_pipeline("e4m3:exact", 60, "ecp5-85f").mul_latency == 0
