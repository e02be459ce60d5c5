"""Arrays: ``array`` (:class:`hwgen.arrays.systolic.SystolicArray`).

``hwgen generate array [--rows 4] [--cols 4] [--pe int8] [--dataflow ws] [--mul-latency 0]
[--add-latency 0 | --target-mhz F --device D] [--flow stall|credit] [--enable-copies]
-o FILE.v`` and
``hwgen sim array ... [--m 32 --k 32 --n 32]`` (one M×K × K×N GEMM through the host tiler,
random idle cycles and back-pressure, checked bit for bit against ``golden.matmul``).
"""

from ..pespec import PE_GRAMMAR
from . import CliError, UnitSpec
from .float_ops import add_target_arguments, target_kw

__all__ = ["UNITS", "add_pe_pipeline_args", "add_flow_argument"]

_PE_HELP = (f"PE spec: {PE_GRAMMAR}; bsWxA bit-serial, dpH dual-precision, mx:E OCP MX "
            "blocks (os only); e.g. int8, e4m3:fp16:rounded, e4m3:exact, bf16:fp32:fused, "
            "bs8x8, dp8, mx:e4m3 (default int8)")

_DESCRIPTION = """\
Verilog ports (R = rows, C = cols; stream payloads are one vector, first element in the low
bits; a = activation, w = weight, acc = running sum, y = result, of the PE):
  clk, rst
  weights__payload/valid/ready   C weights: ws, row k of the R x C weight tile (R transfers
                                 per tile, double-buffered); os, row k of the B tile
  acts__payload/valid/ready      ws: {a[R], psum[C], last}: one row of A with the partial
                                 sums it adds to, last on the final row for this weight tile
                                 (bit-serial bsWxA PEs: {a[R], psum[C], last, bits}, bits =
                                 weight planes to use, MSB first, 1..W; one row per bits
                                 cycles)
                                 os: {a[R], last}: column k of the A tile, last on k = K-1
                                 (bsWxA: {a[R], last, bits}; one column per bits cycles)
  results__payload/valid/ready   C results: ws, one row per acts row (exact PEs: {y, acc}
                                 per element, acc to feed back as the next psum); os, the
                                 R x C tile as R rows
MX PEs (mx:E[:EB], os only): each a and w is {scale, code}: the element code in the low bits,
the block's E8M0 scale above it; K comes in whole blocks of 32 (a block's scale is the one
its last word carries); results are FP32 encodings. --add-latency pipelines the columns'
FP32 accumulation (0..6).
Partial sums across K-tiles (ws) accumulate in the array: the host sends each result row back
as the psum of the same row of the next K-tile. See hwgen/arrays/systolic.py."""


def add_pe_pipeline_args(p, default=0):
    """``--mul-latency`` and ``--add-latency`` (shared by ``generate/sim array``, ``build``
    and ``gemm``; ``default``: the value when not given)."""
    p.add_argument("--mul-latency", type=int, default=default, metavar="N",
                   help="PE pipeline (float PEs of weight-stationary arrays, exact and "
                        "windowed PEs in both dataflows): register stages in the "
                        "multiplier (rounded: 0..3) or the product path (exact: 0..2); "
                        "default 0")
    p.add_argument("--add-latency", type=int, default=default, metavar="N",
                   help="PE pipeline (as --mul-latency): register stages in the "
                        "adder (rounded: 0..3), the FMA (fused: 0..4) or the column read-out "
                        "(exact: 0..3); default 0. Raises Fmax, results unchanged")


def add_flow_argument(p):
    """``--flow stall|credit`` (``generate/sim/synth array`` and ``build``)."""
    from ..arrayspec import FLOWS
    p.add_argument("--flow", choices=FLOWS, default="stall",
                   help="flow control: stall, back-pressure on results stops the whole "
                        "array through one enable (the default); credit, the array never "
                        "stops and takes an input only while its results have a place in a "
                        "FIFO sized for full rate (no enable: faster large arrays, a deeper "
                        "FIFO; module name ends in _credit)")


def _add_arguments(p):
    p.add_argument("--rows", type=int, default=4, metavar="R", help="array rows (default 4)")
    p.add_argument("--cols", type=int, default=4, metavar="C", help="array columns (default 4)")
    p.add_argument("--pe", default="int8", metavar="SPEC", help=_PE_HELP)
    p.add_argument("--dataflow", choices=["ws", "os"], default="ws",
                   help="weight-stationary or output-stationary (default ws)")
    add_pe_pipeline_args(p)
    add_target_arguments(p)
    add_flow_argument(p)
    p.add_argument("--enable-copies", action="store_true",
                   help="stall flow on the ECP5: give each PE, skew and read-out its own copy "
                        "of the stall enable register instead of one register driving the "
                        "whole array (not with --flow credit; iCE40 and bit-serial arrays "
                        "keep one)")
    if " sim" in f" {p.prog}":
        for flag in ("m", "k", "n"):
            p.add_argument(f"--{flag}", type=int, default=32, metavar=flag.upper(),
                           help=f"GEMM dimension {flag.upper()} (default 32)")


def _build(a):
    from ..arrays.systolic import SystolicArray
    for flag in ("m", "k", "n"):
        v = getattr(a, flag, 1)
        if v is None or v < 1:
            raise CliError(f"--{flag} must be a positive integer, not {v}")
    if a.enable_copies and a.flow == "credit":
        raise CliError("--enable-copies copies the stall enable; --flow credit has none "
                       "(use one of them)")
    return SystolicArray(a.rows, a.cols, a.pe, a.dataflow, flow=a.flow,
                         enable_copies=a.enable_copies,
                         **target_kw(a, ("mul_latency", "add_latency")))


def _sim_params(a, comp):
    from sim.systolic import unit_params
    return dict(unit_params(comp), m=a.m, k=a.k, n=a.n)


UNITS = [
    UnitSpec(
        name="array",
        help="systolic array (weight- or output-stationary) of int, float, bit-serial or "
             "ternary PEs",
        add_arguments=_add_arguments,
        build=_build,
        test_module="sim.systolic",
        sim_params=_sim_params,
        description=_DESCRIPTION,
        sim_options=(),      # a fixed set of GEMMs (sim/systolic.py)
    ),
]
