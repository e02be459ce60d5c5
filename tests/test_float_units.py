"""Fast checks of the float operators (no Verilog simulator): parameters, names, ports, and a
few hundred vectors per operator in Amaranth's simulator against the golden model."""

import numpy as np
import pytest
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hwgen.formats import PRESETS, parse_format
from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier, FloatRounder
from sim.floatop import build_unit, directed_values, expected, make_vectors, unit_params


# -- parameters ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [FloatMultiplier, FloatAdder, FloatFMA])
def test_bad_parameters(cls):
    with pytest.raises(ValueError, match=r"^Rounding must be one of rne, rtz, rdn, rup, rna, "
                                         r"dynamic, not 'foo'$"):
        cls("e4m3", rounding="foo")
    top = 4 if cls is FloatFMA else 3
    with pytest.raises(ValueError, match=rf"^Latency must be an integer from 0 to {top}, "
                                         r"not -1$"):
        cls("e4m3", latency=-1)
    with pytest.raises(TypeError, match=rf"^Latency must be an integer from 0 to {top}, "
                                        r"not 1.5$"):
        cls("e4m3", latency=1.5)
    with pytest.raises(TypeError, match=r"^Format must be a FloatFormat or a format name, "
                                        r"not 3$"):
        cls(3)
    with pytest.raises(ValueError, match=r"^Output format must be a float format \(eXmY or a "
                                         r"float preset\), not 'int8'$"):
        cls("e4m3", out_fmt="int8")
    with pytest.raises(ValueError, match=r"Exponent width must be between 1 and 11, not 0"):
        cls("e0m3")


def test_bad_subtract():
    with pytest.raises(ValueError, match=r"^Subtract must be False, True or 'dynamic', "
                                         r"not 'yes'$"):
        FloatAdder("e4m3", subtract="yes")


def test_module_names():
    assert _name(FloatMultiplier("e4m3")) == "fmul_e4m3_rne"
    assert _name(FloatMultiplier("e4m3", out_fmt="fp16")) == "fmul_e4m3_fp16_rne"
    assert (_name(FloatMultiplier("e4m3", b_fmt="e5m2", rounding="dynamic", latency=2))
            == "fmul_e4m3_e5m2_e4m3_dyn_l2")
    assert (_name(FloatAdder("bf16", b_fmt="fp32", out_fmt="fp32", rounding="dynamic",
                              latency=2)) == "fadd_bf16_fp32_fp32_dyn_l2")
    assert _name(FloatAdder("fp16", subtract=True, rounding="rtz")) == "fsub_fp16_rtz"
    assert _name(FloatAdder("fp16", subtract="dynamic")) == "faddsub_fp16_rne"
    assert _name(FloatFMA("e5m2_ftz", latency=4)) == "ffma_e5m2_ftz_rne_l4"
    assert (_name(FloatFMA("bf16", c_fmt="fp32", out_fmt="fp32"))
            == "ffma_bf16_bf16_fp32_fp32_rne")


def _ports(comp):
    comp._MustUse__silence = True       # built only to look at its ports
    return {"__".join(map(str, path)): ("in" if member.flow == wiring.In else "out", len(value))
            for path, member, value in comp.signature.flatten(comp)}


def _name(comp):
    comp._MustUse__silence = True
    return comp.module_name


def test_ports():
    assert _ports(FloatMultiplier("e4m3", out_fmt="fp16")) == {
        "a": ("in", 8), "b": ("in", 8), "y": ("out", 16), "flags": ("out", 4)}
    assert _ports(FloatAdder("bf16", b_fmt="fp32", rounding="dynamic", latency=1)) == {
        "a": ("in", 16), "b": ("in", 32), "rm": ("in", 3), "in_valid": ("in", 1),
        "y": ("out", 16), "flags": ("out", 4), "out_valid": ("out", 1)}
    assert _ports(FloatAdder("fp16", subtract="dynamic")) == {
        "a": ("in", 16), "b": ("in", 16), "op": ("in", 1), "y": ("out", 16),
        "flags": ("out", 4)}
    assert _ports(FloatFMA("e2m1", c_fmt="fp16", out_fmt="fp16")) == {
        "a": ("in", 4), "b": ("in", 4), "c": ("in", 16), "y": ("out", 16), "flags": ("out", 4)}


