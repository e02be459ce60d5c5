# amaranth: UnusedElaboratable=no
"""cocotb test of :class:`hwgen.units.bsmac.BitSerialMac` against
:func:`hwgen.golden.bsmac.bitserial_dot`, bit for bit.

The precision (``bits``) changes at random between operations (including the out-of-range
codes 0 and ``weight_bits + 1``, which the unit clamps), groups have random lengths, the source
idles at random and the sink applies random back-pressure; every result must arrive exactly
once and in order. A second test measures cycles per result for every ``bits`` with no stalls.
"""

import time

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ClockCycles

from hwgen.golden.bsmac import accumulate_groups, bitserial_dot, clamp_bits
from hwgen.units.bsmac import BitSerialMac
from sim.params import get_params, write_report
from sim.streams import StreamDriver, StreamMonitor, pack_struct, reset, start_clock, to_signed

_KEYS = ("lanes", "weight_bits", "act_bits", "signed", "acc_bits")


def _unit(p):
    return BitSerialMac(**{k: p[k] for k in _KEYS if p.get(k) is not None})


class TB:
    """Clock, reset, source, sink and the unit's parameters."""

    def __init__(self, dut, p, *, idle, backpressure, seed):
        self.dut = dut
        self.unit = _unit(p)
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
    cli = p.get("mode") == "cli"
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


@cocotb.test()
async def run_throughput(dut):
    """With no stalls, back-to-back operations take exactly ``bits`` cycles each, and a result
    is valid ``bits + latency`` edges after its input transfer."""
    p = get_params()
    if p.get("mode") == "cli":
        return
    tb = TB(dut, p, idle=0.0, backpressure=0.0, seed=7)
    rng = np.random.default_rng(7)
    await reset(dut)
    u = tb.unit
    per_bits, latencies, bad = {}, {}, []
    n = 12
    for b in range(1, u.weight_bits + 1):
        first_in, first_out = len(tb.src.transfers), len(tb.snk.transfers)
        w, a, _, _ = tb.random_ops(rng, n)
        bits = np.full(n, b)
        last = np.ones(n, dtype=bool)
        exp = tb.expected(w, a, bits, last)
        tb.queue(w, a, bits, last)
        await tb.snk.wait_for(first_out + n, timeout_cycles=n * b + 100)
        await tb.src.wait_idle()
        ins = [c for c, _ in tb.src.transfers[first_in:]]
        outs = tb.snk.transfers[first_out:]
        gaps = set(np.diff([c for c, _ in outs]).tolist())
        per_bits[b] = sorted(gaps)
        # transfer edge of the input -> registered result -> transfer edge of the output
        latencies[b] = sorted({o - i for (o, _), i in zip(outs, ins)})
        if gaps != {b}:
            bad.append(f"bits={b}: cycles between results {sorted(gaps)}")
        if latencies[b] != [b + u.latency + 1]:
            bad.append(f"bits={b}: input-to-output transfer distance {latencies[b]}, "
                       f"expected {b + u.latency + 1}")
        got = [tb.read(x) for _, x in outs]
        if got != exp.tolist():
            bad.append(f"bits={b}: wrong results")
    write_report({"cycles_per_result": {str(b): g for b, g in per_bits.items()},
                  "throughput_mismatches": bad})
    assert not bad, bad


# -- pytest ---------------------------------------------------------------------------------

CONFIGS = [
    dict(lanes=8, weight_bits=8, act_bits=8, signed=True),
    dict(lanes=3, weight_bits=5, act_bits=6, signed=False, acc_bits=14),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["k8_w8_a8_s", "k3_w5_a6_u_acc14"])
def test_bsmac(cfg):
    from sim.runner import run
    res = run(_unit(cfg), test_module="rtl_tests.test_bsmac", params=dict(cfg, n=1500))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0
    assert not res.report["throughput_mismatches"]
