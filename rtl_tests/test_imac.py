"""cocotb testbench of :class:`hwgen.units.imac.IntMac` against
:func:`hwgen.golden.imac.int_mac`, bit for bit.

Random dot products of length 1..1000 (and runs of length-1 ones, which make a result wait
on ``o`` while the next ``last`` arrives) stream in with random idle cycles while the output
sees random back-pressure. Every result is counted exactly once: as many results as ``last``
items were sent, and nothing more comes out afterwards.
"""

import random
import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hwgen.golden.imac import int_mac
from sim.params import get_params, write_report
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

P = get_params()
CLI = P.get("mode") == "cli"
A_BITS = P.get("a_bits", 8)
B_BITS = P.get("b_bits", 8)
ACC_BITS = P.get("acc_bits", 32)
SIGNED = P.get("signed", True)
IDLE = P.get("idle", 0.3)
BACKPRESSURE = P.get("backpressure", 0.3)
SEED = P.get("seed") or 1
LATENCY = P.get("latency", 2)
LAYOUT = [("a", A_BITS, SIGNED), ("b", B_BITS, SIGNED), ("last", 1)]

_totals = {"vectors": 0, "results": 0, "mismatches": 0, "first_mismatches": [], "seconds": 0.0}


def _range(bits):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if SIGNED else (0, (1 << bits) - 1)


A_MIN, A_MAX = _range(A_BITS)
B_MIN, B_MAX = _range(B_BITS)


def rand_operand(rng, lo, hi, extreme_prob):
    if rng.random() < extreme_prob:
        return rng.choice([lo, hi, 0, 1 if hi >= 1 else 0, lo + 1 if lo < hi else lo])
    return rng.randint(lo, hi)


def dot_products(rng, n_items, max_len=1000):
    """Lists a, b, last: random dot products of length 1..max_len (about n_items items)."""
    a, b, last = [], [], []
    while len(a) < n_items:
        r = rng.random()
        if r < 0.25:
            length = rng.randint(1, 3)  # back-to-back results
        else:
            length = rng.randint(1, max_len)
        length = max(1, min(length, n_items - len(a)))
        # Some dot products use only extremes: the accumulator must wrap, not saturate.
        extreme = 0.9 if rng.random() < 0.2 else 0.05
        for k in range(length):
            a.append(rand_operand(rng, A_MIN, A_MAX, extreme))
            b.append(rand_operand(rng, B_MIN, B_MAX, extreme))
            last.append(k == length - 1)
    return a, b, last


class TB:
    def __init__(self, dut, *, idle=IDLE, backpressure=BACKPRESSURE, seed=SEED):
        self.dut = dut
        start_clock(dut)
        self.src = StreamDriver(dut, "i", idle_prob=idle, seed=seed + 1)
        self.snk = StreamMonitor(dut, "o", backpressure=backpressure, seed=seed + 2)
        self.a, self.b, self.last = [], [], []

    def send(self, a, b, last):
        for x, y, z in zip(a, b, last):
            self.src.append(pack_struct({"a": x, "b": y, "last": int(z)}, LAYOUT))
        self.a += a
        self.b += b
        self.last += last

    async def drain(self):
        # The driver's queue drains at one item per clock plus idle and stall clocks; a
        # generous bound turns a hung handshake into a reported failure, not a hang.
        for _ in range(50 * (len(self.a) - self.src.sent) + 20_000):
            if self.src.idle():
                break
            await RisingEdge(self.dut.clk)
        try:
            await self.snk.wait_for(sum(self.last), timeout_cycles=20_000)
        except TimeoutError:
            pass  # missing results are counted as mismatches by check()
        for _ in range(LATENCY + 10):  # nothing more may come out
            await RisingEdge(self.dut.clk)

    def check(self, t0):
        got = [to_signed(x, ACC_BITS) if SIGNED else x for x in self.snk.items]
        exp = [int(v) for v in int_mac(self.a, self.b, self.last, A_BITS, B_BITS, ACC_BITS,
                                       SIGNED)]
        lines = []
        bad = 0
        ends = np.flatnonzero(self.last)
        for k in range(min(len(got), len(exp))):
            if got[k] != exp[k]:
                bad += 1
                if len(lines) < 10:
                    start = ends[k - 1] + 1 if k else 0
                    lines.append(f"result #{k} (items {start}..{ends[k]}, length "
                                 f"{ends[k] - start + 1}): got {got[k]}, expected {exp[k]}")
        if len(got) != len(exp):
            bad += abs(len(got) - len(exp))
            lines.append(f"{len(got)} results for {len(exp)} dot products")
        _totals["vectors"] += len(self.a)
        _totals["results"] += len(exp)
        _totals["mismatches"] += bad
        _totals["first_mismatches"] = (_totals["first_mismatches"] + lines)[:20]
        _totals["seconds"] += time.monotonic() - t0
        write_report(dict(_totals))
        return bad


