# amaranth: UnusedElaboratable=no
"""cocotb tests of :class:`hwgen.units.dpmac.DualPrecisionMac` against
:func:`hwgen.golden.dpmac.dualprec_mac`, bit for bit: the random and exhaustive tests of
:mod:`sim.dpmac` (what ``hwgen sim dpmac`` runs) and, with no stalls, one operation per cycle
in every mode.
"""

import cocotb
import numpy as np
import pytest

from sim.dpmac import TB, build_unit, run_exhaustive, run_random  # noqa: F401 (cocotb tests)
from sim.params import get_params, write_report
from sim.streams import reset, to_signed

MODULE = "rtl_tests.test_dpmac"


@cocotb.test()
async def run_throughput(dut):
    """With no stalls: one operation per cycle in every mode (so two products per cycle in
    low mode), results ``latency`` edges after the input transfer (plus the output edge)."""
    p = get_params()
    tb = TB(dut, p, idle=0.0, backpressure=0.0, seed=5)
    rng = np.random.default_rng(5)
    await reset(dut)
    bad = []
    for mode in (0, 1, 2, 0):
        first_in, first_out = len(tb.src.transfers), len(tb.snk.transfers)
        ops = tb.random_ops(rng, 16, p_last=1.0, mode=mode)
        exp = tb.expected(ops)
        tb.queue(ops)
        await tb.snk.wait_for(first_out + 16, timeout_cycles=200)
        ins = [c for c, _ in tb.src.transfers[first_in:]]
        outs = tb.snk.transfers[first_out:]
        gaps = set(np.diff([c for c, _ in outs]).tolist())
        dist = {o - i for (o, _), i in zip(outs, ins)}
        if gaps != {1} or dist != {tb.unit.latency + 1}:
            bad.append(f"mode {mode}: result gaps {sorted(gaps)}, distance {sorted(dist)}")
        if [to_signed(x, tb.unit.acc_bits) for _, x in outs] != exp.tolist():
            bad.append(f"mode {mode}: wrong results")
    write_report({"throughput_mismatches": bad})
    assert not bad, bad


# -- pytest ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", [dict(high_bits=8, multiplier="packed", exhaustive=True),
                                 dict(high_bits=8, multiplier="split")],
                         ids=["h8-packed-exhaustive", "h8-split"])
def test_dpmac(cfg):
    from sim.runner import run
    res = run(build_unit(cfg), test_module=MODULE, params=dict(cfg, n=3000))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0
    assert not res.report["throughput_mismatches"]
    if cfg.get("exhaustive"):
        assert res.report["exhaustive_ops"] == 3 << 16
        assert res.report["exhaustive_mismatches"] == 0
