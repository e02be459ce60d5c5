# amaranth: UnusedElaboratable=no
"""cocotb tests of :class:`hwgen.units.bsmac.BitSerialMac` against
:func:`hwgen.golden.bsmac.bitserial_dot`, bit for bit: the random operations of
:mod:`sim.bsmac` (what ``hwgen sim bsmac`` runs) and, with no stalls, the cycles per result
for every ``bits``.
"""

import cocotb
import numpy as np
import pytest

from sim.bsmac import TB, build_unit, run_random  # noqa: F401 (a cocotb test)
from sim.params import get_params, write_report
from sim.streams import reset

MODULE = "rtl_tests.test_bsmac"


@cocotb.test()
async def run_throughput(dut):
    """With no stalls, back-to-back operations take exactly ``bits`` cycles each, and a result
    is valid ``bits + latency`` edges after its input transfer."""
    p = get_params()
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
    res = run(build_unit(cfg), test_module=MODULE, params=dict(cfg, n=1500))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0
    assert not res.report["throughput_mismatches"]
