# amaranth: UnusedElaboratable=no
# (a unit whose parameters are rejected is never elaborated; the CLI reports the error)
"""Catalog entry of the OCP Microscaling dot-product unit: ``mxdot``."""

from . import UnitSpec

__all__ = ["UNITS"]

DESCRIPTION = """\
OCP MX v1.0 dot products: blocks of 32 element pairs sharing two E8M0 scales, summed exactly in
fixed point, scaled and added to an FP32 accumulator with one rounding per block (the golden
model hwgen.golden.mx_dot, to the bit; docs/mx.md).

Verilog ports (streams flatten to <name>__payload/__valid/__ready):
  clk, rst      input            rst synchronous, active high
  i__payload    input            {last, b_scale[7:0], a_scale[7:0], b[lanes], a[lanes]},
                                 lane 0 in the low bits; one block = 32/lanes beats; the
                                 scales and last are sampled with a block's final beat
  i__valid/ready                 stream handshake
  rm            input  [2:0]     only with --rounding dynamic (RISC-V frm; sampled with each
                                 block's final beat)
  o__payload    output [35:0]    {flags[3:0], y[31:0]}: the FP32 result when last closed a dot
                                 product; flags bit 0 inexact, 1 underflow, 2 overflow,
                                 3 invalid
  o__valid/ready                 stream handshake (a waiting result stalls the input)

Pipeline: --sum-latency N --acc-latency N, or --target-mhz F --device D (the generator
places the registers; the module name gets _s<N>_a<N>, see docs/mx.md).

Example: hwgen generate mxdot --elem e2m1 --lanes 32 -o mx.v"""


#: Kept here as text so that building the parser imports no numpy/Amaranth; the unit checks
#: the values (hwgen.golden.mx.MX_ELEMENTS, hwgen.units.mxdot.MXDOT_LANES; a test compares).
ELEMENTS = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8")
LANES = (8, 16, 32)


def _args(p):
    p.add_argument("--elem", default="e4m3", choices=ELEMENTS, metavar="E",
                   help=f"element format of a: {' '.join(ELEMENTS)} (default e4m3)")
    p.add_argument("--b-elem", default=None, choices=ELEMENTS, metavar="E",
                   help="element format of b (default --elem)")
    p.add_argument("--lanes", type=int, default=8, choices=LANES, metavar="N",
                   help=f"element pairs per clock: {', '.join(map(str, LANES))} "
                        f"(default 8)")
    p.add_argument("--rounding", default="rne", metavar="R",
                   choices=("rne", "rtz", "rdn", "rup", "rna", "dynamic"),
                   help="rounding of the FP32 accumulation: rne | rtz | rdn | rup | rna | "
                        "dynamic (default rne)")
    p.add_argument("--sum-latency", type=int, default=None, metavar="N",
                   help="registers on the block-sum path (element products, adder tree; "
                        "default 0)")
    p.add_argument("--acc-latency", type=int, default=None, metavar="N",
                   help="clock cycles of the FP32 accumulation loop: 1 to 32/lanes (default "
                        "2 for 8/16 lanes, 1 for 32; 32 lanes with 2: one block per 2 clocks)")
    from .float_ops import add_target_arguments
    add_target_arguments(p)


def _build(args):
    from ..units.mxdot import MxDot
    from .float_ops import target_kw
    return MxDot(args.elem, b_elem=args.b_elem, lanes=args.lanes, rounding=args.rounding,
                 **target_kw(args, ("sum_latency", "acc_latency")))


def _params(args, unit):
    from sim.mxdot import unit_params
    return unit_params(unit)


UNITS = [UnitSpec("mxdot", "OCP MX dot product: 32-element blocks, E8M0 scales, FP32 result",
                  _args, _build, "sim.mxdot", _params, DESCRIPTION)]
