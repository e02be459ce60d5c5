"""CLI entry for the float MAC (``hwgen generate|sim|synth fmac``)."""

from . import UnitSpec

__all__ = ["UNITS"]

DESCRIPTION = """\
Ports (Verilog): clk, rst; input stream i__payload = {last, b, a} (a in the low bits),
i__valid, i__ready; output stream o__payload = {flags, y} (y in the low bits), o__valid,
o__ready; rm[2:0] when --rounding dynamic (RISC-V frm: 0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna).
flags: bit 0 inexact, 1 underflow, 2 overflow, 3 invalid, ORed over the dot product.
One result per pair with last=1; the accumulator then restarts from +0. A stalled output
stalls the input (no pair is lost or duplicated).

--accumulate rounded: product rounded into --acc-format, then the sum rounded (Hill et al.);
fused: one FMA per step; exact: a Kulisch accumulator sized for --max-terms products, rounded
once into --out-format on read-out.

Example: hwgen generate fmac --format e4m3 --acc-format fp16 --accumulate rounded -o fmac.v"""


def add_arguments(p):
    p.add_argument("--format", default="e4m3", metavar="F",
                   help="multiplier input format (default e4m3)")
    p.add_argument("--b-format", default=None, metavar="F", help="format of b (default --format)")
    p.add_argument("--acc-format", default=None, metavar="F",
                   help="accumulator format for rounded/fused (default fp16 for 8-bit inputs, "
                        "else --format)")
    p.add_argument("--out-format", default=None, metavar="F",
                   help="read-out format (exact only; default --acc-format)")
    p.add_argument("--accumulate", default="rounded", metavar="MODE",
                   help="rounded | fused | exact (default rounded)")
    p.add_argument("--max-terms", type=int, default=None, metavar="N",
                   help="exact only: products the accumulator holds exactly (default 1024)")
    p.add_argument("--rounding", default="rne", metavar="R",
                   help="rne | rtz | rdn | rup | rna | dynamic (default rne)")
    p.add_argument("--mul-latency", type=int, default=None, metavar="N",
                   help="registers in the product path (rounded: 0..3, the multiplier's "
                        "cut table; exact: 0..1; fused: 0); the accumulation loop is never "
                        "cut, one MAC per clock; default 0")
    p.add_argument("--out-latency", type=int, default=None, metavar="N",
                   help="exact only: registers in the read-out (0..3); default 0")
    from .float_ops import add_target_arguments
    add_target_arguments(p)


def build(args):
    from ..formats import parse_format
    from ..units.fmac import FloatMac
    if args.max_terms is not None and args.accumulate != "exact":
        raise ValueError(f"--max-terms sizes the exact accumulator: give it with --accumulate "
                         f"exact, not {args.accumulate}")
    fmt = parse_format(args.format)
    acc = args.acc_format
    if acc is None:
        acc = "fp16" if fmt.width <= 8 else fmt
    from .float_ops import target_kw
    return FloatMac(fmt, b_fmt=args.b_format, acc_fmt=acc, out_fmt=args.out_format,
                    accumulate=args.accumulate,
                    max_terms=1024 if args.max_terms is None else args.max_terms,
                    rounding=args.rounding,
                    **target_kw(args, ("mul_latency", "out_latency")))


def sim_params(args, unit):
    from sim.fmac import unit_params
    return unit_params(unit)


UNITS = [UnitSpec("fmac", "float MAC: narrow (rounded), fused or exact (Kulisch) accumulation",
                  add_arguments, build, "sim.fmac", sim_params, DESCRIPTION)]
