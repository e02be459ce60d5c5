"""``hwgen prove fmul|fadd|ffma ...``: formal proofs of a float operator (docs/verification.md)."""

from pathlib import Path

from ._command import Command, fail

__all__ = ["COMMAND"]

_HELP = "prove a float operator's pipeline (or its e2m1 table) with SymbiYosys"

_EPILOG = """\
Examples:
  hwgen prove fmul --format e4m3 --rounding dynamic --latency 3
  hwgen prove ffma --format e4m3 --target-mhz 50 --device ecp5-85f
  hwgen prove fadd --format e2m1 --rounding dynamic --table

A pipeline proof is k-induction (every reachable state, every input sequence): the pipelined
unit's out_valid is in_valid delayed by its latency, and its y and flags are the unpipelined
unit's for the operands of that many cycles before. --table proves a combinational unit equal
to the golden model's table of results for every input (small formats only). Exit status 0
when proven, 1 when a counterexample was found (its VCD trace is named), 2 for bad options."""

_OPS = ("fmul", "fadd", "ffma")


def add_arguments(p):
    p.add_argument("op", metavar="fmul|fadd|ffma", help="the operator")
    p.add_argument("--format", default="e4m3", metavar="F",
                   help="operand and result format (default e4m3; the proof grows with it)")
    p.add_argument("--rounding", default="rne", metavar="R",
                   help="rne | rtz | rdn | rup | rna | dynamic (default rne)")
    p.add_argument("--no-flags", dest="flags", action="store_false",
                   help="the unit without flags (its y alone is checked)")
    p.add_argument("--product", default="auto", metavar="P",
                   help="fmul/ffma: how the significand product is built, as hwgen generate's "
                        "--product (auto, booth, logic, shiftadd)")
    p.add_argument("--latency", type=int, default=None, metavar="N",
                   help="prove the fixed-table pipeline of N stages")
    p.add_argument("--target-mhz", type=float, default=None, metavar="F",
                   help="prove the pipeline the planner places for F MHz on --device")
    p.add_argument("--device", default=None, metavar="D", help="the FPGA of --target-mhz")
    p.add_argument("--all-cuts", action="store_true", help="prove the pipeline with every cut")
    p.add_argument("--table", action="store_true",
                   help="prove the unpipelined unit equal to the golden model's table")
    p.add_argument("--depth", type=int, default=None, metavar="K",
                   help="induction depth (default: the latency + 2)")
    p.add_argument("-o", "--output", default=None, metavar="DIR",
                   help="SymbiYosys folder (default: build/prove/<unit>)")


def run(args):
    from ..catalog.float_ops import PRODUCTS, TIMING_DEVICES
    from ..units import FloatAdder, FloatFMA, FloatMultiplier
    from ..verify import PipelineMiter, TableMiter, prove
    if args.op not in _OPS:
        return fail(f"the operator must be one of {', '.join(_OPS)}, not {args.op!r}")
    if args.product not in PRODUCTS:
        return fail(f"--product must be one of {', '.join(PRODUCTS)}, not {args.product!r}")
    if args.product != "auto" and args.op == "fadd":
        return fail(f"--product {args.product}: fadd has no significand product "
                    f"(fmul and ffma have)")
    options = dict(flags=args.flags, **({"product": args.product}
                                        if args.product != "auto" else {}))
    ways = [w for w, on in (("--latency", args.latency is not None),
                            ("--target-mhz", args.target_mhz is not None),
                            ("--all-cuts", args.all_cuts), ("--table", args.table)) if on]
    if len(ways) != 1:
        return fail("give one of --latency N, --target-mhz F --device D, --all-cuts, --table"
                    + (f" (got {' and '.join(ways)})" if ways else ""))
    if args.device is not None and args.target_mhz is None:
        return fail(f"--device {args.device}: only used with --target-mhz")
    if args.target_mhz is not None:
        if args.device not in TIMING_DEVICES:
            return fail(f"--target-mhz needs --device: one of {', '.join(TIMING_DEVICES)}"
                        + (f", not {args.device!r}" if args.device else ""))
        if not args.target_mhz > 0:
            return fail(f"--target-mhz must be a positive number of MHz, not "
                        f"{args.target_mhz:g}")
    if args.depth is not None and args.depth < 1:
        return fail(f"--depth must be a positive integer, not {args.depth}")
    cls = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}[args.op]
    if args.table:
        from ..formats import parse_format
        fmt = parse_format(args.format)
        n = len({"fmul": "ab", "fadd": "ab", "ffma": "abc"}[args.op])
        if fmt.width * n > 12:
            return fail(f"--table: {args.op} {args.format} has 2**{fmt.width * n} inputs; the "
                        f"table proof takes at most 2**12 (e2m1 units)")
        design = TableMiter(args.op, args.format, rounding=args.rounding, unit_kwargs=options)
        mode, depth, what = "bmc", 1, "the golden model's table"
    else:
        if args.latency is not None:
            pipe = dict(latency=args.latency)
        elif args.all_cuts:
            pipe = dict(cuts=list(cls(args.format, **options).cut_points))
        else:
            pipe = dict(target_mhz=args.target_mhz, device=args.device)
        design = PipelineMiter(args.op, args.format, rounding=args.rounding,
                               dut_kwargs=dict(pipe, **options))
        mode, what = "prove", "the unpipelined unit"
        depth = args.depth if args.depth is not None else design.dut.latency + 2
    unit = design.unit if args.table else design.dut
    out = Path(args.output) if args.output else Path("build") / "prove" / unit.module_name
    how = f"k-induction, depth {depth}" if mode == "prove" else "every input"
    print(f"proving {unit.module_name} equal to {what} ({how}) in {out}")
    r = prove(design, out, mode=mode, depth=depth)
    if r.status == "pass":
        print(f"proven in {r.seconds:.1f} s")
        return 0
    if r.status == "fail":
        print(f"counterexample: {r.trace}")
        return 1
    return fail(f"no proof ({r.status}); see {out / 'miter' / 'logfile.txt'}", 1)


COMMAND = Command("prove", help=_HELP, description=_HELP + ".", epilog=_EPILOG, raw_text=True,
                  add_arguments=add_arguments, run=run)
