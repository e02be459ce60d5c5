# amaranth: UnusedElaboratable=no
"""cocotb test of :class:`hwgen.units.dpmac.DualPrecisionMac` against
:func:`hwgen.golden.dpmac.dualprec_mac`, bit for bit (``hwgen sim dpmac [--exhaustive]``;
``rtl_tests/test_dpmac.py`` adds the throughput test on the same :class:`TB`).

The mode (high / low independent / low nested) changes at random between operations, also
within a group; groups have random lengths, the source idles at random and the sink applies
random back-pressure; every result must arrive exactly once and in order. With ``exhaustive``
set (high_bits up to 8), every operand pair of every mode goes through the unit as a
one-operation group: all ``(w0, a)`` in high and low-independent mode, all
``(w0.hi, w1.hi, a)`` in nested mode.

Parameters: :func:`unit_params` of the unit, plus ``n`` (operations), ``exhaustive``,
``idle``, ``backpressure``, ``seed`` and, from ``hwgen sim``, ``mode``/``vectors``.
"""

import time

import cocotb
import numpy as np
from cocotb.triggers import ClockCycles

from hwgen.golden.dpmac import dualprec_mac

from .params import get_params, write_report
from .streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

__all__ = ["TB", "run_random", "run_exhaustive", "exhaustive_ops", "build_unit",
           "unit_params"]

_KEYS = ("high_bits", "acc_bits", "multiplier")


def unit_params(unit):
    """The parameters of :class:`hwgen.units.dpmac.DualPrecisionMac` ``unit`` (they rebuild
    it)."""
    return {k: getattr(unit, k) for k in _KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.dpmac.DualPrecisionMac` of the parameters ``p``."""
    from hwgen.units.dpmac import DualPrecisionMac
    return DualPrecisionMac(**{k: p[k] for k in _KEYS if p.get(k) is not None})


class TB:
    """Clock, reset, source, sink and the unit's parameters."""

    def __init__(self, dut, p, *, idle, backpressure, seed):
        self.unit = build_unit(p)
        start_clock(dut)
        self.src = StreamDriver(dut, "i", idle_prob=idle, seed=seed)
        self.snk = StreamMonitor(dut, "o", backpressure=backpressure, seed=seed + 1)

    def random_ops(self, rng, n, p_last=0.3, mode=None):
        H = self.unit.high_bits
        ops = {k: rng.integers(0, 1 << H, n) for k in ("w0", "w1", "a")}
        m = rng.integers(0, 3, n) if mode is None else np.full(n, mode)
        ops["low"] = (m > 0).astype(np.int64)
        ops["nested"] = ((m == 2) | ((m == 0) & (rng.random(n) < 0.5))).astype(np.int64)
        ops["last"] = (rng.random(n) < p_last).astype(np.int64)
        ops["last"][-1] = 1
        return ops

    def expected(self, ops):
        u = self.unit
        return dualprec_mac(u.high_bits, ops["low"], ops["nested"], ops["w0"], ops["w1"],
                            ops["a"], ops["last"].astype(bool), u.acc_bits)

    def queue(self, ops):
        for k in range(len(ops["a"])):
            self.src.append(pack_struct({f: int(v[k]) for f, v in ops.items()},
                                        self.unit.i_layout))


@cocotb.test()
async def run_random(dut):
    """Random operands, modes, groups, idles and back-pressure against the golden model."""
    p = get_params()
    seed = int(p.get("seed") or 1)
    n = int(p.get("vectors") or p.get("n") or 4000)
    tb = TB(dut, p, idle=p.get("idle", 0.3), backpressure=p.get("backpressure", 0.4),
            seed=seed)
    rng = np.random.default_rng(seed)
    await reset(dut)
    t0 = time.monotonic()
    ops = tb.random_ops(rng, n)
    exp = tb.expected(ops)
    tb.queue(ops)
    await tb.snk.wait_for(len(exp), timeout_cycles=20 * n + 1000)
    await tb.src.wait_idle()
    await ClockCycles(dut.clk, 20)                    # nothing more may arrive
    got = [to_signed(x, tb.unit.acc_bits) for x in tb.snk.items]
    bad = [f"result {k}: got {g}, expected {int(e)}"
           for k, (g, e) in enumerate(zip(got, exp)) if g != e]
    if len(got) != len(exp):
        bad.insert(0, f"{len(got)} results arrived for {len(exp)} groups")
    write_report({"vectors": n, "mismatches": len(bad), "first_mismatches": bad[:10],
                  "seconds": time.monotonic() - t0, "results": len(exp)})
    assert not bad, bad[:5]


def exhaustive_ops(H, rng):
    """Every operand pair of every mode, one operation per group (see the module doc)."""
    L = H // 2
    w, a = (x.ravel() for x in np.meshgrid(np.arange(1 << H), np.arange(1 << H),
                                           indexing="ij"))
    n = w.size
    # nested: w0.hi and w1.hi take every pair of values (the low halves, unused, are random)
    hi0, hi1 = w >> L, w & ((1 << L) - 1)
    nest_w0 = (hi0 << L) | rng.integers(0, 1 << L, n)
    nest_w1 = (hi1 << L) | rng.integers(0, 1 << L, n)
    ops = {"w0": np.concatenate([w, w, nest_w0]),
           "w1": np.concatenate([rng.integers(0, 1 << H, 2 * n), nest_w1]),
           "a": np.concatenate([a, a, a]),
           "low": np.repeat([0, 1, 1], n), "nested": np.repeat([0, 0, 1], n)}
    ops["last"] = np.ones(3 * n, dtype=np.int64)
    return ops


@cocotb.test(skip=not get_params().get("exhaustive"))
async def run_exhaustive(dut):
    """Every operand pair of every mode, at full speed, against the golden model."""
    p = get_params()
    tb = TB(dut, p, idle=0.0, backpressure=0.0, seed=3)
    await reset(dut)
    t0 = time.monotonic()
    ops = exhaustive_ops(tb.unit.high_bits, np.random.default_rng(3))
    exp = tb.expected(ops)
    tb.queue(ops)
    await tb.snk.wait_for(len(exp), timeout_cycles=2 * len(exp) + 1000)
    got = np.array([to_signed(x, tb.unit.acc_bits) for x in tb.snk.items])
    bad = np.flatnonzero(got != exp)
    write_report({"exhaustive_ops": len(exp), "exhaustive_mismatches": int(bad.size),
                  "exhaustive_first": [(int(k), int(got[k]), int(exp[k])) for k in bad[:5]],
                  "exhaustive_seconds": time.monotonic() - t0})
    assert bad.size == 0, [(int(k), int(got[k]), int(exp[k])) for k in bad[:5]]
