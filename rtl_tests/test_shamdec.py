"""ShamDecoder against the numpy sHAM decoder (hwgen.golden.compress.sham_decode), bit for bit:
the matrices of :mod:`sim.shamdec`, one non-zero per clock at steady state.
"""

from hwgen.units.shamdec import ShamDecoder
from sim.runner import run
from sim.shamdec import unit_params


def test_shamdec():
    comp = ShamDecoder(row_bits=8, col_bits=8)
    r = run(comp, test_module="sim.shamdec",
            params={**unit_params(comp), "seed": 5})
    assert r.passed, r.report.get("first_mismatches")
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
    # one non-zero per clock at steady state (columns cost no extra cycle)
    for name, rate in r.report["nonzeros_per_cycle"].items():
        assert rate >= 0.97 * comp.nonzeros_per_cycle, (name, rate)
