"""SparseMatVec against the golden zero-skipping product (hwgen.golden.compress.spmv_csc): the
products of :mod:`sim.spmv` on two units, about ``nnz + cols`` cycles each.
"""

import pytest

from hwgen.units.spmv import SparseMatVec
from sim.runner import run
from sim.spmv import unit_params


@pytest.mark.parametrize("unit", [
    dict(row_bits=7, col_bits=6, x_width=8, value_width=8),
    dict(row_bits=3, col_bits=6, x_width=5, value_width=3, acc_width=6),
], ids=["int8", "narrow-wrapping"])
def test_spmv(unit):
    comp = SparseMatVec(**unit)
    r = run(comp, test_module="sim.spmv", params={**unit_params(comp), "seed": 7})
    assert r.passed, (r.report.get("first_mismatches"), r.report.get("slow"))
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
    assert r.report["slow"] == []
