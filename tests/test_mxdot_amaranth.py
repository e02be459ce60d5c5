# amaranth: UnusedElaboratable=no
"""``MxDot`` in Amaranth's simulator against :func:`hwgen.golden.mx_dot`, bit for bit.

Random dot products of 1 to 3 blocks (random scales including 0, 254 and NaN; E4M3/E5M2
NaN/Inf/sNaN elements in some blocks; exact cancellations; deep underflow), per-dot rounding
modes for the dynamic units, random idle cycles on the source and random back-pressure on the
sink. The scales, ``last`` and ``rm`` are garbage on the beats where the unit must ignore them.
The stimulus and expectations come from :mod:`sim.mxdot`, which also drives the generated
Verilog under cocotb (``hwgen sim mxdot``).
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.export import to_verilog
from hwgen.units import MxDot
from sim.mxdot import beats, expected, random_dots, special_dots

def simulate(dut, dots, modes, rng, p_idle, p_stall):
    items = beats(dut.input_layout, dut.lanes, dots, modes, rng)
    got = []

    async def source(ctx):
        for payload, rm in items:
            while rng.random() < p_idle:
                await ctx.tick()
            ctx.set(dut.i.payload, payload)
            if dut.rounding == "dynamic":
                ctx.set(dut.rm, rm)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        for _ in dots:
            while rng.random() < p_stall:
                await ctx.tick()
            ctx.set(dut.o.ready, 1)
            payload, = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            ctx.set(dut.o.ready, 0)
            got.append((int(payload.y), int(payload.flags)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return got


@pytest.mark.parametrize("ea, eb, lanes, rounding, p_idle, p_stall", [
    ("e4m3", "e4m3", 8, "rne", 0.3, 0.3),
    ("e2m1", "e4m3", 16, "dynamic", 0.0, 0.5),
    ("int8", "e5m2", 32, "rtz", 0.4, 0.0),
    ("e5m2", "e5m2", 8, "dynamic", 0.1, 0.2),
    ("e3m2", "e2m3", 32, "rup", 0.2, 0.2),
    ("int8", "int8", 8, "rna", 0.2, 0.3),
])
def test_mxdot_matches_golden(ea, eb, lanes, rounding, p_idle, p_stall):
    rng = np.random.default_rng(lanes + len(ea) * 7 + len(rounding))
    dut = MxDot(ea, b_elem=eb, lanes=lanes, rounding=rounding)
    dots = random_dots(ea, eb, 16, rng)
    if ea == eb == "e5m2":
        dots += special_dots()
    n = len(dots)
    modes = rng.integers(0, 8, n) if rounding == "dynamic" else [
        {"rne": 0, "rtz": 1, "rdn": 2, "rup": 3, "rna": 4}[rounding]] * n
    got = simulate(dut, dots, modes, rng, p_idle, p_stall)
    want = expected(dots, ea, eb, np.asarray(modes))
    bad = [(d, hex(g[0]), hex(w[0]), g[1], w[1]) for d, (g, w) in enumerate(zip(got, want))
           if g != w]
    assert len(got) == n and not bad, bad[:4]
    # The runs reached the interesting results: NaN or Inf, and inexact ones.
    assert any((w[0] & 0x7F800000) == 0x7F800000 for w in want) or ea not in ("e5m2", "e4m3")
    assert any(w[1] & 1 for w in want)


def test_latency_without_stalls():
    """A one-block dot product (four beats of 8 lanes, back to back): its result is valid
    ``latency`` clock edges after the transfer of its final beat, that edge included."""
    dut = MxDot("e2m1", lanes=8)
    seen = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for k in range(dut.beats):
            ctx.set(dut.i.payload, dut.input_layout.const(
                {"a": [2] * 8, "b": [2] * 8, "a_scale": 127, "b_scale": 127, "last": 1}))
            await ctx.tick()                   # a transfer (i.ready is high: no result waits)
            assert not ctx.get(dut.o.valid)
        ctx.set(dut.i.valid, 0)
        for cycle in range(1, 6):
            if ctx.get(dut.o.valid):
                seen.append((cycle, ctx.get(dut.o.payload.y)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    # 32 * 1.0 * 1.0 = 32.0 = 0x42000000, once, `latency` edges after the final transfer.
    assert seen == [(dut.latency, 0x42000000)]


def test_module_names_and_verilog_is_deterministic():
    assert MxDot("e4m3", b_elem="e2m1", lanes=8).module_name == "mxdot_e4m3_e2m1_l8_rne"
    assert MxDot("int8", lanes=32, rounding="dynamic").module_name == "mxdot_int8_l32_dyn"
    name, v1 = to_verilog(MxDot("e2m1", b_elem="int8", lanes=8, rounding="dynamic"))
    _, v2 = to_verilog(MxDot("e2m1", b_elem="int8", lanes=8, rounding="dynamic"))
    assert name == "mxdot_e2m1_int8_l8_dyn" and v1 == v2
    assert f"module {name}(" in v1 and "i__payload" in v1 and "o__payload" in v1


@pytest.mark.parametrize("kwargs, msg", [
    (dict(elem="e4m4"), "MX element format must be one of e4m3, e5m2, e3m2, e2m3, e2m1, "
                        "int8, not 'e4m4'"),
    (dict(elem="e4m3", b_elem="fp16"), "B element format must be one of e4m3, e5m2, e3m2, "
                                       "e2m3, e2m1, int8, not 'fp16'"),
    (dict(lanes=12), "Lanes must be one of 8, 16, 32 (a divisor of the block size 32), "
                     "not 12"),
    (dict(lanes=64), "Lanes must be one of 8, 16, 32 (a divisor of the block size 32), "
                     "not 64"),
    (dict(rounding="even"), "Rounding must be one of rne, rtz, rdn, rup, rna, dynamic, "
                            "not 'even'"),
])
def test_bad_parameters(kwargs, msg):
    with pytest.raises(ValueError) as err:
        MxDot(**kwargs)
    assert str(err.value) == msg


@pytest.mark.parametrize("ea, eb, lanes", [("e4m3", "e4m3", 8), ("e2m1", "int8", 16),
                                           ("e5m2", "e3m2", 32)])
def test_cocotb_packing_matches_the_layout(ea, eb, lanes):
    """The cocotb testbench packs beats in Python (sim.mxdot.beat_words); Amaranth's own
    layout constants of the unit give the same integers."""
    from sim.mxdot import beat_words
    dut = MxDot(ea, b_elem=eb, lanes=lanes)
    dut._MustUse__silence = True       # read for its layout only
    rng = np.random.default_rng(4)
    dots = random_dots(ea, eb, 20, rng)
    modes = list(rng.integers(0, 8, len(dots)))
    want = [(int(c.as_value().value), rm) for c, rm in
            beats(dut.input_layout, lanes, dots, modes, np.random.default_rng(9))]
    assert beat_words(ea, eb, lanes, dots, modes, np.random.default_rng(9)) == want


def test_catalog_help_lists_what_the_unit_accepts():
    from hwgen.catalog import mx
    from hwgen.golden.mx import MX_ELEMENTS
    from hwgen.units.mxdot import MXDOT_LANES
    assert tuple(mx.ELEMENTS) == tuple(MX_ELEMENTS)
    assert tuple(mx.LANES) == tuple(MXDOT_LANES)