def test_derived_properties():
    u = FloatFMA("bf16", c_fmt="fp32", out_fmt="fp32", rounding="dynamic", latency=3)
    u._MustUse__silence = True
    assert u.latency == 3
    assert u.cuts == ("prod", "raw", "norm")
    assert u.out_fmt == PRESETS["fp32"]
    assert u.input_formats["c"] == PRESETS["fp32"]
    assert unit_params(u)["c_fmt"] == "fp32"
    r = FloatRounder("fp16", sig_width=22, exp_range=(-50, 40), register_normalized=True)
    r._MustUse__silence = True
    assert r.latency == 1


def test_rounder_leading_zeros():
    """``max_lz``: the normalizing shift's reach and the frame it works on."""
    full = FloatRounder("fp16", sig_width=22, exp_range=(-50, 40))
    lz1 = FloatRounder("fp16", sig_width=22, exp_range=(-50, 40), max_lz=1)
    for r in (full, lz1):
        r._MustUse__silence = True
    assert (full.geometry.max_lz, full.geometry.frame_width) == (21, 22)
    # 11 kept bits, guard, second guard, the one bit a 1-bit shift brings up, a jam bit
    assert (lz1.geometry.max_lz, lz1.geometry.frame_width) == (1, 15)
    assert [c for c in full.cut_points if c.startswith("norm")] == [
        "norm1", "norm2", "norm3", "norm4", "norm"]
    assert [c for c in lz1.cut_points if c.startswith("norm")] == ["norm"]
    for bad in (-1, 22, 1.0, "1"):
        with pytest.raises(ValueError, match=r"^Leading zeros must be an integer in 0\.\.21, "):
            FloatRounder("fp16", sig_width=22, exp_range=(-50, 40), max_lz=bad)
    # the multiplier hands the rounder a normalized product
    m = FloatMultiplier("bf16", rounding="dynamic")
    m._MustUse__silence = True
    assert m._rgeom.max_lz == 1


def test_directed_values_cover_specials():
    f = parse_format("fp16")
    vals = set(directed_values(f).tolist())
    assert {0, f.sign_mask, 1, f.inf_bits, f.nan_bits, f.max_bits, 0x3C00} <= vals


# -- a few hundred vectors in Amaranth's simulator --------------------------------------------

def _simulate(p, kind, seed=1, dut=None):
    """``dut`` (default: built from ``p``) against the golden model of ``p``'s formats."""
    dut = build_unit(p) if dut is None else dut
    rng = np.random.default_rng(seed)
    ops, rm, sub = make_vectors(p, kind, rng)
    want_y, want_f = expected(p, ops, rm, sub if p.get("subtract") == "dynamic" else None)
    lat = dut.latency
    flags = dut.has_flags
    if not flags:
        want_f = np.zeros_like(want_f)       # no flags port: the encodings alone
    got = []

    async def tb(ctx):
        n = len(rm)
        i = 0
        while len(got) < n:
            # Every result is due `lat` clocks after its operands: a unit whose out_valid
            # never rises (or rises too rarely) fails here instead of looping forever.
            assert i <= n + lat, (f"{len(got)} of {n} results after {i} clocks "
                                  f"(latency {lat}): out_valid missing")
            if i < n:
                for nm in ops:
                    ctx.set(getattr(dut, nm), int(ops[nm][i]))
                if p.get("rounding") == "dynamic":
                    ctx.set(dut.rm, int(rm[i]))
                if p.get("subtract") == "dynamic":
                    ctx.set(dut.op, int(sub[i]))
            if lat == 0:
                got.append((ctx.get(dut.y), ctx.get(dut.flags) if flags else 0))
                i += 1
                continue
            ctx.set(dut.in_valid, int(i < n))
            await ctx.tick()
            i += 1
            if ctx.get(dut.out_valid):
                got.append((ctx.get(dut.y), ctx.get(dut.flags) if flags else 0))

    sim = Simulator(dut)
    if lat:
        sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    gy = np.array([g[0] for g in got])
    gf = np.array([g[1] for g in got])
    bad = np.nonzero((gy != want_y.astype(np.int64)) | (gf != want_f.astype(np.int64)))[0]
    assert len(bad) == 0, [(
        {nm: hex(int(ops[nm][i])) for nm in ops}, int(rm[i]), hex(int(gy[i])),
        hex(int(want_y[i])), int(gf[i]), int(want_f[i])) for i in bad[:5]]


