"""Options that several commands share (``--router`` and ``--json-out`` of ``hwgen build``
and ``hwgen synth``; the board ``hwgen gemm`` and ``hwgen run`` talk to)."""

from pathlib import Path

__all__ = ["add_router_argument", "router_error", "add_json_out_argument", "json_file_error",
           "write_json_file", "open_accelerator"]


def add_router_argument(p):
    """``--router``, for ``hwgen build`` and ``hwgen synth``; check it with
    :func:`router_error`."""
    p.add_argument("--router", default=None, metavar="router1|router2",
                   help="nextpnr router (default router1, nextpnr's; router2 finishes large "
                        "congested ECP5 designs that router1 does not)")


def router_error(router):
    """The CLI's message for a ``--router`` value that is not one of
    :data:`hwgen.flow.synth.ROUTERS`, else None."""
    from ..flow.synth import ROUTERS
    if router is not None and router not in ROUTERS:
        return f"--router must be one of {', '.join(ROUTERS)}, not {router!r}"
    return None


def add_json_out_argument(p):
    """``--json-out FILE`` (``hwgen build`` and ``hwgen synth``): the report as JSON in FILE;
    check it with :func:`json_file_error`, write it with :func:`write_json_file`."""
    p.add_argument("--json-out", metavar="FILE", default=None,
                   help="also write the report as JSON to FILE")


def json_file_error(option, path):
    """The CLI's message for a JSON output ``path`` given to ``option`` that cannot be
    written (a folder, or in a folder that does not exist), else None."""
    if path is None:
        return None
    out = Path(path)
    if out.is_dir():
        return f"{option} {path!r} is a directory; give a file name"
    if not out.parent.exists():
        return f"{option} directory {str(out.parent)!r} does not exist"
    return None


def write_json_file(option, path, text):
    """Write ``text`` to ``path``; return None, or the message when it cannot be written."""
    try:
        Path(path).write_text(text + "\n")
    except OSError as e:
        return f"{option}: cannot write {str(path)!r}: {e.strerror}"
    return None


def open_accelerator(args, *, network=False):
    """``(accelerator, description)`` for ``hwgen gemm``/``hwgen run``: the board on
    ``args.port`` (pyserial), or the simulated ``args.board`` with the array of ``args.rows``,
    ``cols``, ``pe``, ``dataflow``, ``mul_latency``, ``add_latency`` and ``args.clock_mhz``
    (if the command has it), at ``args.baud``; ``network``: with the network extension."""
    from ..host import DEFAULT_BAUD, Accelerator
    if args.port is not None:
        return Accelerator.open(args.port, args.baud or DEFAULT_BAUD), f"the board on {args.port}"
    acc = Accelerator.simulate(args.board, args.rows, args.cols, args.pe, args.dataflow,
                               mul_latency=args.mul_latency, add_latency=args.add_latency,
                               clock_mhz=getattr(args, "clock_mhz", None), baud=args.baud,
                               progress=lambda line: print(line, flush=True),
                               network=network)
    return acc, f"simulated {args.board} ({acc.transport.core.module_name}, Verilator)"
