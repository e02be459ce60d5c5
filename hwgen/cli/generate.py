"""``hwgen generate UNIT [options] -o FILE.v``: write a unit's Verilog."""

from pathlib import Path

from ._command import Command, build_unit, fail

__all__ = ["COMMAND", "describe_ports"]


def add_arguments(p):
    p.add_argument("-o", "--output", metavar="FILE.v",
                   help="Verilog file to write (required; its directory must exist)")
    p.add_argument("--top", metavar="NAME", help="top module name (default: one that encodes "
                   "the parameters, e.g. fmul_e4m3_rne)")


def run(args):
    from ..export import to_verilog
    spec = args.unit_spec
    try:  # the unit's options first, so a bad value is named even without -o
        comp = build_unit(args)
    except (ValueError, TypeError) as e:
        return fail(str(e))
    if args.output is None:
        return fail(f"missing -o/--output FILE.v: the Verilog file to write "
                    f"(e.g. -o {spec.name}.v)")
    out = Path(args.output)
    if out.is_dir():
        return fail(f"output {args.output!r} is a directory; give a file name such as "
                    f"{spec.name}.v")
    if not out.parent.exists():
        return fail(f"output directory {str(out.parent)!r} does not exist")
    try:
        name, text = to_verilog(comp, name=args.top)
    except (ValueError, TypeError) as e:
        return fail(str(e))
    try:
        out.write_text(text)
    except OSError as e:
        return fail(f"cannot write {args.output!r}: {e.strerror}")
    print(f"wrote {args.output}: module {name}")
    print(describe_ports(comp, verilog_port_order(text, name)))
    return 0


def verilog_port_order(text, name):
    """The port names of module ``name`` in ``text``, in the order of its header (the order
    a positional instantiation follows)."""
    import re
    m = re.search(rf"^module \\?{re.escape(name)}\s*\(([^)]*)\);", text, re.M)
    return [p.strip().lstrip("\\") for p in m.group(1).split(",")] if m else None


def describe_ports(comp, order=None):
    """The Verilog ports of ``comp`` as ``hwgen generate`` lists them, one per line: in
    ``order`` (names, e.g. from :func:`verilog_port_order`) when given, else clock and reset
    first and then the signature's order."""
    from amaranth.hdl import Value
    from amaranth.lib import wiring
    ports = {}
    if getattr(comp, "latency", 0) or getattr(comp, "clocked", False):
        ports["clk"], ports["rst"] = "  input  clk", "  input  rst"
    for path, member, value in comp.signature.flatten(comp):
        direction = "input " if member.flow == wiring.In else "output"
        width = len(Value.cast(value))
        rng = f"[{width - 1}:0] " if width > 1 else ""
        pname = "__".join(str(p) for p in path)
        ports[pname] = f"  {direction} {rng}{pname}"
    names = list(ports)
    if order is not None and sorted(order) == sorted(names):
        names = order
    head = "ports (in the order of the module header):" if order is not None else "ports:"
    return "\n".join([head] + [ports[n] for n in names])


COMMAND = Command("generate", help="write a unit's Verilog",
                  description="write a unit's Verilog", add_arguments=add_arguments, run=run,
                  per_unit=True)
