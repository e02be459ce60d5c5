# amaranth: UnusedElaboratable=no
"""cocotb test of :class:`hwgen.units.tmac.TernaryMac` against
:func:`hwgen.golden.ternary.ternary_mac`, bit for bit (sums and zero counts).

All four 2-bit codes occur (including the "-0" code ``10``), groups have random lengths, the
source idles at random and the sink applies random back-pressure; every result must arrive
exactly once and in order.
"""

import time

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ClockCycles

from hwgen.golden.ternary import ternary_mac
from hwgen.units.tmac import TernaryMac
from sim.params import get_params, write_report
from sim.streams import (StreamDriver, StreamMonitor, pack_struct, reset, start_clock,
                         unpack_struct)

_KEYS = ("lanes", "act_bits", "acc_bits")


def _unit(p):
    return TernaryMac(**{k: p[k] for k in _KEYS if p.get(k) is not None})


@cocotb.test()
async def run_random(dut):
    """Random codes, activations, groups, idles and back-pressure against the golden model."""
    p = get_params()
    seed = int(p.get("seed") or 1)
    n = int(p.get("vectors") or p.get("n") or 4000)
    u = _unit(p)
    start_clock(dut)
    src = StreamDriver(dut, "i", idle_prob=p.get("idle", 0.3), seed=seed)
    snk = StreamMonitor(dut, "o", backpressure=p.get("backpressure", 0.4), seed=seed + 1)
    rng = np.random.default_rng(seed)
    await reset(dut)
    t0 = time.monotonic()
    K, AB = u.lanes, u.act_bits
    codes = rng.integers(0, 4, (n, K))
    acts = rng.integers(-(1 << (AB - 1)), 1 << (AB - 1), (n, K))
    last = rng.random(n) < 0.3
    last[-1] = True
    exp_acc, exp_zeros = ternary_mac(codes, acts, last, u.acc_bits, u.count_bits)
    for k in range(n):
        src.append(pack_struct({"w": codes[k], "a": acts[k], "last": int(last[k])},
                               u.i_layout))
    await snk.wait_for(len(exp_acc), timeout_cycles=20 * n + 1000)
    await src.wait_idle()
    await ClockCycles(dut.clk, 20)                    # nothing more may arrive
    got = [unpack_struct(x, u.o_layout) for x in snk.items]
    bad = [f"result {k}: got acc={g['acc']} zeros={g['zeros']}, expected acc={int(e)} "
           f"zeros={int(z)}" for k, (g, e, z) in enumerate(zip(got, exp_acc, exp_zeros))
           if (g["acc"], g["zeros"]) != (e, z)]
    if len(got) != len(exp_acc):
        bad.insert(0, f"{len(got)} results arrived for {len(exp_acc)} groups")
    write_report({"vectors": n, "mismatches": len(bad), "first_mismatches": bad[:10],
                  "seconds": time.monotonic() - t0, "results": len(exp_acc)})
    assert not bad, bad[:5]


# -- pytest ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", [dict(lanes=8, act_bits=8)], ids=["k8_a8"])
def test_tmac(cfg):
    from sim.runner import run
    res = run(_unit(cfg), test_module="rtl_tests.test_tmac", params=dict(cfg, n=3000))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0
