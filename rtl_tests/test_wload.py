# amaranth: UnusedElaboratable=no
"""Compressed weights on the systolic array (:class:`hwgen.arrays.wload.CompressedSystolic`)
against :func:`hwgen.golden.matmul.matmul`: the GEMMs of :mod:`sim.wload` on a 2x2 int8
array fed by the sHAM loader.
"""

from hwgen.arrays.wload import CompressedSystolic
from sim.runner import run
from sim.wload import unit_params


def test_wload_sham_2x2_int8():
    loader = dict(transfer_bits=8, word_width=16, max_len=12, rank_bits=8, count_width=16)
    comp = CompressedSystolic(2, 2, "int8", "sham", **loader)
    gemms = [[6, 7, 5, 0.5], [3, 9, 3, 0.0], [5, 8, 6, 1.0], [4, 20, 4, 0.1]]
    params = unit_params(comp)
    assert params == dict(rows=2, cols=2, pe="int8", fmt="sham", **loader)
    r = run(comp, test_module="sim.wload", params=dict(params, gemms=gemms, seed=3))
    assert r.passed, r.report.get("first_mismatches")
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
