"""cocotb test of :class:`hwgen.units.p2mac.Pow2Mac` against
:func:`hwgen.golden.p2mac.pow2_mac`, bit for bit: the random test of :mod:`sim.p2mac`
(what ``hwgen sim p2mac`` runs).
"""

import pytest

from sim.p2mac import build_unit

MODULE = "sim.p2mac"


@pytest.mark.parametrize("cfg", [dict(lanes=8, act_bits=8, max_shift=5)], ids=["k8_a8_s5"])
def test_p2mac(cfg):
    from sim.runner import run
    res = run(build_unit(cfg), test_module=MODULE, params=dict(cfg, n=3000))
    assert res.passed, res.report
    assert res.report["mismatches"] == 0
