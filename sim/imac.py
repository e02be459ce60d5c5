"""cocotb testbench of :class:`hwgen.units.imac.IntMac` against
:func:`hwgen.golden.imac.int_mac`, bit for bit (``hwgen sim imac``; ``rtl_tests/test_imac.py``
adds full-throughput and heavy-stall tests on the same :class:`TB`).

Random dot products of length 1..1000 (and runs of length-1 ones, which make a result wait
on ``o`` while the next ``last`` arrives) stream in with random idle cycles while the output
sees random back-pressure. Every result is counted exactly once: as many results as ``last``
items were sent, and nothing more comes out afterwards.

Parameters: :func:`unit_params` of the unit, plus ``idle``, ``backpressure``, ``seed`` and,
from ``hwgen sim``, ``mode``/``vectors``.
"""

import random

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from hwgen.golden.imac import int_mac

from .params import get_params
from .scoreboard import Scoreboard
from .streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

__all__ = ["TB", "random_dot_products", "unit_params"]


def unit_params(unit):
    """The parameters of :class:`hwgen.units.imac.IntMac` ``unit`` the testbench needs."""
    return dict(a_bits=unit.a_bits, b_bits=unit.b_bits, acc_bits=unit.acc_bits,
                signed=unit.signed, latency=unit.latency)


def _range(bits, signed):
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def rand_operand(rng, lo, hi, extreme_prob):
    if rng.random() < extreme_prob:
        return rng.choice([lo, hi, 0, 1 if hi >= 1 else 0, lo + 1 if lo < hi else lo])
    return rng.randint(lo, hi)


class TB:
    """Clock, source on ``i``, sink on ``o``, and the items sent so far.

    Parameters
    ----------
    dut : cocotb handle
    p : dict
        The run's parameters (:func:`unit_params` plus ``idle``, ``backpressure``, ``seed``).
    idle, backpressure, seed : optional
        Override the parameters' values for this test.
    """

    def __init__(self, dut, p, *, idle=None, backpressure=None, seed=None):
        self.dut = dut
        self.a_bits, self.b_bits = p.get("a_bits", 8), p.get("b_bits", 8)
        self.acc_bits, self.signed = p.get("acc_bits", 32), p.get("signed", True)
        self.latency = p.get("latency", 2)
        self.layout = [("a", self.a_bits, self.signed), ("b", self.b_bits, self.signed),
                       ("last", 1)]
        self.a_range = _range(self.a_bits, self.signed)
        self.b_range = _range(self.b_bits, self.signed)
        idle = p.get("idle", 0.3) if idle is None else idle
        backpressure = p.get("backpressure", 0.3) if backpressure is None else backpressure
        seed = (p.get("seed") or 1) if seed is None else seed
        start_clock(dut)
        self.src = StreamDriver(dut, "i", idle_prob=idle, seed=seed + 1)
        self.snk = StreamMonitor(dut, "o", backpressure=backpressure, seed=seed + 2)
        self.a, self.b, self.last = [], [], []

    def dot_products(self, rng, n_items, max_len=1000):
        """Lists a, b, last: random dot products of length 1..max_len (about n_items items)."""
        (a_min, a_max), (b_min, b_max) = self.a_range, self.b_range
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
                a.append(rand_operand(rng, a_min, a_max, extreme))
                b.append(rand_operand(rng, b_min, b_max, extreme))
                last.append(k == length - 1)
        return a, b, last

    def send(self, a, b, last):
        for x, y, z in zip(a, b, last):
            self.src.append(pack_struct({"a": x, "b": y, "last": int(z)}, self.layout))
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
        for _ in range(self.latency + 10):  # nothing more may come out
            await RisingEdge(self.dut.clk)

    def check(self, sb):
        """Compare every result with the golden model, add the counts to the
        :class:`~sim.scoreboard.Scoreboard` ``sb`` and write the report; return the
        mismatches."""
        got = [to_signed(x, self.acc_bits) if self.signed else x for x in self.snk.items]
        exp = [int(v) for v in int_mac(self.a, self.b, self.last, self.a_bits, self.b_bits,
                                       self.acc_bits, self.signed)]
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
        sb.add(vectors=len(self.a), results=len(exp), mismatches=bad, first_mismatches=lines)
        sb.finish()
        return bad


@cocotb.test()
async def random_dot_products(dut):
    """Random dot products of length 1..1000, random idle cycles and back-pressure."""
    p = get_params()
    sb = Scoreboard(results=0)
    rng = random.Random(p.get("seed") or 1)
    tb = TB(dut, p)
    await reset(dut)
    n = p.get("vectors") or (12000 if p.get("mode") != "cli" else 50000)
    tb.send(*tb.dot_products(rng, n))
    await tb.drain()
    bad = tb.check(sb)
    assert tb.src.sent == len(tb.a)
    assert bad == 0, sb.lines
