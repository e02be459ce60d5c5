"""``hwgen formats [NAME]``: the number formats and their derived facts."""

from ._command import Command, fail

__all__ = ["COMMAND"]


def add_arguments(p):
    p.add_argument("name", nargs="?", help="one format (a preset or eXmY[_suffixes])")


def _fmt_num(x):
    x = float(x)
    return f"{x:.6g}"


def run(args):
    from ..formats import PRESETS, FloatFormat, parse_format
    if args.name is not None:
        try:
            fmts = {args.name: parse_format(args.name)}
        except (TypeError, ValueError) as e:
            return fail(str(e))
    else:
        fmts = dict(PRESETS)
    rows = [("name", "bits", "exp", "man", "bias", "specials", "overflow", "subnorm",
             "max finite", "min normal", "min subnormal", "epsilon")]
    for f in fmts.values():
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


COMMAND = Command("formats", help="table of number formats and their derived facts",
                  add_arguments=add_arguments, run=run)
