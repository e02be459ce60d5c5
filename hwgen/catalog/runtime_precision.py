# amaranth: UnusedElaboratable=no
"""Run-time-precision units for the CLI: bsmac, dpmac, tmac, p2mac."""

from . import UnitSpec

__all__ = ["UNITS"]

_GROUPS = """Operations are accumulated in groups: the accumulator starts at 0, adds every
operation, and on an operation with last=1 sends the group's sum on o and clears (last=1 on
every operation: one result per operation). The accumulator wraps at --acc-bits. A stalled
output stalls the input only when a group result would overwrite it (no result is lost or
duplicated)."""

BSMAC_DESCRIPTION = """Ports: clk, rst; input stream i__payload = {w[lanes], a[lanes], bits, last}
(first field, and lane 0, in the low bits), i__valid, i__ready; output stream o__payload
(the group result, acc-bits wide), o__valid, o__ready.
One weight bit-plane per cycle, MSB first (the top plane negative for signed weights);
`bits` (1..weight-bits, sampled per operation; 0 reads as 1, larger values as weight-bits)
planes are accumulated, so back-to-back operations take exactly `bits` cycles each. The
result is the dot product with the weights truncated to their top `bits` bits, scale kept.
""" + _GROUPS + """
Example: hwgen generate bsmac --lanes 16 --weight-bits 4 --act-bits 8 -o bsmac.v"""

DPMAC_DESCRIPTION = """Ports: clk, rst; input stream i__payload = {w0, w1, a, low, nested, last}
(w0 in the low bits; w0/w1/a high-bits wide), i__valid, i__ready; output stream o__payload
(signed, acc-bits wide), o__valid, o__ready. One operation per cycle.
low=0: w0*a (one high x high product). low=1, nested=0: w0 and a each hold two signed
high/2-bit values (element 0 in the low half): w0.lo*a.lo + w0.hi*a.hi. low=1, nested=1:
w0 and w1 are high-precision weights, their MSB halves are used, scale kept:
((w0>>h/2)*a.lo + (w1>>h/2)*a.hi) << h/2. The mode may change between any two operations.
--multiplier packed (default): both modes share one signed (3L+2)x(3L+2) multiplier (L =
high/2), low mode packs the two pairs into it with a guard gap: one DSP block. split: four
(L+1)x(L+1) sub-multipliers, the smaller choice when multipliers are built from LUTs. Same
results bit for bit; the module name ends in _split for the latter.
""" + _GROUPS + """
Example: hwgen generate dpmac --high-bits 8 -o dpmac.v"""

TMAC_DESCRIPTION = """Ports: clk, rst; input stream i__payload = {w[lanes] (2-bit codes), a[lanes],
last} (lane 0 in the low bits), i__valid, i__ready; output stream o__payload = {acc, zeros}
(acc in the low bits; zeros counts the skipped zero weights of the group), o__valid,
o__ready. Codes: 01 = +1 (add), 11 = -1 (subtract), 00 and 10 = 0 (skip). One operation per
cycle.
""" + _GROUPS + """
Example: hwgen generate tmac --lanes 16 --act-bits 8 -o tmac.v"""

P2MAC_DESCRIPTION = """Ports: clk, rst; input stream i__payload = {w[lanes], a[lanes], last} (lane 0
in the low bits); each weight is {shift, neg, zero} (shift in the low bits; the weight is 0
if zero, else (-1)^neg * 2^min(shift, max-shift)), i__valid, i__ready; output stream
o__payload (signed, acc-bits wide), o__valid, o__ready. One operation per cycle.
""" + _GROUPS + """
Example: hwgen generate p2mac --lanes 8 --act-bits 8 --max-shift 7 -o p2mac.v"""


def _acc_arg(p, default="exact for one operation + 8 guard bits"):
    p.add_argument("--acc-bits", type=int, default=None, metavar="N",
                   help=f"accumulator width (default: {default})")


