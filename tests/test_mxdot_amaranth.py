# amaranth: UnusedElaboratable=no
"""``MxDot`` in Amaranth's simulator against :func:`hwgen.golden.mx_dot`, bit for bit.

Random dot products of 1 to 3 blocks (random scales including 0, 254 and NaN; E4M3/E5M2
NaN/Inf/sNaN elements in some blocks; exact cancellations; deep underflow), per-dot rounding
modes for the dynamic units, random idle cycles on the source and random back-pressure on the
sink. The scales, ``last`` and ``rm`` are garbage on the beats where the unit must ignore them.
The cocotb test of the generated Verilog comes with the CLI.
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.export import to_verilog
from hwgen.golden import mx_dot, mx_element_decode
from hwgen.units import MxDot

WIDTH = {"e4m3": 8, "e5m2": 8, "e3m2": 6, "e2m3": 6, "e2m1": 4, "int8": 8}


def random_elements(elem, shape, rng, p_special=0.15):
    """Finite codes uniformly; for E4M3/E5M2 a special code in ``p_special`` of the blocks."""
    if elem not in ("e4m3", "e5m2"):
        return rng.integers(0, 1 << WIDTH[elem], shape)
    vals = mx_element_decode(elem, np.arange(256))
    finite = np.flatnonzero(np.isfinite(vals))
    special = np.flatnonzero(~np.isfinite(vals))
    c = finite[rng.integers(0, len(finite), shape)]
    hit = np.nonzero(rng.random(shape[:-1]) < p_special)
    c[hit + (rng.integers(0, shape[-1], len(hit[0])),)] = special[
        rng.integers(0, len(special), len(hit[0]))]
    return c


def random_dots(ea, eb, n, rng):
    """``n`` dot products: (a_scales, a_codes (nb, 32), b_scales, b_codes) each."""
    dots = []
    for d in range(n):
        nb = int(rng.integers(1, 4))
        kind = rng.integers(0, 10, (2, nb))
        scales = np.select([kind < 5, kind < 7, kind < 9],
                           [rng.integers(117, 138, (2, nb)), rng.integers(0, 12, (2, nb)),
                            rng.integers(243, 255, (2, nb))], 255)
        ca = random_elements(ea, (nb, 32), rng)
        cb = random_elements(eb, (nb, 32), rng)
        if d % 5 == 0 and nb > 1:              # exact cancellation of block 0 by block 1
            scales[:, 1] = scales[:, 0]
            cb[1] = cb[0]
            ca[1] = ca[0] ^ 0x80 if ea != "int8" else (-ca[0].astype(np.int8)).astype(np.uint8)
            if ea not in ("int8", "e4m3", "e5m2"):
                ca[1] = ca[0] ^ (1 << (WIDTH[ea] - 1))
        dots.append((scales[0], ca, scales[1], cb))
    return dots


def special_dots():
    """E5M2 x E5M2 IEEE cases random blocks rarely hit: +Inf and -Inf products in one block,
    Inf * 0, signaling and quiet NaNs, +Inf then -Inf in two blocks, Inf then a NaN scale,
    overflow to Inf."""
    one, inf, ninf, snan, qnan, big = 0x3C, 0x7C, 0xFC, 0x7D, 0x7E, 0x7B
    cases = [  # per dot: per block: [(lane, a code, b code), ...], (a scale, b scale)
        [([(0, inf, one), (1, ninf, one)], (127, 127))],
        [([(0, inf, 0)], (127, 127))],
        [([(3, snan, one)], (127, 127))],
        [([(5, one, qnan)], (127, 127))],
        [([(0, inf, one)], (127, 127)), ([(0, one, ninf)], (127, 127))],
        [([(0, inf, one)], (127, 127)), ([(0, one, one)], (255, 127))],
        [([(2, ninf, one)], (127, 127)), ([(0, one, one)], (130, 127))],
        [([(k, big, big) for k in range(32)], (254, 254))],
    ]
    dots = []
    for blocks in cases:
        nb = len(blocks)
        ca, cb = np.zeros((nb, 32), np.int64), np.zeros((nb, 32), np.int64)
        sa, sb = np.zeros(nb, np.int64), np.zeros(nb, np.int64)
        for j, (lanes, (x, y)) in enumerate(blocks):
            sa[j], sb[j] = x, y
            for k, a, b in lanes:
                ca[j, k], cb[j, k] = a, b
        dots.append((sa, ca, sb, cb))
    return dots


def simulate(dut, dots, modes, rng, p_idle, p_stall):
    lanes, beats = dut.lanes, dut.beats
    layout = dut.input_layout
    items = []
    for (sa, ca, sb, cb), mode in zip(dots, modes):
        nb = len(sa)
        for j in range(nb):
            for k in range(beats):
                final = k == beats - 1
                junk = rng.integers(0, 256, 3)
                items.append((layout.const({
                    "a": [int(x) for x in ca[j, k * lanes:(k + 1) * lanes]],
                    "b": [int(x) for x in cb[j, k * lanes:(k + 1) * lanes]],
                    "a_scale": int(sa[j]) if final else int(junk[0]),
                    "b_scale": int(sb[j]) if final else int(junk[1]),
                    "last": int(j == nb - 1) if final else int(junk[2] & 1),
                }), int(mode) if final else int(junk[2] % 8)))
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


def expected(dots, ea, eb, modes):
    want = []
    for (sa, ca, sb, cb), mode in zip(dots, modes):
        y, f = mx_dot((sa, ca.ravel()), (sb, cb.ravel()), ea, eb, rounding=mode)
        want.append((int(y), int(f)))
    return want


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
