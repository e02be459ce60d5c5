"""cocotb test of the generated Verilog of :class:`hwgen.units.MxDot` against
:func:`hwgen.golden.mx_dot`, bit for bit: the random test of :mod:`sim.mxdot` (what
``hwgen sim mxdot`` runs), with random idles and back-pressure; E5M2 x E5M2 adds the IEEE
special cases. The Amaranth-simulator test (tests/test_mxdot_amaranth.py) covers more
element pairs and lane counts (32 lanes included) on the same stimulus.
"""

import pytest

from sim.mxdot import build_unit

MODULE = "sim.mxdot"


@pytest.mark.parametrize("cfg", [
    dict(elem="e4m3", lanes=8, rounding="rne"),
    dict(elem="e5m2", lanes=16, rounding="dynamic"),
], ids=["e4m3_l8_rne", "e5m2_l16_dyn"])
def test_mxdot(cfg):
    from sim.runner import run
    res = run(build_unit(cfg), test_module=MODULE, params=dict(cfg, n=400))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0 and res.report["vectors"] >= 350