@cocotb.test()
async def random_dot_products(dut):
    """Random dot products of length 1..1000, random idle cycles and back-pressure."""
    t0 = time.monotonic()
    rng = random.Random(SEED)
    tb = TB(dut)
    await reset(dut)
    n = P.get("vectors") or (12000 if not CLI else 50000)
    tb.send(*dot_products(rng, n))
    await tb.drain()
    bad = tb.check(t0)
    assert tb.src.sent == len(tb.a)
    assert bad == 0, _totals["first_mismatches"]


@cocotb.test(skip=CLI)
async def full_throughput(dut):
    """No idle, no back-pressure: one MAC per clock, results ``latency`` clocks after the
    last item; single-item dot products give one result per clock."""
    t0 = time.monotonic()
    rng = random.Random(SEED + 10)
    tb = TB(dut, idle=0.0, backpressure=0.0)
    await reset(dut)
    a, b, last = dot_products(rng, 3000, max_len=200)
    a += [rng.randint(A_MIN, A_MAX) for _ in range(300)]
    b += [rng.randint(B_MIN, B_MAX) for _ in range(300)]
    last += [True] * 300
    start = tb.snk.cycle
    tb.send(a, b, last)
    await tb.drain()
    cycles = tb.snk.transfers[-1][0] - start
    bad = tb.check(t0)
    assert bad == 0, _totals["first_mismatches"]
    assert cycles <= len(a) + LATENCY + 2, f"{len(a)} items took {cycles} cycles"


@cocotb.test(skip=CLI)
async def heavy_stalls(dut):
    """Short dot products under heavy back-pressure: results wait on the output while the
    next ones are ready to close."""
    t0 = time.monotonic()
    rng = random.Random(SEED + 20)
    tb = TB(dut, idle=0.1, backpressure=0.85)
    await reset(dut)
    a, b, last = dot_products(rng, 1500, max_len=6)
    tb.send(a, b, last)
    await tb.drain()
    bad = tb.check(t0)
    assert bad == 0, _totals["first_mismatches"]


# -- pytest ----------------------------------------------------------------------------------

def _run(unit, **extra):
    from sim.runner import run
    params = dict(a_bits=unit.a_bits, b_bits=unit.b_bits, acc_bits=unit.acc_bits,
                  signed=unit.signed, latency=unit.latency, **extra)
    res = run(unit, test_module="rtl_tests.test_imac", params=params)
    assert res.passed, (res.failed, res.tests, res.report)
    assert res.report["mismatches"] == 0 and res.report["vectors"] > 0, res.report
    return res


def test_imac_s8x8_a32():
    from hwgen.units.imac import IntMac
    _run(IntMac(8, 8, 32, signed=True))


def test_imac_unsigned_wrapping_accumulator():
    from hwgen.units.imac import IntMac
    _run(IntMac(8, 8, 18, signed=False), idle=0.5, backpressure=0.5)


def test_imac_odd_widths_signed_wrap():
    from hwgen.units.imac import IntMac
    _run(IntMac(3, 5, 9, signed=True), idle=0.1, backpressure=0.7)