@pytest.mark.parametrize("p", [
    dict(op="fmul", fmt="e4m3", rounding="dynamic"),
    dict(op="fmul", fmt="fp16", out_fmt="e5m2", rounding="dynamic", latency=2),
    dict(op="fadd", fmt="e5m2", rounding="dynamic", subtract="dynamic"),
    dict(op="fadd", fmt="bf16", b_fmt="fp32", out_fmt="fp32", rounding="rdn", latency=1),
    dict(op="ffma", fmt="e3m2", rounding="dynamic"),
    dict(op="ffma", fmt="fp16", rounding="rup", latency=3),
    # registers only after normalization: the denormalization runs beside the normalization
    dict(op="fmul", fmt="e4m3", rounding="dynamic", cuts=["round"]),
    dict(op="ffma", fmt="e3m2", rounding="dynamic", cuts=["norm", "round"]),
], ids=lambda p: "-".join(str(v) for v in p.values()))
def test_amaranth_sim_against_golden(p):
    _simulate(p, "random:200")


class _StuckMultiplier(wiring.Component):
    """An e4m3 multiplier's ports with latency 1 whose ``out_valid`` never rises."""
    a: wiring.In(8)
    b: wiring.In(8)
    in_valid: wiring.In(1)
    y: wiring.Out(8)
    flags: wiring.Out(4)
    out_valid: wiring.Out(1)
    latency = 1
    has_flags = True

    def elaborate(self, platform):
        from amaranth import Module
        m = Module()
        m.d.sync += self.y.eq(self.a)       # a clocked design (the checker adds a clock)
        return m


def test_amaranth_sim_fails_when_out_valid_never_rises():
    with pytest.raises(AssertionError, match=r"^0 of 20 results after 22 clocks \(latency 1\): "
                                             r"out_valid missing"):
        _simulate(dict(op="fmul", fmt="e4m3", rounding="rne", latency=1), "random:20",
                  dut=_StuckMultiplier())


@pytest.mark.parametrize("p", [
    dict(op="fmul", fmt="bf16", rounding="dynamic"),
    dict(op="fadd", fmt="e5m2_ftz", rounding="rdn", subtract="dynamic", latency=2),
    dict(op="ffma", fmt="e4m3", rounding="dynamic", latency=3),
], ids=lambda p: "-".join(str(v) for v in p.values()))
def test_no_flags(p):
    """``flags=False``: no flags port (nor the rounder's invalid input), ``_noflags`` in the
    name, the same encodings."""
    kw = {k: v for k, v in p.items() if k not in ("op", "fmt")}
    cls = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}[p["op"]]
    dut = cls(p["fmt"], flags=False, **kw)
    assert "flags" not in _ports(cls(p["fmt"], flags=False, **kw))
    assert "_noflags" in dut.module_name and not dut.has_flags
    _simulate(p, "random:200", dut=dut)


def test_bad_flags():
    with pytest.raises(TypeError, match=r"^Flags must be True or False, not 'no'$"):
        FloatMultiplier("e4m3", flags="no")


@pytest.mark.parametrize("signed", [False, True])
def test_greater_than_constant(signed):
    """``greater_than`` (the LUT-tree constant compare) against ``>`` for every 4-bit value
    and constants beyond both ends of the range."""
    from amaranth.hdl import Module, Signal
    from hwgen.units.floatraw import greater_than
    m = Module()
    x = Signal(range(-8, 8) if signed else range(16))
    consts = list(range(-20, 21))
    outs = [Signal(name=f"gt{i}") for i in range(len(consts))]
    m.d.comb += [o.eq(greater_than(x, c)) for o, c in zip(outs, consts)]
    seen = []

    async def tb(ctx):
        for v in (range(-8, 8) if signed else range(16)):
            ctx.set(x, v)
            got = [ctx.get(o) for o in outs]
            assert got == [int(v > c) for c in consts], v
            seen.append(v)
    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert len(seen) == 16
