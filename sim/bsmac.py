# amaranth: UnusedElaboratable=no
"""cocotb test of :class:`hwgen.units.bsmac.BitSerialMac` against
:func:`hwgen.golden.bsmac.bitserial_dot`, bit for bit (``hwgen sim bsmac``;
``rtl_tests/test_bsmac.py`` adds the throughput test on the same :class:`TB`).

The precision (``bits``) changes at random between operations (including the out-of-range
codes 0 and ``weight_bits + 1``, which the unit clamps), groups have random lengths, the source
idles at random and the sink applies random back-pressure; every result must arrive exactly
once and in order.

Parameters: :func:`unit_params` of the unit, plus ``n`` (operations), ``idle``,
``backpressure``, ``seed`` and, from ``hwgen sim``, ``mode``/``vectors``.
"""

import time

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from hwgen.golden.bsmac import accumulate_groups, bitserial_dot, clamp_bits

from .params import get_params, write_report
from .streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

__all__ = ["TB", "run_random", "build_unit", "unit_params"]

_KEYS = ("lanes", "weight_bits", "act_bits", "signed", "acc_bits")


def unit_params(unit):
    """The parameters of :class:`hwgen.units.bsmac.BitSerialMac` ``unit`` (they rebuild it)."""
    return {k: getattr(unit, k) for k in _KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.bsmac.BitSerialMac` of the parameters ``p``."""
    from hwgen.units.bsmac import BitSerialMac
    return BitSerialMac(**{k: p[k] for k in _KEYS if p.get(k) is not None})


class TB:
    """Clock, reset, source, sink and the unit's parameters."""

    def __init__(self, dut, p, *, idle, backpressure, seed):
        self.dut = dut
        self.unit = build_unit(p)
        start_clock(dut)
        self.src = StreamDriver(dut, "i", idle_prob=idle, seed=seed)
        self.snk = StreamMonitor(dut, "o", backpressure=backpressure, seed=seed + 1)

    def random_ops(self, rng, n, p_last=0.5):
        u = self.unit
        K, WB, AB = u.lanes, u.weight_bits, u.act_bits
        if u.signed:
            w = rng.integers(-(1 << (WB - 1)), 1 << (WB - 1), (n, K))
            a = rng.integers(-(1 << (AB - 1)), 1 << (AB - 1), (n, K))
        else:
            w = rng.integers(0, 1 << WB, (n, K))
            a = rng.integers(0, 1 << AB, (n, K))
        # 0 and weight_bits + 1 (if it fits the field) test the clamp
        bits = rng.integers(0, min(WB + 2, 1 << u.bits_width), n)
        last = rng.random(n) < p_last
        last[-1] = True
        return w, a, bits, last

    def expected(self, w, a, bits, last):
        u = self.unit
        dots = bitserial_dot(w, a, u.weight_bits, bits, signed=u.signed)
        return accumulate_groups(dots, last, u.acc_bits, u.signed)

    def queue(self, w, a, bits, last):
        for k in range(len(bits)):
            self.src.append(pack_struct(
                {"w": w[k], "a": a[k], "bits": int(bits[k]), "last": int(last[k])},
                self.unit.i_layout))

    def read(self, raw):
        return to_signed(raw, self.unit.acc_bits) if self.unit.signed else raw


@cocotb.test()
async def run_random(dut):
    """Random operations, precisions, groups, idles and back-pressure against the golden."""
    p = get_params()
    seed = int(p.get("seed") or 1)
    n = int(p.get("vectors") or p.get("n") or 3000)
    tb = TB(dut, p, idle=p.get("idle", 0.3), backpressure=p.get("backpressure", 0.4),
            seed=seed)
    rng = np.random.default_rng(seed)
    await reset(dut)
    t0 = time.monotonic()
    w, a, bits, last = tb.random_ops(rng, n)
    exp = tb.expected(w, a, bits, last)
    tb.queue(w, a, bits, last)
    timeout = int(np.sum(clamp_bits(bits, tb.unit.weight_bits))) * 8 + 1000
    await tb.snk.wait_for(len(exp), timeout_cycles=timeout)
    await tb.src.wait_idle()
    await ClockCycles(dut.clk, 3 * tb.unit.weight_bits + 20)   # nothing more may arrive
    got = [tb.read(x) for x in tb.snk.items]
    bad = [f"result {k}: got {g}, expected {int(e)}"
           for k, (g, e) in enumerate(zip(got, exp)) if g != e]
    if len(got) != len(exp):
        bad.insert(0, f"{len(got)} results arrived for {len(exp)} groups")
    write_report({"vectors": n, "mismatches": len(bad), "first_mismatches": bad[:10],
                  "seconds": time.monotonic() - t0, "results": len(exp)})
    assert not bad, bad[:5]
