"""The ``hwgen`` command: one entry point with subcommands.

Bad arguments print one line, ``hwgen: error: ...`` naming the value and what is allowed, and
exit with status 2 (never a traceback).
"""

import argparse
import importlib
import sys
import time
from pathlib import Path

from . import __version__

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fail(message, status=2):
    print(f"hwgen: error: {message}", file=sys.stderr)
    return status


# -- formats ---------------------------------------------------------------------------------

def _fmt_num(x):
    x = float(x)
    return f"{x:.6g}"


def _cmd_formats(args):
    from .formats import PRESETS, parse_format, FloatFormat
    if args.name:
        try:
            fmts = {args.name: parse_format(args.name)}
        except (TypeError, ValueError) as e:
            return _fail(str(e))
    else:
        fmts = dict(PRESETS)
    rows = [("name", "bits", "exp", "man", "bias", "specials", "overflow", "subnorm",
             "max finite", "min normal", "min subnormal", "epsilon")]
    for name, f in fmts.items():
        if not isinstance(f, FloatFormat):
            print(f"{f.name}: {f.bits}-bit {'signed' if f.signed else 'unsigned'} integer, "
                  f"range {f.min_value} .. {f.max_value}")
            return 0
        rows.append((f.name, str(f.width), str(f.exp_bits), str(f.man_bits), str(f.bias),
                     f.specials, f.overflow, "yes" if f.subnormals else "ftz",
                     _fmt_num(f.max_finite), _fmt_num(f.min_normal),
                     _fmt_num(f.min_subnormal), _fmt_num(f.epsilon)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(c.rjust(w) if j >= 1 else c.ljust(w)
                        for j, (c, w) in enumerate(zip(r, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0


# -- generate / sim / synth -----------------------------------------------------------------

def _add_unit_parsers(sub, command, help_text, units, extra):
    p = sub.add_parser(command, help=help_text, description=help_text)
    usub = p.add_subparsers(dest="unit", metavar="UNIT", parser_class=_Parser)
    usub.required = True
    for spec in units.values():
        up = usub.add_parser(spec.name, help=spec.help,
                             description=(spec.help + "\n\n" + spec.description).strip(),
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        spec.add_arguments(up)
        extra(up)
    return p


def _generate_extra(p):
    p.add_argument("-o", "--output", metavar="FILE.v",
                   help="Verilog file to write (required; its directory must exist)")
    p.add_argument("--top", metavar="NAME", help="top module name (default: one that encodes "
                   "the parameters, e.g. fmul_e4m3_rne)")


def _sim_extra(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--exhaustive", action="store_true",
                   help="every input combination (where the input space allows)")
    g.add_argument("--vectors", type=int, metavar="N", default=None,
                   help="random vectors to check (default: unit-specific)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("--sim", choices=["verilator", "icarus"], default=None,
                   help="simulator (default: $SIM or verilator)")
    p.add_argument("--waves", action="store_true", help="write a waveform file")
    p.add_argument("--top", metavar="NAME", help=argparse.SUPPRESS)


def _build_unit(spec, args):
    from .catalog import CliError
    try:
        return spec.build(args)
    except (CliError, ValueError, TypeError) as e:
        raise CliError(str(e).splitlines()[0] if str(e) else repr(e)) from None


def _cmd_generate(args, units):
    from .catalog import CliError
    from .export import to_verilog
    spec = units[args.unit]
    try:  # the unit's options first, so a bad value is named even without -o
        comp = _build_unit(spec, args)
    except (CliError, ValueError, TypeError) as e:
        return _fail(str(e))
    if args.output is None:
        return _fail(f"missing -o/--output FILE.v: the Verilog file to write "
                     f"(e.g. -o {spec.name}.v)")
    out = Path(args.output)
    if out.is_dir():
        return _fail(f"output {args.output!r} is a directory; give a file name such as "
                     f"{spec.name}.v")
    if not out.parent.exists():
        return _fail(f"output directory {str(out.parent)!r} does not exist")
    try:
        name, text = to_verilog(comp, name=args.top)
    except (CliError, ValueError, TypeError) as e:
        return _fail(str(e))
    try:
        out.write_text(text)
    except OSError as e:
        return _fail(f"cannot write {args.output!r}: {e.strerror}")
    print(f"wrote {args.output}: module {name}")
    print(_describe_ports(comp))
    return 0


def _describe_ports(comp):
    from amaranth.hdl import Value
    from amaranth.lib import wiring
    lines = ["ports:"]
    if getattr(comp, "latency", 0) or getattr(comp, "clocked", False):
        lines += ["  input  clk", "  input  rst"]
    for path, member, value in comp.signature.flatten(comp):
        direction = "input " if member.flow == wiring.In else "output"
        width = len(Value.cast(value))
        rng = f"[{width - 1}:0] " if width > 1 else ""
        lines.append(f"  {direction} {rng}{'__'.join(str(p) for p in path)}")
    return "\n".join(lines)


def _cmd_sim(args, units):
    from .catalog import CliError
    spec = units[args.unit]
    if spec.test_module is None:
        return _fail(f"unit {spec.name!r} has no simulation test")
    if args.vectors is not None and args.vectors < 1:
        return _fail(f"--vectors must be a positive integer, not {args.vectors}")
    try:
        comp = _build_unit(spec, args)
    except (CliError, ValueError, TypeError) as e:
        return _fail(str(e))
    params = dict(spec.sim_params(args, comp) if spec.sim_params else {})
    params.update(mode="cli", exhaustive=bool(args.exhaustive), vectors=args.vectors,
                  seed=args.seed)
    from sim.runner import run
    from sim.tools import setup_simulator
    try:
        setup_simulator(args.sim or __import__("os").environ.get("SIM", "verilator"))
    except (ValueError, RuntimeError) as e:
        return _fail(str(e))
    print(f"building and simulating {comp.module_name} "
          f"({args.sim or 'default simulator'}) ...", flush=True)
    t0 = time.monotonic()
    res = run(comp, test_module=spec.test_module, params=params, sim=args.sim,
              waves=args.waves or None, seed=args.seed)
    rep = res.report
    n = rep.get("vectors", 0)
    bad = rep.get("mismatches", 0)
    secs = rep.get("seconds") or (time.monotonic() - t0)
    print(f"{res.toplevel} on {res.sim}: {n} vectors checked, {bad} mismatches, "
          f"{n / secs if secs else 0:,.0f} verified vectors/s")
    for line in rep.get("first_mismatches", [])[:10]:
        print("  mismatch: " + line)
    if args.waves:
        print(f"waveforms in {res.build_dir}")
    if res.failed or bad or not res.tests:
        if not bad:
            print(f"simulation failed: {res.failed} of {res.tests} tests failed; "
                  f"logs in {res.build_dir}")
        return 1
    return 0


# -- main ------------------------------------------------------------------------------------

def build_parser(units):
    p = _Parser(prog="hwgen", description="Generate, simulate and build narrow-precision "
                "MAC units and systolic arrays.")
    p.add_argument("--version", action="version", version=f"hwgen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    pf = sub.add_parser("formats", help="table of number formats and their derived facts")
    pf.add_argument("name", nargs="?", help="one format (a preset or eXmY[_suffixes])")
    _add_unit_parsers(sub, "generate", "write a unit's Verilog", units, _generate_extra)
    _add_unit_parsers(sub, "sim", "simulate a unit against its golden model (cocotb)", units,
                      _sim_extra)
    from . import extra_commands
    extra_commands.add_parsers(sub, units)
    for name, (module, add, _) in _PLUGINS.items():
        getattr(importlib.import_module(module, __package__), add)(sub)
    return p


#: Subcommands that live with their capability: name -> (module, add_parser, run).
_PLUGINS = {
    "build": (".flow.build_cli", "add_build_parser", "run_build"),
    "explore": (".explore.cli", "add_explore_parser", "run_explore"),
    "compress": (".compress_cli", "add_compress_parser", "run_compress"),
}


def main(argv=None):
    from .catalog import all_units
    units = all_units()
    parser = build_parser(units)
    args = parser.parse_args(argv)
    try:
        if args.command == "formats":
            return _cmd_formats(args)
        if args.command == "generate":
            return _cmd_generate(args, units)
        if args.command == "sim":
            return _cmd_sim(args, units)
        if args.command in _PLUGINS:
            module, _, run = _PLUGINS[args.command]
            try:
                return getattr(importlib.import_module(module, __package__), run)(args)
            except (ValueError, TypeError) as e:
                return _fail(str(e).splitlines()[0])
        from . import extra_commands
        return extra_commands.run(args, units)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
