"""cocotb tests of :class:`hwgen.units.imac.IntMac` against :func:`hwgen.golden.imac.int_mac`,
bit for bit: the random dot products of :mod:`sim.imac` (what ``hwgen sim imac`` runs), full
throughput and heavy stalls, on three widths.
"""

import random

import cocotb

from sim.imac import TB, random_dot_products, unit_params  # noqa: F401 (a cocotb test)
from sim.params import get_params
from sim.scoreboard import Scoreboard
from sim.streams import reset

MODULE = "rtl_tests.test_imac"


@cocotb.test()
async def full_throughput(dut):
    """No idle, no back-pressure: one MAC per clock, results ``latency`` clocks after the
    last item; single-item dot products give one result per clock."""
    p = get_params()
    sb = Scoreboard(results=0)
    rng = random.Random((p.get("seed") or 1) + 10)
    tb = TB(dut, p, idle=0.0, backpressure=0.0)
    await reset(dut)
    a, b, last = tb.dot_products(rng, 3000, max_len=200)
    (a_min, a_max), (b_min, b_max) = tb.a_range, tb.b_range
    a += [rng.randint(a_min, a_max) for _ in range(300)]
    b += [rng.randint(b_min, b_max) for _ in range(300)]
    last += [True] * 300
    start = tb.snk.cycle
    tb.send(a, b, last)
    await tb.drain()
    cycles = tb.snk.transfers[-1][0] - start
    bad = tb.check(sb)
    assert bad == 0, sb.lines
    assert cycles <= len(a) + tb.latency + 2, f"{len(a)} items took {cycles} cycles"


@cocotb.test()
async def heavy_stalls(dut):
    """Short dot products under heavy back-pressure: results wait on the output while the
    next ones are ready to close."""
    p = get_params()
    sb = Scoreboard(results=0)
    rng = random.Random((p.get("seed") or 1) + 20)
    tb = TB(dut, p, idle=0.1, backpressure=0.85)
    await reset(dut)
    tb.send(*tb.dot_products(rng, 1500, max_len=6))
    await tb.drain()
    bad = tb.check(sb)
    assert bad == 0, sb.lines


# -- pytest ----------------------------------------------------------------------------------

def _run(unit, **extra):
    from sim.runner import run
    res = run(unit, test_module=MODULE, params=dict(unit_params(unit), **extra))
    assert res.passed, (res.failed, res.tests, res.report)
    assert res.report["mismatches"] == 0 and res.report["vectors"] > 0, res.report
    return res


def test_imac_s8x8_a32():
    from hwgen.units.imac import IntMac
    res = _run(IntMac(8, 8, 32, signed=True))
    assert res.tests == 3        # the test of sim.imac and the two above, each once


def test_imac_unsigned_wrapping_accumulator():
    from hwgen.units.imac import IntMac
    _run(IntMac(8, 8, 18, signed=False), idle=0.5, backpressure=0.5)


def test_imac_odd_widths_signed_wrap():
    from hwgen.units.imac import IntMac
    _run(IntMac(3, 5, 9, signed=True), idle=0.1, backpressure=0.7)
