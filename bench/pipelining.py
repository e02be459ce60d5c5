"""Does frequency-directed pipelining deliver? Requested MHz against what nextpnr reaches.

For each operator (fmul, fadd, ffma), format and device: the unpipelined unit's Fmax ``F0``
(run-time rounding and flags, median of three placement seeds), then requests of
``RATIOS`` × ``F0``: the unit built with ``target_mhz=request, device=device`` (the planner
of ``hwgen.timing`` picks the latency and the cut points), its Fmax (median of three seeds),
and the same unit with every smaller number of registers (the planner's best placement of
``1 .. latency - 1`` registers) to find the latency the request *needed*: the smallest whose
median Fmax reaches it. A request is *reached* when the median Fmax is at least the request;
the *excess* is the chosen latency minus the needed one (a stage is *wasted* when latency - 1
reaches the request too, i.e. the excess is at least one).

The issue's target: for requests up to 2× the unpipelined Fmax, at least 90 % reached, and
never a latency more than one stage above what is needed.

Writes the table into ``docs/timing.md`` (between ``<!-- pipelining-table -->`` markers).
Results are cached (``build/synth/cache``).

    python bench/pipelining.py                        # everything (long: run in the background)
    python bench/pipelining.py --ops fmul --formats e4m3 --devices up5k --no-write
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.flow import DoesNotFit, FlowError  # noqa: E402
from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier  # noqa: E402
from units import add_sweep_arguments, synthesize_seeds  # noqa: E402  (bench/units.py)

OPS = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}
FORMATS = ["e4m3", "fp16", "bf16"]
DEVICES = ["up5k", "ecp5-85f"]
RATIOS = [1.25, 1.5, 2.0]
SEEDS = (1, 2, 3)
ROUNDING = "dynamic"
DOC = ROOT / "docs" / "timing.md"
MARK_BEGIN, MARK_END = "<!-- pipelining-table -->", "<!-- /pipelining-table -->"


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def medians(points, seeds, build_root, sweep):
    """``points`` = ``[(component, device, label), ...]`` synthesized for every seed in one
    sweep (``sweep``: ``scheduler``/``workers``); for each, ``(median Fmax, per-seed list)``
    or ``(None, reason)``."""
    out = []
    for rs in synthesize_seeds([(comp, device, {}, label) for comp, device, label in points],
                               seeds, build_root=build_root, **sweep):
        why = next(("not measured yet" if r is None else
                    "does not fit" if isinstance(r, DoesNotFit) else "error"
                    for r in rs if r is None or isinstance(r, FlowError)), None)
        if why:
            out.append((None, why))
        else:
            got = [r.fmax_mhz for r in rs]
            out.append((statistics.median(got), got))
    return out


def run(ops, formats, devices, ratios, seeds, build_root, sweep=None):
    """Three sweeps: the latency-0 units, then each request's planned unit, then each unit's
    best placements of fewer registers (to find the latency each request needed)."""
    sweep = sweep or {}
    bases = [(op, fmt, device, OPS[op](fmt, rounding=ROUNDING))
             for op in ops for fmt in formats for device in devices]
    f0s = medians([(c, d, f"{op} {fmt} {d} L0") for op, fmt, d, c in bases], seeds,
                  build_root, sweep)
    rows, asked = [], []
    for (op, fmt, device, base), (f0, _) in zip(bases, f0s):
        if f0 is None:
            rows.append(dict(op=op, fmt=fmt, device=device, f0=None))
            continue
        cls = OPS[op]
        est0 = base.plan_for_latency(0, device).fmax_mhz
        for ratio in ratios:
            req = round(f0 * ratio, 1)
            row = dict(op=op, fmt=fmt, device=device, f0=f0, est0=est0, ratio=ratio,
                       request=req)
            rows.append(row)
            try:
                comp = cls(fmt, rounding=ROUNDING, target_mhz=req, device=device)
            except ValueError as e:
                row.update(status="unreachable", detail=str(e))
                _log(f"{op} {fmt} {device} {req} MHz: {e}")
                continue
            plan = comp.plan
            row.update(latency=plan.latency, cuts=plan.cuts, module=comp.module_name,
                       estimate=plan.fmax_mhz)
            asked.append((row, comp, f"{op} {fmt} {device} {req} MHz L{plan.latency}"))
    got = medians([(comp, row["device"], label) for row, comp, label in asked], seeds,
                  build_root, sweep)
    ladder = {}     # (op, fmt, device, latency) -> (component, label): the shorter plans
    for (row, comp, _), (fmax, seeds_got) in zip(asked, got):
        row.update(status="ok" if fmax is not None else seeds_got, fmax=fmax)
        if fmax is None:
            continue
        for k in range(1, row["latency"]):
            key = (row["op"], row["fmt"], row["device"], k)
            if key not in ladder:
                plan = comp.plan_for_latency(k, row["device"])
                ladder[key] = (OPS[row["op"]](row["fmt"], rounding=ROUNDING, cuts=plan.cuts),
                               f"{row['op']} {row['fmt']} {row['device']} L{k}")
    keys = sorted(ladder)
    got = medians([(ladder[k][0], k[2], ladder[k][1]) for k in keys], seeds, build_root,
                  sweep)
    fmax_at = dict(zip(keys, (f for f, _ in got)))
    for row in rows:
        if row.get("fmax") is None:
            continue
        lat = row["latency"]
        reach = {0: row["f0"], lat: row["fmax"]}
        reach.update({k: fmax_at.get((row["op"], row["fmt"], row["device"], k))
                      for k in range(1, lat)})
        row["fmax_minus1"] = reach[lat - 1] if lat > 0 else None
        met = [k for k in range(lat + 1) if reach[k] is not None and reach[k] >= row["request"]]
        # needed: the fewest registers that reach the request (None: not even the chosen)
        row["needed"] = min(met) if met else None
        row["unmeasured"] = [k for k in range(lat) if reach[k] is None]
    return rows


def summarize(rows):
    asked = [r for r in rows if r.get("request") is not None]
    reached = [r for r in asked if r.get("fmax") is not None and r["fmax"] >= r["request"]]
    wasted = [r for r in asked if r.get("fmax_minus1") is not None and
              r["fmax_minus1"] >= r["request"]]
    over = [r for r in asked if r.get("needed") is not None and
            r["latency"] - r["needed"] > 1]
    return len(asked), len(reached), len(wasted), len(over)


def _f(v, nd=1):
    return "-" if v is None else f"{v:.{nd}f}"


def table(rows):
    head = ("| unit | format | device | L0 MHz | request | chosen latency | estimate | "
            "reached MHz | reached? | latency-1 MHz | wasted stage? | needed latency | "
            "excess |")
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|"]
    for r in rows:
        if r.get("f0") is None:
            lines.append(f"| {r['op']} | {r['fmt']} | {r['device']} | - | | | | | | | | | |")
            continue
        if r.get("status") == "unreachable":
            lines.append(f"| {r['op']} | {r['fmt']} | {r['device']} | {_f(r['f0'])} | "
                         f"{r['request']:.1f} ({r['ratio']:g}×) | unreachable in the model | "
                         f"| | no | | | | |")
            continue
        ok = r.get("fmax") is not None and r["fmax"] >= r["request"]
        f1 = r.get("fmax_minus1")
        wasted = "yes" if f1 is not None and f1 >= r["request"] else \
            ("-" if r["latency"] == 0 else "no")
        need = r.get("needed")
        if need is None:
            needed, excess = "not reached", "-"
        else:
            gaps = [k for k in r.get("unmeasured", []) if k < need]
            needed = f"{need}" + (f" (L{', L'.join(map(str, gaps))} not measured)"
                                  if gaps else "")
            excess = str(r["latency"] - need)
        lines.append(
            f"| {r['op']} | {r['fmt']} | {r['device']} | {_f(r['f0'])} | "
            f"{r['request']:.1f} ({r['ratio']:g}×) | {r['latency']} | {_f(r['estimate'])} | "
            f"{_f(r.get('fmax'))} | {'yes' if ok else 'no'} | {_f(f1)} | {wasted} | "
            f"{needed} | {excess} |")
    n, ok, wasted, over = summarize(rows)
    lines += ["", f"Reached: {ok} of {n} requests ({100.0 * ok / max(n, 1):.0f} %); a stage "
              f"to spare (latency - 1 also reaches the request): {wasted} of {n}; more than "
              f"one stage above the needed latency: {over} of {n}."]
    return "\n".join(lines)


def write_doc(text, cmd):
    body = (f"{MARK_BEGIN}\nGenerated by `{cmd}` (run-time rounding and flags; Fmax = median "
            f"of nextpnr seeds {', '.join(str(s) for s in SEEDS)}, out of context).\n\n"
            f"{text}\n{MARK_END}")
    doc = DOC.read_text() if DOC.is_file() else ""
    if MARK_BEGIN in doc and MARK_END in doc:
        head, rest = doc.split(MARK_BEGIN, 1)
        doc = head + body + rest.split(MARK_END, 1)[1]
    else:
        doc = doc + ("\n" if doc else "") + body + "\n"
    DOC.write_text(doc)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--devices", default=",".join(DEVICES))
    p.add_argument("--ratios", default=",".join(str(r) for r in RATIOS))
    p.add_argument("--seeds", default=",".join(str(s) for s in SEEDS),
                   help="placement seeds (the table's figures use 1,2,3)")
    p.add_argument("--build-dir", default=None, help="default: build/synth")
    p.add_argument("--no-write", action="store_true", help="print only")
    add_sweep_arguments(p)
    args = p.parse_args(argv)
    from amaranth.hdl import UnusedElaboratable
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    ops = [o for o in args.ops.split(",") if o]
    for o in ops:
        if o not in OPS:
            p.error(f"unknown operator {o!r}; allowed: {', '.join(OPS)}")
    t0 = time.monotonic()
    rows = run(ops, [f for f in args.formats.split(",") if f],
               [d for d in args.devices.split(",") if d],
               [float(r) for r in args.ratios.split(",") if r],
               [int(s) for s in args.seeds.split(",") if s],
               args.build_dir or ROOT / "build" / "synth",
               dict(scheduler=args.scheduler, workers=args.workers,
                    cached_only=args.cached_only))
    text = table(rows)
    print(text)
    print(f"done in {time.monotonic() - t0:.0f} s")
    if not args.no_write:
        cmd = "python bench/pipelining.py"
        if argv is None and sys.argv[1:]:
            cmd += " " + " ".join(sys.argv[1:])
        write_doc(text, cmd)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
