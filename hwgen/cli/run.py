"""``hwgen run``: a model's test inputs through the accelerator on a board (simulated, or real
with ``--port``), every score checked against the explorer's emulation
(:mod:`hwgen.explore.netrun`)."""

from ._command import Command, fail

__all__ = ["COMMAND"]

_HELP = ("run a model's test inputs on a board (simulated under Verilator, or real with "
         "--port): accuracy, bit-exactness against the emulation, cycles, bytes, inferences/s")

_EPILOG = """\
The PE sets the explorer candidate whose arithmetic the board computes: intN -> fxN,
F:F:rounded / F:F:fused / F:exact:F -> F with that accumulation. One inference at a time.
Chained (the default where it applies: a square ws intN or F:F:rounded/fused array, the
board built with --network, a model of dense and conv2d layers with ReLUs and max pools
after convolutions): the weights, biases and a layer table are written once and each
inference is one INFER frame, the layers running on chip with a convolution's im2col rows
gathered and the bias, re-quantization, ReLU and pooling in hardware; a couple of inputs
are also run
layer by layer for comparison. Otherwise (or with --layer-by-layer) each dense/conv2d
layer's GEMM runs on the board's systolic array through hwgen.host.Accelerator and the host
applies bias, re-quantization, activations and pooling between layers (the emulation's
code). Either way
the board's scores equal the emulation's bit for bit when the hardware is right.
cycles/inference counts the board's clock, UART transfers included (measured on the
simulated board; with --port, wall time times the clock).
Model and data files: docs/models.md; the protocol: docs/protocol.md."""


def add_arguments(p):
    from ..catalog.arrays import add_pe_pipeline_args
    p.add_argument("model", metavar="MODEL",
                   help="a built-in model (hwgen explore --list-models), a model .npz or an "
                        "ONNX file")
    p.add_argument("--data", metavar="FILE.npz", default=None,
                   help="test data (x_test, y_test, optional x_calib; docs/models.md); "
                        "needed for an ONNX model")
    p.add_argument("--pe", required=True, metavar="SPEC",
                   help="the array's PE: intN, F:F:rounded, F:F:fused or F:exact:F")
    p.add_argument("--rows", type=int, required=True, metavar="R", help="array rows")
    p.add_argument("--cols", type=int, required=True, metavar="C", help="array columns")
    p.add_argument("--board", required=True, metavar="BOARD",
                   help="icebreaker or ulx3s-85f: the board simulated (its clock, UART and "
                        "buffers), or the one on --port")
    p.add_argument("--dataflow", default="ws", metavar="ws|os",
                   help="weight-stationary (ws, default) or output-stationary (os)")
    add_pe_pipeline_args(p)
    p.add_argument("--layer-by-layer", action="store_true",
                   help="run each layer's GEMM on the board and the rest on the host, even "
                        "where the layers could chain on chip (the simulated board is then "
                        "built without the network extension)")
    p.add_argument("--inputs", type=int, default=64, metavar="N",
                   help="test inputs to run (default 64, at most the model's)")
    p.add_argument("--port", default=None, metavar="PORT",
                   help="a real board on this serial port (host extra) instead of the "
                        "simulated one; its IDENTIFY must match the options")
    p.add_argument("--baud", type=int, default=None, metavar="BAUD",
                   help="UART baud rate (default 1000000, the board's)")
    p.add_argument("--clock-mhz", type=float, default=None, metavar="F",
                   help="simulate the board clocked by its PLL at F MHz (as hwgen build "
                        "--clock-mhz F; default: the oscillator's clock); not with --port "
                        "(a real board runs at the clock it was built for)")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="also write the report as JSON to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _check(args):
    """Every option, before any work: the first bad one's message, else None."""
    import boards

    from ..explore.netrun import candidate_for
    from ._options import json_file_error
    if args.board not in boards.BOARDS:
        return (f"--board must be one of {', '.join(boards.board_names())}, not "
                f"{args.board!r}")
    if args.dataflow not in ("ws", "os"):
        return f"--dataflow must be ws or os, not {args.dataflow!r}"
    if args.inputs < 1:
        return f"--inputs must be a positive number of inputs, not {args.inputs}"
    if args.baud is not None and args.baud <= 0:
        return f"--baud must be a positive number of bits per second, not {args.baud}"
    if (bad := json_file_error("--json", args.json)) is not None:
        return bad
    if args.clock_mhz is not None and args.port is not None:
        return (f"--clock-mhz {args.clock_mhz:g} sets the simulated board's clock; a real "
                f"board (--port) runs at the clock it was built for")
    candidate_for(args.pe)                          # raises ValueError: one line
    from boards.top import BoardTop
    BoardTop(args.board, args.rows, args.cols, args.pe, args.dataflow, baud=args.baud,
             mul_latency=args.mul_latency, add_latency=args.add_latency,
             clock_mhz=args.clock_mhz).unbuilt()
    return None


def _open(args):
    from ._options import open_accelerator
    acc, where = open_accelerator(args, network=not args.layer_by_layer and
                                  _chains(args))
    if args.port is None:
        return acc, where
    from ..arrayspec import ArraySpec
    want = ArraySpec(args.rows, args.cols, args.pe, args.dataflow, args.mul_latency,
                     args.add_latency)
    have = acc.array
    if have.module_name != want.module_name:
        acc.close()
        raise ValueError(f"The board on {args.port} has {have.module_name}, not "
                         f"{want.module_name} (--rows/--cols/--pe/--dataflow)")
    return acc, where


def _chains(args):
    """The array of ``args`` can run networks chained on chip (the simulated board is then
    built with the network extension)."""
    from ..arrayspec import ArraySpec
    from ..host_link.network import check_network_array
    try:
        check_network_array(ArraySpec(args.rows, args.cols, args.pe, args.dataflow,
                                      args.mul_latency, args.add_latency))
    except ValueError:
        return False
    return True


def run(args):
    if (bad := _check(args)) is not None:
        return fail(bad)
    from ..explore.models import get_model
    from ..explore.netrun import format_report, run_network
    from ._options import write_json_file
    model = get_model(args.model, args.data)
    model.require_data()
    if args.inputs > len(model.x_test):
        return fail(f"--inputs {args.inputs}: {model.name} has {len(model.x_test)} test "
                    f"inputs")
    acc, where = _open(args)
    progress = None
    if not args.quiet:
        from ..explore.report import progress_bar
        progress = progress_bar()
    with acc:
        print(f"board: {where}", flush=True)
        report = run_network(model, args.pe, acc, args.inputs, progress=progress,
                             chain=False if args.layer_by_layer else None)
    report.update(board=args.board, rows=args.rows, cols=args.cols, dataflow=args.dataflow,
                  where=where)
    print(f"model: {model.name}, candidate {report['candidate']} on a {args.rows}x{args.cols} "
          f"{report['pe']} {args.dataflow} array")
    print(format_report(report))
    if args.json is not None:
        import json
        if (bad := write_json_file("--json", args.json,
                                   json.dumps(report, indent=2, sort_keys=True))):
            return fail(bad)
        print(f"wrote {args.json}")
    return 0 if report["bit_exact"] else 1


COMMAND = Command("run", help=_HELP, description=_HELP[0].upper() + _HELP[1:] + ".",
                  epilog=_EPILOG, raw_text=True, add_arguments=add_arguments, run=run)
