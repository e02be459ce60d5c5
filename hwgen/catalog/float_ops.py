"""Catalog entries of the float operators: ``fmul``, ``fadd``, ``ffma``."""

import argparse

from . import CliError, UnitSpec

__all__ = ["UNITS"]

_ROUNDINGS = ("rne", "rtz", "rdn", "rup", "rna", "dynamic")

_COMMON = """\
Formats are presets (fp32 fp16 bf16 tf32 e4m3 e5m2 e3m2 e2m3 e2m1) or eXmY with optional
suffixes (_ieee _fn _none _bN _bmN _ftz _sat _ovnan _ovinf); see `hwgen formats`.

Verilog ports of the top module:
{inputs}
  rm        input  [2:0]   only with --rounding dynamic: RISC-V frm code
                           (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna; 5..7 behave as rne)
  clk, rst  input          only with --latency N > 0 (rst: synchronous, active high)
  in_valid  input          only with --latency N > 0
  y         output         the result in the output format
  flags     output [3:0]   bit 0 inexact, bit 1 underflow, bit 2 overflow, bit 3 invalid
                           (absent with --no-flags)
  out_valid output         only with --latency N > 0: in_valid delayed by N cycles;
                           y and flags belong to the inputs of N cycles earlier
Semantics are those of the golden model (hwgen.golden): IEEE 754 with tininess detected after
rounding, canonical quiet NaN results, flush-to-zero for _ftz formats. The module name encodes
the parameters, e.g. {example}.
"""


def _add_common(p, inputs, latency_help):
    p.add_argument("--format", default="e4m3", metavar="F",
                   help="format of a (and of the other operands and y unless given; "
                        "default e4m3)")
    p.add_argument("--out-format", default=None, metavar="F",
                   help="format of y (default: --format)")
    p.add_argument("--b-format", default=None, metavar="F",
                   help="format of b (default: --format)")
    if "c" in inputs:
        p.add_argument("--c-format", default=None, metavar="F",
                       help="format of c (default: --format)")
    p.add_argument("--rounding", default="rne", choices=_ROUNDINGS,
                   help="rounding mode, or 'dynamic' for a run-time rm input (default rne)")
    p.add_argument("--no-flags", dest="flags", action="store_false",
                   help="leave out the exception flags: no flags port and none of the logic "
                        "only they need (module name ..._noflags)")
    p.add_argument("--latency", type=int, default=None, metavar="N", help=latency_help)
    add_target_arguments(p)


#: The devices the delay model of hwgen.timing knows (hwgen.timing.DEVICE_NAMES; kept as text
#: so that building the parser imports no Amaranth; a test compares).
TIMING_DEVICES = ("up5k", "hx8k", "ecp5-25f", "ecp5-85f")


def add_target_arguments(p):
    """``--target-mhz F`` and ``--device D``: frequency-directed pipelining."""
    p.add_argument("--target-mhz", type=float, default=None, metavar="F",
                   help="pipeline for an F MHz clock on --device: the generator places the "
                        "fewest registers whose every stage the device's delay model "
                        "estimates to fit (instead of --latency); prints the chosen latency")
    p.add_argument("--device", default=None, metavar="D",
                   help=f"the FPGA of --target-mhz: {', '.join(TIMING_DEVICES)} (for hwgen "
                        f"synth, the device synthesized for)")


def target_kw(args, latency_opts=("latency",)):
    """``{latency, target_mhz, device}`` for a pipelinable unit from ``--latency``,
    ``--target-mhz`` and ``--device``, checked (:class:`CliError` names the option).
    ``latency_opts``: the unit's own latency options instead of ``--latency`` (arrays:
    ``mul_latency``, ``add_latency``), returned as they are without ``--target-mhz``."""
    import math
    target, device = args.target_mhz, args.device
    lat = {o: getattr(args, o) for o in latency_opts}
    if target is None:
        if device is not None and args.command != "synth":
            raise CliError(f"--device {device}: only used with --target-mhz (the device "
                           f"the pipeline is planned for)")
        return lat
    if not (math.isfinite(target) and target > 0):
        raise CliError(f"--target-mhz must be a positive number of MHz, not {target:g}")
    # --latency defaults to None; the arrays' --mul-latency/--add-latency to 0
    given = [(o, v) for o, v in lat.items() if v is not None and (v or o == "latency")]
    if given:
        o, v = given[0]
        raise CliError(f"--{o.replace('_', '-')} {v} and --target-mhz {target:g}: give one of "
                       f"them")
    if device is None:
        raise CliError(f"--target-mhz {target:g} needs --device: one of "
                       f"{', '.join(TIMING_DEVICES)}")
    if device not in TIMING_DEVICES:
        raise CliError(f"--device {device!r}: the delay model knows "
                       f"{', '.join(TIMING_DEVICES)}")
    return dict(target_mhz=target, device=device)


#: How a multiplying operator builds its significand product (hwgen.units.booth.PRODUCTS;
#: kept as text so that building the parser imports no Amaranth; a test compares).
PRODUCTS = ("auto", "booth", "logic", "shiftadd")


def _add_product(p):
    p.add_argument("--product", default="auto", choices=PRODUCTS,
                   help="the significand product: auto (a * b, a DSP block where the device "
                        "has one; default), booth (radix-4 Booth partial products in logic: "
                        "smaller for 8+-bit significands on a device without DSP blocks, "
                        "e.g. hx8k; module name ..._booth), logic (rows of AND gates, "
                        "never a DSP block; module name ..._logic) or shiftadd (one "
                        "conditional add per bit of b: the smallest product on an iCE40 without "
                        "DSP blocks, slower than booth; module name ..._shiftadd)")


