"""cocotb test of :class:`hwgen.units.tmac.TernaryMac` against
:func:`hwgen.golden.tmac.ternary_mac`, bit for bit: the random test of :mod:`sim.tmac`
(what ``hwgen sim tmac`` runs).
"""

import pytest

from sim.tmac import build_unit

MODULE = "sim.tmac"


@pytest.mark.parametrize("cfg", [dict(lanes=8, act_bits=8)], ids=["k8_a8"])
def test_tmac(cfg):
    from sim.runner import run
    res = run(build_unit(cfg), test_module=MODULE, params=dict(cfg, n=3000))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0
