"""The multiplier's lean forms (``flags=False``) against the golden model in Amaranth's
simulator: the rounder's one right shift for the one-bit normalization and the
denormalization, the overflow merged into the Inf case, and the subnormal operand
normalized before a product in logic (:class:`hwgen.units.FloatMultiplier`: Booth's, or
the conditional adds' of ``product="shiftadd"``); and the product in AND rows
(``product="logic"``, the rounded PEs' for 8-bit formats). The cocotb tests check the
default datapath; these check the paths only these forms take."""

import pytest

from hwgen.units import FloatMultiplier
from test_float_units import _simulate


def _lean(p):
    """The flag-free multiplier of the parameter dict ``p``."""
    return FloatMultiplier(p["fmt"], flags=False, **{k: v for k, v in p.items() if k != "fmt"})


@pytest.mark.parametrize("p", [
    dict(fmt="e4m3_ieee", rounding="rne"),
    dict(fmt="e5m2", rounding="rdn"),
    dict(fmt="e2m3", rounding="rtz"),
    dict(fmt="e4m3", b_fmt="e5m2", rounding="rna"),
], ids=lambda p: "-".join(p.values()))
def test_lean_exhaustive(p):
    """Every operand pair."""
    _simulate(dict(op="fmul", **p), "exhaustive", dut=_lean(p))


@pytest.mark.parametrize("p", [
    dict(fmt="bf16", rounding="rne", product="booth"),
    dict(fmt="fp16", rounding="dynamic", product="booth"),
    dict(fmt="fp16", b_fmt="e5m2", rounding="rne", product="booth"),
    dict(fmt="bf16", rounding="rne", product="booth", latency=1),
    dict(fmt="bf16", rounding="rne", product="shiftadd"),
    dict(fmt="fp16", rounding="rne", product="shiftadd"),
    dict(fmt="fp16", b_fmt="e5m2", rounding="rup", product="shiftadd"),
], ids=lambda p: "-".join(str(v) for v in p.values()))
@pytest.mark.parametrize("kind", ["directed", "random:2000"])
def test_lean_booth(p, kind):
    """The product in logic (Booth, or conditional adds: ``product="shiftadd"``), the
    subnormal operand normalized before it: the directed set (specials, subnormals,
    boundaries) and random vectors."""
    dut = _lean(p)
    assert f"_noflags_{p['product']}" in dut.module_name
    _simulate(dict(op="fmul", **p), kind, dut=dut)


def test_lean_shiftadd_exhaustive():
    """``product="shiftadd"``, the flag-free form: every e5m2 operand pair."""
    p = dict(fmt="e5m2", rounding="rne", product="shiftadd")
    _simulate(dict(op="fmul", **p), "exhaustive", dut=_lean(p))


@pytest.mark.parametrize("p, cuts, kind", [
    (dict(fmt="e4m3", rounding="rne"), (), "exhaustive"),
    (dict(fmt="fp16", rounding="dynamic"), ("pp", "raw"), "random:2000"),
], ids=["e4m3-exhaustive", "fp16-pp-random"])
def test_logic_product(p, cuts, kind):
    """``product="logic"`` (AND rows, :func:`hwgen.units.booth.logic_product`) with flags:
    an 8-bit format's every pair, and fp16 with its half products split by a register."""
    dut = FloatMultiplier(p["fmt"], product="logic", cuts=cuts,
                          **{k: v for k, v in p.items() if k != "fmt"})
    assert "_logic" in dut.module_name and dut.cuts == cuts
    _simulate(dict(op="fmul", **p), kind, dut=dut)
