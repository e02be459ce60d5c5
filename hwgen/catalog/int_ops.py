# amaranth: UnusedElaboratable=no
# (a unit whose parameters are rejected is never elaborated; the CLI reports the error)
"""Catalog entries of the integer units: ``imac`` (integer MAC) and ``requant``
(integer-only requantization)."""

from . import UnitSpec

__all__ = ["UNITS"]


def _imac_args(p):
    p.add_argument("--a-bits", type=int, default=8, metavar="N",
                   help="width of operand a (default 8)")
    p.add_argument("--b-bits", type=int, default=8, metavar="N",
                   help="width of operand b (default 8)")
    p.add_argument("--acc-bits", type=int, default=32, metavar="N",
                   help="accumulator width, wraps modulo 2**N (default 32)")
    p.add_argument("--unsigned", action="store_true",
                   help="unsigned operands and accumulator (default: two's complement)")


def _imac_build(args):
    from ..units.imac import IntMac
    return IntMac(args.a_bits, args.b_bits, args.acc_bits, signed=not args.unsigned)


def _imac_params(args, unit):
    from sim.imac import unit_params
    return unit_params(unit)


def _requant_args(p):
    p.add_argument("--acc-bits", type=int, default=32, metavar="N",
                   help="width of the accumulator and bias inputs, 2..32 (default 32)")
    p.add_argument("--out-bits", type=int, default=8, metavar="N",
                   help="output width, 2..16 (default 8)")
    p.add_argument("--unsigned", action="store_true",
                   help="unsigned output (uint8-style; default: int8-style)")
    p.add_argument("--per-channel", type=int, default=None, metavar="N",
                   help="N-entry register file of multipliers/shifts, selected per item "
                        "(default: per-tensor multiplier/shift ports)")
    from .float_ops import add_target_arguments
    add_target_arguments(p)


def _requant_build(args):
    from ..units.requant import Requantize
    from .float_ops import target_kw
    return Requantize(args.acc_bits, args.out_bits, signed_out=not args.unsigned,
                      per_channel=args.per_channel, **target_kw(args, ()))


def _requant_params(args, unit):
    from sim.requant import unit_params
    return unit_params(unit)


_STREAMS = """\
Streams flatten to <name>__payload, <name>__valid, <name>__ready (a struct payload is one
vector, first field in the low bits); a transfer happens on a clock edge where valid and ready
are both high. clk and rst (synchronous, active high) drive the unit."""

_IMAC_DOC = _STREAMS + """

ports:
  i__payload  {a, b, last}: a in the low a-bits, then b, then last (top bit)
  o__payload  one result per dot product (the sum of a*b up to and including the item
              with last); the accumulator restarts from 0 after each last and on reset,
              and wraps modulo 2**acc-bits
One product per clock; a result is valid 2 clocks after its last item was taken."""

_REQUANT_DOC = _STREAMS + """

o = clamp(RoundingDivideByPOT(SRDHM((acc + bias) << max(shift,0), multiplier),
          max(-shift,0)) + zero_point, act_min, act_max)     (TFLite/gemmlowp, bit-exact)
ports:
  i__payload   {acc, bias[, ch]}: acc in the low acc-bits, then bias, then the channel
  multiplier   int32 M0 (Q31) and shift (int6, positive = left) from QuantizeMultiplier;
  shift        per-tensor only
  wr__en/addr/multiplier/shift   per-channel register-file write port (one entry per clock;
               an out-of-range ch reads multiplier 0)
  zero_point   signed out-bits+1
  act_min/max  clamp bounds in the output type (none/ReLU/ReLU6 are bounds: see
               hwgen.golden.requant.activation_range)
Configuration is sampled with each item as it is taken; one item per clock, latency 4."""

UNITS = [
    UnitSpec(
        name="imac",
        help="integer MAC (int8 x int8 -> int32 by default) with stream ports",
        add_arguments=_imac_args,
        build=_imac_build,
        test_module="sim.imac",
        sim_params=_imac_params,
        description=_IMAC_DOC,
    ),
    UnitSpec(
        name="requant",
        help="integer-only requantization int32 -> int8/uint8 (TFLite/gemmlowp)",
        add_arguments=_requant_args,
        build=_requant_build,
        test_module="sim.requant",
        sim_params=_requant_params,
        description=_REQUANT_DOC,
    ),
]
