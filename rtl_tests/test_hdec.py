"""HuffmanDecoder against the numpy canonical decoder (hwgen.golden.compress), bit for bit: the
blocks of :mod:`sim.hdec` on two decoders, every code length exercised, one value per clock
at steady state.
"""

import pytest

from hwgen.units.hdec import HuffmanDecoder
from sim.hdec import unit_params
from sim.runner import run


@pytest.mark.parametrize("unit", [
    dict(word_width=32, max_len=16, rank_bits=8, value_width=8, count_width=24),
    dict(word_width=12, max_len=10, rank_bits=4, value_width=5, count_width=12),
], ids=["default", "narrow"])
def test_hdec(unit):
    comp = HuffmanDecoder(**unit)
    r = run(comp, test_module="sim.hdec",
            params={**unit_params(comp), "seed": 3, "symbols_per_block": 500})
    assert r.passed, r.report.get("first_mismatches")
    assert r.report["mismatches"] == 0 and r.report["vectors"] > 0
    # every code length up to the bound was exercised
    assert r.report["code_lengths"] == list(range(1, comp.max_len + 1))
    # one value per clock at steady state, whatever the code lengths
    for name, rate in r.report["symbols_per_cycle"].items():
        assert rate >= 0.99 * comp.symbols_per_cycle, (name, rate)
