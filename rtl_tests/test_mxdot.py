"""cocotb test of the generated Verilog of :class:`hwgen.units.MxDot` against
:func:`hwgen.golden.mx_dot`, bit for bit: the random test of :mod:`sim.mxdot` (what
``hwgen sim mxdot`` runs), with random idles and back-pressure; E5M2 x E5M2 adds the IEEE
special cases; pipelined variants too. The Amaranth-simulator test
(tests/test_mxdot_amaranth.py) covers more element pairs, lane counts and cut points on the
same stimulus.
"""

import pytest

from sim.mxdot import build_unit

MODULE = "sim.mxdot"


@pytest.mark.parametrize("cfg", [
    dict(elem="e4m3", lanes=8, rounding="rne"),
    dict(elem="e5m2", lanes=16, rounding="dynamic"),
    # pipelined: block-sum registers, a 4-cycle loop cut before and inside the rounder
    dict(elem="e4m3", b_elem="e2m1", lanes=8, rounding="rne", sum_latency=2, acc_latency=4),
    # 32 lanes, a 2-cycle loop (one block per 2 clocks), IEEE specials, dynamic rounding
    dict(elem="e5m2", lanes=32, rounding="dynamic", sum_latency=3, acc_latency=2),
], ids=["e4m3_l8_rne", "e5m2_l16_dyn", "e4m3_e2m1_l8_rne_s2_a4", "e5m2_l32_dyn_s3_a2"])
def test_mxdot(cfg):
    from sim.runner import run
    res = run(build_unit(cfg), test_module=MODULE, params=dict(cfg, n=400))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0 and res.report["vectors"] >= 350
