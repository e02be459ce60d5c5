"""``hwgen gemm``: random GEMMs through the host driver on a board, real or simulated, each
checked bit for bit against :func:`hwgen.golden.matmul.matmul`.

Without ``--port`` the board is simulated (:meth:`hwgen.host.Accelerator.simulate`: the
gateware ``hwgen build`` would put on the board, under Verilator in a subprocess); with
``--port`` it is the board on that serial port, and the array is what the board reports.
This is step 6 of ``hwgen demo``.
"""

from ._command import Command, fail
from ._options import open_accelerator

__all__ = ["COMMAND", "parse_shape"]

#: The options that describe the simulated board's design (a real board reports its own),
#: with their defaults.
_DESIGN = dict(board="icebreaker", rows=2, cols=2, pe="int8", dataflow="ws", mul_latency=0,
               add_latency=0, clock_mhz=None)


def add_arguments(p):
    from ..catalog.arrays import add_pe_pipeline_args
    p.add_argument("--board", default=None, metavar="BOARD",
                   help="the board to simulate: icebreaker (default) or ulx3s-85f")
    p.add_argument("--rows", type=int, default=None, metavar="R", help="array rows (default 2)")
    p.add_argument("--cols", type=int, default=None, metavar="C",
                   help="array columns (default 2)")
    p.add_argument("--pe", default=None, metavar="SPEC",
                   help="PE spec (default int8): int8, e4m3:fp16:rounded, e4m3:exact, ...")
    p.add_argument("--dataflow", default=None, metavar="ws|os",
                   help="weight-stationary (ws, default) or output-stationary (os)")
    add_pe_pipeline_args(p, default=None)
    p.add_argument("--clock-mhz", type=float, default=None, metavar="F",
                   help="simulate the board clocked by its PLL at F MHz (as hwgen build "
                        "--clock-mhz F; default: the oscillator's clock)")
    p.add_argument("--baud", type=int, default=None, metavar="BAUD",
                   help="UART baud rate (default 1000000, the board's)")
    p.add_argument("--port", default=None, metavar="PORT",
                   help="a real board on this serial port (needs the host extra), instead "
                        "of the simulated one; the array is the board's")
    p.add_argument("--shape", default="8x8x8", metavar="MxKxN",
                   help="each GEMM multiplies an MxK by a KxN matrix (default 8x8x8)")
    p.add_argument("--count", type=int, default=3, metavar="N",
                   help="GEMMs to run (default 3)")
    p.add_argument("--seed", type=int, default=1, metavar="S",
                   help="random seed of the operands (default 1)")


def parse_shape(text):
    """``"MxKxN"`` -> ``(M, K, N)``, each 1..4096.

    Raises
    ------
    ValueError
        Not three positive integers joined by ``x``.
    """
    parts = str(text).lower().split("x")
    try:
        dims = tuple(int(s) for s in parts)
    except ValueError:
        dims = ()
    if len(dims) != 3 or not all(1 <= d <= 4096 for d in dims):
        raise ValueError(f"--shape must be MxKxN with each of M, K, N in 1..4096 (e.g. "
                         f"8x16x8), not {text!r}")
    return dims


def _check(args):
    """The first bad option's message, else None (no work done)."""
    import boards
    if args.port is not None:
        given = [o for o in _DESIGN if getattr(args, o) is not None]
        if given:
            return (f"--{given[0].replace('_', '-')} describes the simulated board; with "
                    f"--port the board reports its own design (leave it out)")
    else:
        for opt, default in _DESIGN.items():          # the simulated board's defaults
            if getattr(args, opt) is None:
                setattr(args, opt, default)
        if args.board not in boards.BOARDS:
            return (f"--board must be one of {', '.join(boards.board_names())}, not "
                    f"{args.board!r}")
    if args.count < 1:
        return f"--count must be a positive number of GEMMs, not {args.count}"
    if args.seed < 0:
        return f"--seed must be a non-negative integer, not {args.seed}"
    if args.baud is not None and args.baud <= 0:
        return f"--baud must be a positive number of bits per second, not {args.baud}"
    parse_shape(args.shape)
    if args.port is not None:
        return None
    from boards.top import BoardTop
    BoardTop(args.board, args.rows, args.cols, args.pe, args.dataflow, baud=args.baud,
             mul_latency=args.mul_latency, add_latency=args.add_latency,
             clock_mhz=args.clock_mhz).unbuilt()      # a check of the parameters
    return None


def run(args):
    if (bad := _check(args)) is not None:
        return fail(bad)
    import numpy as np

    from ..golden.matmul import matmul, random_operands
    M, K, N = parse_shape(args.shape)
    acc, where = open_accelerator(args)
    with acc:
        info = acc.info()
        spec = acc.array
        print(f"board: {where}")
        depths = ", ".join(f"{k} {v}" for k, v in info.depths.items())
        print(f"IDENTIFY: {spec.rows}x{spec.cols} {spec.pe.spec} {spec.dataflow} array, "
              f"buffers of {depths} words, {info.baud} baud, {info.clk_hz / 1e6:g} MHz")
        rng = np.random.default_rng(args.seed)
        total = bad = 0
        for i in range(1, args.count + 1):
            A, B = random_operands(rng, spec.pe, M, K, N)
            got = np.asarray(acc.matmul(A, B))
            exp = matmul(A, B, spec.pe, spec.dataflow, spec.rows, spec.cols)
            wrong = int(np.count_nonzero(got.astype(exp.dtype) != exp))
            total += exp.size
            bad += wrong
            pad = (f" (K padded to {A.shape[1]}: whole 32-element MX blocks)"
                   if A.shape[1] != K else "")
            print(f"gemm {i}: {M}x{K}x{N}{pad}, {exp.size} results, {wrong} mismatches "
                  f"against golden.matmul")
        line = (f"total: {total} results, {bad} mismatches ("
                + ("bit-exact" if bad == 0 else "NOT bit-exact") + ")")
        stats = getattr(acc.transport, "stats", None)
        if stats is not None:
            s = stats()
            line += (f"; {s['bytes_to_board']} bytes to the board, {s['bytes_from_board']} "
                     f"back, {s['cycles']} clock cycles ({s['cycles'] / info.clk_hz * 1e3:.2f} "
                     f"ms at {info.clk_hz / 1e6:g} MHz)")
        print(line)
    return 0 if bad == 0 else 1


COMMAND = Command(
    "gemm", help="run random GEMMs on a board (simulated under Verilator, or real with "
                 "--port) through the host driver, checked bit for bit",
    description="Send random GEMMs through hwgen.host.Accelerator to a board and compare "
                "every result with the golden model. Without --port the board is the "
                "gateware hwgen build makes for --board, simulated under Verilator in a "
                "subprocess (built once per design and cached); timeouts count simulated "
                "time. Exit status 1 when a result differs.",
    add_arguments=add_arguments, run=run)
