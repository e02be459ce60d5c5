"""``hwgen explore``: which precision should I build?

``hwgen explore --model NAME_OR_FILE [--data FILE.npz] [--formats SPEC] [--target-loss 1%]
[--search exhaustive|fast|both] [--accumulate rounded|fused|exact]
[--device up5k|ecp5-85f|hx8k|ecp5-25f]
[--no-synth] [-o DIR]`` prints a table of the candidates, writes ``explore_<model>.json``
and ``explore_<model>.png`` (accuracy against cost, Pareto front) into ``DIR`` and prints
the ``hwgen generate``/``hwgen build`` commands for the chosen format
(:func:`hwgen.explore.report.explore`). ``hwgen explore --list-models`` prints the built-in
models, one per line, name first.
"""

import sys

from ._command import Command

__all__ = ["COMMAND"]

_HELP = "find the cheapest number format that keeps a model's accuracy (Hill et al.)"

_EPILOG = """\
SPEC (--formats): comma-separated items, their union:
  fp32, e4m3, e6m7_none ...   one float format (hwgen formats NAME)
  eA-BmC-D                    exponents A..B x mantissas C..D (e3-6m2-7, e5m2-7, e3-6m3)
  fxN, fxA-B (intN)           fixed point, N bits, power-of-two scale per tensor
  bsW, bsA-B, bsWxA, bsW@B    bit-serial PE: W-bit weights (A-bit activations, default 8),
                              top B bit-planes at run time (bs8@2-7); B cycles per MAC
  floats, fixed, default      the default grids (default = floats,fixed)
  bitserial                   bs2..bs16
  mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4_e2m1, mxint8, mx (all six)
                              OCP MX: 32-element blocks along K with E8M0 scales, exact
                              block sums, FP32 accumulation (cost: an 8-lane mxdot unit)
--target-loss: allowed loss of accuracy relative to the float64 model, 1% or 0.01.
Every multiply and every accumulate is rounded in the candidate format (--accumulate rounded,
the golden FloatMac semantics). Cost = out-of-context synthesis of the candidate's MAC
(FloatMac, IntMac or an 8-lane BitSerialMac, counted as 8/B MACs per cycle) on --device,
cached on disk; speedup = (area_fp32/area)*(fmax/fmax_fp32)*(MACs per cycle) with area
the largest fraction of any device resource the MAC uses. Without the synthesis flow the
report says "cost: not measured" and candidates are ranked by width.
--verify-rtl N: candidate -> array PE: fxN -> intN, F -> F:F:rounded (F:F:fused,
F:exact:F with --accumulate), bsWxA@B -> bsWxA with run-time bits B (ws only); each MAC
layer's GEMM on the RTL must equal the emulation's dot products (before the bias) bit for
bit; see hwgen/explore/rtl.py.
"""


def add_arguments(p):
    from ..explore.report import MAX_RTL_CANDIDATES
    p.add_argument("--model", metavar="NAME_OR_FILE",
                   help="a built-in model (--list-models), a model .npz file or an ONNX file "
                        "(formats: docs/models.md)")
    p.add_argument("--data", metavar="FILE.npz", default=None,
                   help="test data (keys x_test, y_test, optional x_calib: raw inputs, see "
                        "docs/models.md); needed for an ONNX model")
    p.add_argument("--list-models", action="store_true", help="list the built-in models")
    p.add_argument("--formats", metavar="SPEC", default=None,
                   help="candidates (default: the default float grid and fixed point 4..32)")
    p.add_argument("--target-loss", metavar="LOSS", default="1%",
                   help="allowed relative accuracy loss, e.g. 1%% or 0.003 (default 1%%)")
    p.add_argument("--search", choices=["exhaustive", "fast", "both"], default="exhaustive",
                   help="exhaustive sweep, the fast R² search, or both and compare "
                        "(default exhaustive)")
    p.add_argument("--accumulate", choices=["rounded", "fused", "exact"], default="rounded",
                   help="float MAC accumulation (default rounded: Hill et al.)")
    p.add_argument("--device", default="up5k", metavar="DEVICE",
                   help="device for the cost: up5k, ecp5-85f, hx8k or ecp5-25f (default "
                        "up5k; the suggested hwgen build is for the board carrying it: "
                        "up5k iCEBreaker, ecp5-85f ULX3S)")
    p.add_argument("--no-synth", action="store_true",
                   help="use only cached costs; synthesize nothing")
    p.add_argument("-o", "--output", metavar="DIR", default=".",
                   help="directory for the JSON report and the plot (default .)")
    p.add_argument("--verify-rtl", metavar="N", type=int, default=None,
                   help="also run the first N test inputs through the systolic array RTL "
                        "(cocotb, Verilator) for each candidate of --formats (at most "
                        f"{MAX_RTL_CANDIDATES}) and check every layer bit for bit against the "
                        "emulation")
    p.add_argument("--rtl-array", metavar="RxC", default="4x4",
                   help="array shape for --verify-rtl (default 4x4)")
    p.add_argument("--rtl-dataflow", choices=["ws", "os"], default="ws",
                   help="array dataflow for --verify-rtl (default ws)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="synthesize the candidates' costs and evaluate their accuracy on this "
                        "Dask scheduler (default: $HWGEN_SCHEDULER, else a local cluster of "
                        "this machine's cores; evaluations stay in this process when they "
                        "are quick)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local Dask workers for the cost syntheses and accuracy evaluations "
                        "(1: serially, no Dask)")


def run(args):
    """Run ``hwgen explore``; returns the exit status (0, or 1 when ``--verify-rtl`` finds a
    difference).

    Raises
    ------
    ValueError
        A bad argument (unknown model, format SPEC, target, device); one line.
    """
    from ..explore.models import list_models
    from ..explore.report import explore
    if args.list_models:
        for flag, value in (("--model", args.model), ("--data", args.data)):
            if value is not None:
                raise ValueError(f"--list-models takes no {flag} (got {value!r})")
        for name, desc in list_models():
            print(f"{name}  {desc}")
        return 0
    if not args.model:
        raise ValueError("explore needs --model NAME_OR_FILE (or --list-models)")
    from ..flow.sweep import SweepError, check_scheduler, check_workers
    try:
        scheduler = check_scheduler(args.scheduler)
    except SweepError as e:
        raise ValueError(f"--scheduler: {e}") from None
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be a positive integer, not {args.workers}")
    workers = check_workers(args.workers)
    if scheduler is not None and workers is not None:
        raise ValueError("--scheduler and --workers: give one (a cluster's workers, or N "
                         "local ones)")
    report = explore(args.model, data=args.data, formats=args.formats, target_loss=args.target_loss,
                     search=args.search, accumulate=args.accumulate, device=args.device,
                     synthesize=not args.no_synth, output=args.output,
                     verify_rtl=args.verify_rtl, rtl_array=args.rtl_array,
                     rtl_dataflow=args.rtl_dataflow, progress=not args.quiet,
                     scheduler=scheduler, workers=workers)
    if "verify_rtl" in report and not all(r["passed"] for r in report["verify_rtl"]):
        print("hwgen: RTL check failed: the array and the emulation differ", file=sys.stderr)
        return 1
    return 0


COMMAND = Command("explore", help=_HELP, description=_HELP.capitalize() + ".",
                  epilog=_EPILOG, raw_text=True, add_arguments=add_arguments, run=run)
