"""``hwgen vectors UNIT [options] [--exhaustive|--vectors N] -o vectors.hex``: golden vectors
for the plain Verilog testbench.

The file is what ``rtl_tests/plain/float_tb.v`` ``$readmemh``s: one hex word per vector,
``{rm, c, b, a, flags, y}`` from the high bits down (``rm`` 3 bits, 0 for a static rounding;
``c`` 1 bit, 0, for fmul/fadd), the expected ``y`` and ``flags`` from :mod:`hwgen.golden`
(``flags`` 0 for a unit built ``--no-flags``, which the testbench reads as 0 under
``-DNO_FLAGS``). The command also prints the testbench's ``-D`` defines for the unit.
"""

from pathlib import Path

from ._command import Command, build_unit, fail

__all__ = ["COMMAND", "UNITS"]

#: Units the plain testbench drives.
UNITS = ("fmul", "fadd", "ffma")

_DEFAULT_VECTORS = 10000


def add_arguments(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--exhaustive", action="store_true",
                   help="every input combination (where the input space allows)")
    g.add_argument("--vectors", type=int, metavar="N", default=None,
                   help=f"random vectors after the directed set (default {_DEFAULT_VECTORS})")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("-o", "--output", metavar="FILE.hex",
                   help="vector file to write (required; its directory must exist)")
    p.add_argument("--top", metavar="NAME", help="module name the testbench instantiates "
                   "(as given to hwgen generate --top; default the unit's own)")


def run(args):
    spec = args.unit_spec
    if spec.name not in UNITS:
        return fail(f"hwgen vectors writes vectors for the plain float testbench: "
                    f"{', '.join(UNITS)}, not {spec.name!r}")
    if args.vectors is not None and args.vectors < 1:
        return fail(f"--vectors must be a positive integer, not {args.vectors}")
    if args.output is None:
        return fail("missing -o/--output FILE.hex: the vector file to write "
                    "(e.g. -o vectors.hex)")
    out = Path(args.output)
    if out.is_dir():
        return fail(f"output {args.output!r} is a directory; give a file name such as "
                    f"vectors.hex")
    if not out.parent.exists():
        return fail(f"output directory {str(out.parent)!r} does not exist")
    from ..export import check_identifier
    if args.top is not None:
        try:
            check_identifier(args.top)
        except ValueError as e:
            return fail(str(e))
    from sim.floatop import plain_defines, plain_hex, plain_vectors, unit_params

    from ..elaboratables import not_built
    comp = build_unit(args)
    not_built(comp)                     # read for its parameters only, never elaborated
    p = unit_params(comp)
    if args.exhaustive:          # the catalog refused spaces above 2**26 already
        sets = ["exhaustive"]
    else:
        sets = ["directed", f"random:{args.vectors or _DEFAULT_VECTORS}"]
    words = plain_vectors(p, sets, seed=args.seed)
    try:
        out.write_text(plain_hex(words, p))
    except OSError as e:
        return fail(f"cannot write {args.output!r}: {e.strerror}")
    name = args.top or comp.module_name
    defines = plain_defines(p, name, len(words))
    print(f"wrote {args.output}: {len(words)} vectors for module {name}")
    print("testbench defines: " + " ".join(f"-D{k}={v}" for k, v in defines.items()))
    return 0


COMMAND = Command("vectors", help="write golden test vectors for the plain Verilog testbench",
                  description=__doc__.split("\n\n", 1)[1].strip(), add_arguments=add_arguments,
                  run=run, per_unit=True)