def _fmt_opt(args, opt):
    from ..units.floatraw import check_float_format
    value = getattr(args, opt.replace("-", "_"))
    if value is None:
        return None
    try:
        return check_float_format(value, "Format")
    except (TypeError, ValueError) as e:
        raise CliError(f"--{opt}: {e}") from None


def _kw(args, inputs):
    kw = dict(out_fmt=_fmt_opt(args, "out-format"), b_fmt=_fmt_opt(args, "b-format"),
              rounding=args.rounding, flags=args.flags, **target_kw(args))
    if "c" in inputs:
        kw["c_fmt"] = _fmt_opt(args, "c-format")
    return _fmt_opt(args, "format"), kw


def _checked(op, fmt, kw, args, subtract=None):
    """Refuse ``--exhaustive`` (``hwgen sim``) on input spaces above
    :data:`sim.floatop.MAX_EXHAUSTIVE`, from the parameters alone, before building."""
    if getattr(args, "exhaustive", False):
        from sim.floatop import MAX_EXHAUSTIVE, input_space
        p = dict(op=op, fmt=fmt, b_fmt=kw["b_fmt"], c_fmt=kw.get("c_fmt"),
                 rounding=kw["rounding"], subtract=subtract)
        space = input_space(p)
        if space > MAX_EXHAUSTIVE:
            raise CliError(f"--exhaustive: {op} --format {fmt} has {space:,} input "
                           f"combinations, more than 2**26 = {MAX_EXHAUSTIVE:,}; "
                           f"use --vectors N")


def _build_fmul(args):
    from ..units import FloatMultiplier
    fmt, kw = _kw(args, "ab")
    _checked("fmul", fmt, kw, args)
    return FloatMultiplier(fmt, product=args.product, **kw)


def _build_fadd(args):
    from ..units import FloatAdder
    fmt, kw = _kw(args, "ab")
    _checked("fadd", fmt, kw, args, subtract=args.subtract)
    return FloatAdder(fmt, subtract=args.subtract, **kw)


def _build_ffma(args):
    from ..units import FloatFMA
    fmt, kw = _kw(args, "abc")
    _checked("ffma", fmt, kw, args)
    return FloatFMA(fmt, product=args.product, **kw)


def _subtract(value):
    if value != "dynamic":
        raise argparse.ArgumentTypeError(f"must be given alone or as 'dynamic', not {value!r}")
    return value


def _sim_params(args, comp):
    """What the cocotb test (:mod:`sim.floatop`) needs to rebuild the golden expectations."""
    from sim.floatop import unit_params
    return unit_params(comp)


def _sim_top(comp, params):
    """An operator is simulated as :data:`sim.floatop.CLI_LANES` copies side by side (one
    simulator step checks that many vectors, :func:`sim.floatop.group_wrapper`); a pipelined
    one's copies share the random ``in_valid`` pattern, each checked cycle by cycle."""
    from sim.floatop import cli_top
    return cli_top(comp, params)


_LAT = ("pipeline stages (default 0 = combinational); registers go {cuts}")

UNITS = [
    UnitSpec(
        "fmul", "floating-point multiplier y = a * b (any ExMy formats)",
        lambda p: (_add_common(p, "ab", _LAT.format(
            cuts="1: after normalization; 2: also after the multiplier; 3: also on the "
                 "outputs")), _add_product(p)),
        _build_fmul, "sim.fmul", _sim_params,
        _COMMON.format(inputs="  a, b      input          operands (formats --format, --b-format)",
                       example="fmul_e4m3_rne, fmul_e4m3_fp16_dyn_l2"),
        sim_options=("vectors", "exhaustive"), sim_top=_sim_top),
    UnitSpec(
        "fadd", "floating-point adder y = a + b, or a - b (any ExMy formats)",
        lambda p: (_add_common(p, "ab", _LAT.format(
            cuts="1: after normalization; 2: also after the alignment and add; "
                 "3: also on the outputs")),
            p.add_argument("--subtract", nargs="?", const=True, default=False, type=_subtract,
                           metavar="dynamic",
                           help="compute a - b; '--subtract dynamic' adds an input op "
                                "(1 = subtract)")),
        _build_fadd, "sim.fadd", _sim_params,
        _COMMON.format(inputs="  a, b      input          operands (formats --format, --b-format)\n"
                              "  op        input          only with --subtract dynamic: "
                              "1 computes a - b",
                       example="fadd_bf16_fp32_fp32_dyn_l2, fsub_e4m3_rne, faddsub_fp16_rne"),
        sim_options=("vectors", "exhaustive"), sim_top=_sim_top),
    UnitSpec(
        "ffma", "fused multiply-add y = a * b + c with one rounding (any ExMy formats)",
        lambda p: (_add_common(p, "abc", _LAT.format(
            cuts="1: after normalization; 2: also after the add; 3: also after the multiplier "
                 "and addend alignment; 4: also on the outputs")), _add_product(p)),
        _build_ffma, "sim.ffma", _sim_params,
        _COMMON.format(inputs="  a, b, c   input          operands (formats --format, "
                              "--b-format, --c-format)",
                       example="ffma_bf16_rne, ffma_bf16_bf16_fp32_fp32_dyn_l3"),
        sim_options=("vectors", "exhaustive"), sim_top=_sim_top),
]