def _bsmac_args(p):
    p.add_argument("--lanes", type=int, default=8, metavar="K",
                   help="dot-product lanes per operation (default 8)")
    p.add_argument("--weight-bits", type=int, default=8, metavar="N",
                   help="weight width, i.e. the most bit-planes (default 8)")
    p.add_argument("--act-bits", type=int, default=8, metavar="N",
                   help="activation width (default 8)")
    p.add_argument("--unsigned", action="store_true",
                   help="unsigned weights and activations (default: two's complement)")
    _acc_arg(p)
    _target_args(p)


def _target_args(p):
    """``--target-mhz F --device D``: checked against the unit's one pipeline
    (:mod:`hwgen.timing.fixed`)."""
    from .float_ops import add_target_arguments
    add_target_arguments(p)


def _target_kw(args):
    from .float_ops import target_kw
    return target_kw(args, ())


def _bsmac_build(args):
    from ..units.bsmac import BitSerialMac
    return BitSerialMac(lanes=args.lanes, weight_bits=args.weight_bits, act_bits=args.act_bits,
                        signed=not args.unsigned, acc_bits=args.acc_bits, **_target_kw(args))


def _bsmac_params(args, unit):
    from sim.bsmac import unit_params
    return unit_params(unit)


def _dpmac_args(p):
    p.add_argument("--high-bits", type=int, default=8, metavar="N",
                   help="high-mode operand width, even; low mode uses half (default 8)")
    _acc_arg(p, "4 * high-bits")
    p.add_argument("--multiplier", default="packed", choices=("packed", "split"),
                   help="packed: one (3L+2)-bit multiplier for both modes, fits one DSP block; "
                        "split: four (L+1)-bit sub-multipliers, smaller in LUTs "
                        "(default packed)")
    _target_args(p)


def _dpmac_build(args):
    from ..units.dpmac import DualPrecisionMac
    return DualPrecisionMac(high_bits=args.high_bits, acc_bits=args.acc_bits,
                            multiplier=args.multiplier, **_target_kw(args))


def _dpmac_params(args, unit):
    from sim.dpmac import unit_params
    return unit_params(unit)


def _tmac_args(p):
    p.add_argument("--lanes", type=int, default=8, metavar="K",
                   help="dot-product lanes per operation (default 8)")
    p.add_argument("--act-bits", type=int, default=8, metavar="N",
                   help="signed activation width (default 8)")
    _acc_arg(p)


def _tmac_build(args):
    from ..units.tmac import TernaryMac
    return TernaryMac(lanes=args.lanes, act_bits=args.act_bits, acc_bits=args.acc_bits)


def _tmac_params(args, unit):
    from sim.tmac import unit_params
    return unit_params(unit)


def _p2mac_args(p):
    _tmac_args(p)
    p.add_argument("--max-shift", type=int, default=7, metavar="N",
                   help="largest weight exponent: weights up to +-2^N (default 7)")


def _p2mac_build(args):
    from ..units.p2mac import Pow2Mac
    return Pow2Mac(lanes=args.lanes, act_bits=args.act_bits, max_shift=args.max_shift,
                   acc_bits=args.acc_bits)


def _p2mac_params(args, unit):
    from sim.p2mac import unit_params
    return unit_params(unit)


UNITS = [
    UnitSpec("bsmac", "bit-serial dot-product MAC, run-time precision (1 bit-plane per cycle)",
             _bsmac_args, _bsmac_build, "sim.bsmac", _bsmac_params,
             BSMAC_DESCRIPTION),
    UnitSpec("dpmac", "dual-precision MAC: one HxH or two (H/2)x(H/2) products per cycle",
             _dpmac_args, _dpmac_build, "sim.dpmac", _dpmac_params,
             DPMAC_DESCRIPTION, sim_options=("vectors", "exhaustive")),
    UnitSpec("tmac", "ternary dot-product MAC: add / subtract / skip, counts zero weights",
             _tmac_args, _tmac_build, "sim.tmac", _tmac_params, TMAC_DESCRIPTION),
    UnitSpec("p2mac", "power-of-two dot-product MAC: shift instead of multiply",
             _p2mac_args, _p2mac_build, "sim.p2mac", _p2mac_params,
             P2MAC_DESCRIPTION),
]
