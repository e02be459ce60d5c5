"""Compression ratio ψ over pruning levels and k, and the decoders' throughput in simulation.

    .venv/bin/python bench/compression.py [--quick] [--no-sim] [--seed S]

The matrices are **random, not trained**: He-initialized Gaussian weights (std sqrt(2/fan_in))
shaped like the LeNet-300-100 MLP (784x300, 300x100, 100x10), seeded. Trained weights have
other value distributions (and so other Huffman code lengths), so these numbers show how ψ
moves with pruning and k -- not what a trained model reaches. There is no accuracy column:
the built-in models do not exist yet.

For each pruning level P and k, the non-zeros after pruning are k-means-shared (k centroids)
or, for ``pq:B``, probabilistically quantized to 2**B levels; ψ is then computed for HAM and
sHAM (32-bit words, codes <= 16 bits; ψ as :func:`hwgen.golden.compress.psi` defines it,
summed over the three layers). Then the cocotb tests of ``hdec`` and ``shamdec`` run without
stalls and report decoded values per clock.
"""

import argparse
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hwgen.golden import compress as gc  # noqa: E402

LAYERS = [(784, 300), (300, 100), (100, 10)]


def layers(seed):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * np.sqrt(2.0 / s[0])).astype(np.float32) for s in LAYERS]


def psi_of(mats, prune, quant, fmt, seed):
    bits = dense = 0
    for i, w in enumerate(mats):
        wp = gc.prune(w, prune)
        kind, n = quant
        wq = gc.kmeans_share(wp, n)[0] if kind == "kmeans" else \
            gc.pq_quantize(wp, n, seed=seed + i)[0]
        c = gc.compress(wq, fmt, word_width=32, max_len=16)
        bits += sum(c.size_bits().values())
        dense += 32 * w.size
    return Fraction(bits, dense)


def table(rows):
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(x.rjust(w) for x, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def sweep(seed, quick):
    mats = layers(seed)
    prunes = (0, 50, 90, 99) if quick else (0, 50, 70, 80, 90, 95, 99)
    quants = [("kmeans", 2), ("kmeans", 16), ("pq", 2)] if quick else \
        [("kmeans", 2), ("kmeans", 4), ("kmeans", 16), ("kmeans", 64), ("kmeans", 256),
         ("pq", 2), ("pq", 4)]
    print("psi (compressed bits / dense fp32 bits; plain ratio = 1/psi) on random He-init "
          "Gaussian matrices shaped like LeNet-300-100 (NOT trained):")
    head = ["prune %", "quant", "psi HAM", "psi sHAM", "best ratio"]
    rows = [head]
    for p in prunes:
        for q in quants:
            a = psi_of(mats, p, q, "ham", seed)
            b = psi_of(mats, p, q, "sham", seed)
            rows.append([f"{p}", f"{q[0]}:{q[1]}", f"{float(a):.4f}", f"{float(b):.4f}",
                         f"{float(1 / min(a, b)):.1f}x"])
    table(rows)


def throughput():
    from hwgen.units.hdec import HuffmanDecoder
    from hwgen.units.shamdec import ShamDecoder
    from rtl_tests import test_hdec, test_shamdec
    from sim.runner import run
    print("\ndecoder throughput in simulation (no stalls; values per clock, per test block):")
    rows = [["unit", "block", "values/clock"]]
    h = HuffmanDecoder()
    r = run(h, test_module="rtl_tests.test_hdec",
            params={**test_hdec.unit_params(h), "seed": 1, "symbols_per_block": 2000})
    if not r.passed:
        raise SystemExit(f"hdec simulation failed: {r.report.get('first_mismatches')}")
    for name, rate in sorted(r.report["symbols_per_cycle"].items()):
        rows.append([h.module_name, name, f"{rate:.3f}"])
    s = ShamDecoder(row_bits=8, col_bits=8)
    r = run(s, test_module="rtl_tests.test_shamdec",
            params={**test_shamdec.unit_params(s), "seed": 1})
    if not r.passed:
        raise SystemExit(f"shamdec simulation failed: {r.report.get('first_mismatches')}")
    for name, rate in sorted(r.report["nonzeros_per_cycle"].items()):
        rows.append([s.module_name, name, f"{rate:.3f}"])
    table(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer pruning levels and k")
    ap.add_argument("--no-sim", action="store_true", help="skip the decoder simulations")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    sweep(a.seed, a.quick)
    if not a.no_sim:
        throughput()
    print(f"\n({time.monotonic() - t0:.0f} s)")


if __name__ == "__main__":
    main()
