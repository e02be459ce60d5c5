"""The out-of-context harness: four pins around a unit, nothing constant, nothing dead.

A bare unit has more I/O than a package has pins (an int8 MAC needs 44, the UP5K SG48 has
39), and a unit with constant inputs would be optimized away. So the unit is placed inside a
small harness with four pins (``clk``, ``rst``, ``sin``, ``sout``):

- every data input of the unit (``rm`` and ``in_valid`` included) is a bit of one shift
  register loaded serially from ``sin``: nothing is constant, so yosys can fold nothing, and
  every input comes straight from a flip-flop;
- every output goes into an output register, which feeds a rotate-and-XOR signature register
  (a MISR) whose top bit is ``sout``: every output bit reaches the pin, so nothing is dead,
  and the XOR sits after the output register, off the unit's paths;
- ``clk``/``rst`` of a clocked unit are the harness's pins.

Fmax is therefore set by the unit's own register-to-register paths (input register → logic →
output register, or the unit's pipeline stages), unless the unit is trivially small.
"""

import re

from .errors import FlowError

__all__ = ["FLOW_VERSION", "HARNESS_NAME", "verilog_ports", "harness_verilog", "read_prefix"]

#: Bumped whenever the harness or the tool scripts of out-of-context synthesis (here,
#: :mod:`hwgen.flow.synth`, :mod:`hwgen.flow.dsp`) change: it is part of every cache key, so
#: it invalidates cached results.
FLOW_VERSION = 1

#: The harness's module name.
HARNESS_NAME = "hwgen_ooc_top"

_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                      r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?([A-Za-z_][A-Za-z0-9_$]*)\s*;")


def verilog_ports(text, top):
    """``[(direction, name, width), ...]`` of module ``top`` in ``text``, in declaration order."""
    m = re.search(r"^\s*module\s+" + re.escape(top) + r"\s*[(#;]", text, re.MULTILINE)
    if m is None:
        raise FlowError(f"Module {top!r} not found in the Verilog text")
    end = text.find("endmodule", m.end())
    body = text[m.end():end if end >= 0 else len(text)]
    ports = []
    for line in body.splitlines():
        pm = _PORT_RE.match(line)
        if pm:
            direction, msb, lsb, name = pm.groups()
            width = abs(int(msb) - int(lsb)) + 1 if msb is not None else 1
            ports.append((direction, name, width))
    if not ports:
        raise FlowError(f"Module {top!r} has no ports the harness can drive")
    return ports


def harness_verilog(ports, top):
    """Verilog of the four-pin harness around module ``top`` (see the module docstring).

    Returns ``(text, input_bits, output_bits)``.
    """
    inputs = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outputs = [(n, w) for d, n, w in ports if d == "output"]
    if any(d == "inout" for d, _, _ in ports):
        raise FlowError(f"Module {top!r} has inout ports; the harness drives only inputs "
                        f"and outputs")
    if not outputs:
        raise FlowError(f"Module {top!r} has no outputs: nothing to measure")
    w_in = sum(w for _, w in inputs)
    w_out = sum(w for _, w in outputs)
    names = {n for _, n, _ in ports}
    lines = [
        f"// Out-of-context harness for {top}, written by hwgen.flow.synth (flow version "
        f"{FLOW_VERSION}).",
        "// Inputs come from a serial shift register, outputs go through a register into a",
        "// rotate-and-XOR signature register: four pins, nothing constant, nothing dead.",
        f"module {HARNESS_NAME}(input clk, input rst, input sin, output sout);",
    ]
    conns = []
    if "clk" in names:
        conns.append(".clk(clk)")
    if "rst" in names:
        conns.append(".rst(rst)")
    if w_in:
        lines.append(f"  reg [{w_in - 1}:0] in_q = {w_in}'d0;")
        shift = "sin" if w_in == 1 else f"{{in_q[{w_in - 2}:0], sin}}"
        lines.append(f"  always @(posedge clk) in_q <= {shift};")
        lo = 0
        for name, w in inputs:
            conns.append(f".{name}(in_q[{lo + w - 1}:{lo}])")
            lo += w
    else:
        lines.append("  wire unused_sin = sin;")
    lo = 0
    for name, w in outputs:
        lines.append(f"  wire [{w - 1}:0] o_{name};")
        conns.append(f".{name}(o_{name})")
    lines.append(f"  {top} unit (" + ", ".join(conns) + ");")
    cat = ", ".join(f"o_{name}" for name, _ in reversed(outputs))
    lines.append(f"  reg [{w_out - 1}:0] out_q = {w_out}'d0;")
    lines.append(f"  reg [{w_out - 1}:0] misr = {w_out}'d0;")
    rot = "misr" if w_out == 1 else f"{{misr[{w_out - 2}:0], misr[{w_out - 1}]}}"
    lines.append("  always @(posedge clk) begin")
    lines.append(f"    out_q <= {{{cat}}};")
    lines.append(f"    misr <= {rot} ^ out_q;")
    lines.append("  end")
    lines.append(f"  assign sout = misr[{w_out - 1}];")
    lines.append("endmodule")
    return "\n".join(lines) + "\n", w_in, w_out


#: Cells of a family that hwgen's designs may instantiate themselves (when elaborated for
#: that family, :func:`hwgen.units.carry.synthesis_platform`), and the yosys command that
#: reads their library (as ``synth_<family>`` reads it).
FAMILY_CELLS = {"ecp5": (("CCU2C",),
                         "read_verilog -lib -specify +/ecp5/cells_sim.v +/ecp5/cells_bb.v")}


def read_prefix(top, verilog="", family=None):
    """The yosys commands that read the unit (``<top>.v``, text ``verilog``) and the harness
    (``harness.v``): the same wherever the design is read (the multiplier count and the
    flow), so that the cells have the same names in both. A design that instantiates cells of
    its ``family`` (:data:`FAMILY_CELLS`) reads their library first."""
    cells, command = FAMILY_CELLS.get(family, ((), ""))
    lib = [command] if any(re.search(rf"^\s*{c}\b", verilog, re.M) for c in cells) else []
    return lib + [f"read_verilog {top}.v", "read_verilog harness.v",
                  f"hierarchy -check -top {HARNESS_NAME}"]
