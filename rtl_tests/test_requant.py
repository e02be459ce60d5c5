"""cocotb tests of :class:`hwgen.units.requant.Requantize` against
:func:`hwgen.golden.requant.requantize`, bit for bit: the random stream of :mod:`sim.requant`
(what ``hwgen sim requant`` runs), edge cases, full throughput and, per channel, register-file
rewrites; on three configurations.
"""

import cocotb
from cocotb.triggers import RisingEdge

from hwgen.golden.requant import INT32_MAX, INT32_MIN, quantize_multiplier
from sim.params import get_params
from sim.requant import (TB, rand_acc, rand_bias, rand_clamp, rand_scale_pair, rand_zp,
                         random_items, random_stream, unit_params)  # noqa: F401 (a cocotb test)
from sim.scoreboard import Scoreboard

MODULE = "rtl_tests.test_requant"


async def _batches(tb, batches):
    """Each batch: a held configuration ``(m0, sh, zp, lo, hi)`` and its items."""
    for (m0, sh, zp, lo, hi), items in batches:
        await RisingEdge(tb.dut.clk)
        if tb.c.per_channel is None:
            tb.set_tensor_config(m0=m0, sh=sh)
        else:
            tb.write_reg(0, m0, sh)
            await tb.writes_done()
        tb.set_tensor_config(zp=zp, lo=lo, hi=hi)
        await RisingEdge(tb.dut.clk)
        tb.send([(a, b, 0) for a, b in items])
        await tb.drain()


@cocotb.test()
async def edge_cases(dut):
    """INT32_MIN x INT32_MIN saturation, ties of both roundings (negative ones included),
    int32 wrap of the bias add and the left shift, every shift, zero points, crossed clamps."""
    p = get_params()
    sb = Scoreboard()
    tb = TB(dut, p, seed=(p.get("seed") or 1) + 10)
    await tb.start()
    rng, c, fit = tb.rng, tb.c, tb.c.fit
    full = (0, c.qmin, c.qmax)
    batches = []
    # Saturation: x == INT32_MIN reached directly, through the bias add or the left shift.
    sat_items = [(fit(INT32_MIN), 0), (fit(INT32_MIN // 2), fit(INT32_MIN // 2)),
                 (c.acc_min, 0), (-1, 0)]
    for sh in (0, -1, -7, -31, -32, 31, 32 - c.acc_bits):
        batches.append(((INT32_MIN, sh) + full, sat_items))
    # RoundingDivideByPOT ties: y == x when M0 = INT32_MAX and |x| <= 2**30.
    for rs in range(1, 33):
        items = []
        for k in list(range(-6, 6)) + [rng.randint(-200, 200) for _ in range(8)]:
            x = k * (1 << rs) + (1 << (rs - 1))
            for v in (x, -x):
                if -(1 << 30) < v <= (1 << 30) and c.acc_min <= v <= c.acc_max:
                    items.append((v, 0))
        if items:
            batches.append(((INT32_MAX, -rs, rng.randint(-5, 5), c.qmin, c.qmax), items))
    # SRDHM ties: M0 = 2**30 halves x; odd x are ties (they round up, toward +inf).
    batches.append((((1 << 30), 0) + full,
                    [(v, 0) for v in range(-41, 42, 2)] + [(fit(-(1 << 29) - 1), 0)]))
    batches.append(((-(1 << 30), 0) + full, [(v, 0) for v in range(-41, 42, 2)]))
    # int32 wrap of acc + bias and of the left shift; every shift with extreme operands.
    lo_, hi_ = c.acc_min, c.acc_max
    ext = [(hi_, hi_), (lo_, lo_), (hi_, 1), (lo_, -1), (0, 0), (1, 0), (-1, 0), (hi_, lo_)]
    for sh in range(-32, 32):
        for m0 in (INT32_MAX, INT32_MIN, 1 << 30, 1, -1):
            batches.append(((m0, sh) + full, ext))
    # Zero points and clamps, realistic scales.
    for _ in range(40):
        m0, sh = quantize_multiplier(2.0 ** rng.uniform(-16, -4))
        zp = rand_zp(rng, c)
        lo, hi = rand_clamp(rng, c, zp)
        items = [(fit(rng.randint(-(1 << 14), 1 << 14)), fit(rng.randint(-500, 500)))
                 for _ in range(30)]
        batches.append(((m0, sh, zp, lo, hi), items))
    await _batches(tb, batches)
    vectors, bad = tb.check(sb)
    assert vectors == tb.src.sent
    assert bad == 0, sb.lines


@cocotb.test()
async def full_throughput(dut):
    """No idle cycles, no back-pressure: one result per clock after ``latency`` clocks."""
    p = get_params()
    sb = Scoreboard()
    tb = TB(dut, p, idle=0.0, backpressure=0.0, seed=(p.get("seed") or 1) + 20)
    await tb.start()
    n = 500
    m0, sh = quantize_multiplier(0.01)
    if tb.c.per_channel is None:
        tb.set_tensor_config(m0=m0, sh=sh)
    for k in range(tb.c.per_channel or 0):
        tb.write_reg(k, m0, sh + k % 3)
    await tb.writes_done()
    await RisingEdge(dut.clk)
    start = tb.snk.cycle
    tb.send(random_items(tb.rng, tb.c, n))
    await tb.drain()
    cycles = tb.snk.transfers[-1][0] - start
    vectors, bad = tb.check(sb)
    assert bad == 0, sb.lines
    assert cycles <= n + tb.c.latency + 3, f"{n} results took {cycles} cycles"


@cocotb.test(skip=get_params().get("per_channel") is None)
async def register_file_writes(dut):
    """Per channel: every entry written, items spread over every index (out-of-range ones
    read zeros), the register file rewritten between and during batches."""
    p = get_params()
    sb = Scoreboard()
    tb = TB(dut, p, seed=(p.get("seed") or 1) + 30)
    await tb.start()
    rng, c = tb.rng, tb.c
    for rnd in range(4):
        for k in range(1 << c.ch_bits):
            tb.write_reg(k, *rand_scale_pair(rng))
        await tb.writes_done()
        tb.random_config = rnd % 2 == 1  # rewrites while items are in flight
        tb.send([(rand_acc(rng, c), rand_bias(rng, c), k % (1 << c.ch_bits))
                 for k in range(400)])
        await tb.drain()
        tb.random_config = False
    vectors, bad = tb.check(sb)
    assert bad == 0, sb.lines


# -- pytest ----------------------------------------------------------------------------------

def _run(unit, **extra):
    from sim.runner import run
    res = run(unit, test_module=MODULE, params=dict(unit_params(unit), **extra))
    assert res.passed, (res.failed, res.tests, res.report)
    assert res.report["mismatches"] == 0 and res.report["vectors"] > 0, res.report
    return res


def test_requant_int8_per_tensor():
    from hwgen.units.requant import Requantize
    _run(Requantize(acc_bits=32, out_bits=8, signed_out=True))


def test_requant_uint8_per_channel():
    from hwgen.units.requant import Requantize
    res = _run(Requantize(acc_bits=32, out_bits=8, signed_out=False, per_channel=6),
               idle=0.5, backpressure=0.5)
    assert res.tests == 4        # sim.requant's test and the three above, each once


def test_requant_narrow_acc_int4():
    from hwgen.units.requant import Requantize
    _run(Requantize(acc_bits=20, out_bits=4, signed_out=True), idle=0.1, backpressure=0.6)
