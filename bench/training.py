"""Figures of the training methods (``hwgen train``, issue 20) → ``docs/training.md`` and its
two plots (``docs/training_lambda.png``, ``docs/training_bitlayers.png``).

Every number comes from this run (:func:`hwgen.train.train`, fixed seeds, one CPU thread);
each method's baseline is trained in the same call. Data: the bundled digits set and wine.

    .venv/bin/python bench/training.py            # all tables and plots (a few minutes)
    .venv/bin/python bench/training.py --quick    # fewer epochs and seeds (a check, not the doc)
"""

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from units import table  # noqa: E402  (bench/units.py: the Markdown table writer)

from hwgen.train import train  # noqa: E402

DOCS = ROOT / "docs"
LAMBDAS = [0.0, 0.01, 0.05, 0.2]


def f4(v):
    return f"{v:.4f}"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def compressibility(data, arch, epochs, seeds):
    """One row per lambda (0: the plain baseline), medians over the seeds."""
    rows = []
    for lam in LAMBDAS:
        runs = []
        t0 = time.monotonic()
        for seed in seeds:
            _, r = train("compressibility", data, arch, epochs=epochs, seed=seed, lam=lam)
            runs.append(r["trained"])
        med = {k: median([x[k] for x in runs]) for k in runs[0]}
        rows.append(dict(data=data, arch=arch, lam=f"{lam:g}", float=f4(med["accuracy_float"]),
                         ternary=f4(med["accuracy_ternary"]), error=f4(med["ternary_error"]),
                         sparsity=f"{med['sparsity']:.3f}", psi=f4(med["psi"]),
                         seconds=f"{time.monotonic() - t0:.1f}", _med=med, _lam=lam))
    return rows


def wide_narrow(data, arch, epochs, seeds):
    rows = []
    for seed in seeds:
        _, r = train("wide-narrow", data, arch, epochs=epochs, seed=seed, wide_factor=4)
        e = r["epochs"]
        rows.append(dict(data=data, arch=arch, wide=r["wide_arch"], seed=seed,
                         wide_acc=f4(r["wide_accuracy"]), thin=f4(r["accuracy"]),
                         direct=f4(r["direct_accuracy"]),
                         epochs=f"{e['wide']}+{e['imitation_per_layer']}/layer+"
                                f"{e['fine_tune']} vs {e['direct']}",
                         seconds=f"{r['seconds']:.1f}"))
    return rows


def dualprec(data, arch, bits, epochs, seed):
    _, r = train("dualprec", data, arch, epochs=epochs, seed=seed, high_bits=bits)
    out = []
    for k, what in (("dual", "dual-precision"), ("high_only", "high only"),
                    ("low_only", "low only")):
        out.append(dict(data=data, arch=arch, H=bits, L=bits // 2, trained=what,
                        high=f4(r[k]["high"]), low=f4(r[k]["low"]), seed=seed,
                        epochs=f"{epochs}+{epochs}", seconds=f"{r['seconds']:.1f}"))
    return out


def bitlayers(data, arch, epochs, seed):
    """Accuracy vs bit-planes for the plainly trained model and the dual-precision one."""
    from hwgen.train.methods import bitlayer_curve
    plain, r = train("bitlayers", data, arch, epochs=epochs, seed=seed, weight_bits=8)
    dual, _ = train("dualprec", data, arch, epochs=epochs, seed=seed, high_bits=8)
    return r["bitlayers"], bitlayer_curve(dual, 8)


def comp_summary(rows):
    """What the compressibility table shows, read off its rows (one line per data set)."""
    out = ["What it shows, per data set (lambda 0 against the largest lambda):", ""]
    for data in dict.fromkeys(r["data"] for r in rows):
        rs = [r["_med"] for r in rows if r["data"] == data]
        b, t = rs[0], rs[-1]
        out.append(f"- {data}: ternarization error {b['ternary_error']:.3f} -> "
                   f"{t['ternary_error']:.3f}, sparsity {b['sparsity']:.2f} -> "
                   f"{t['sparsity']:.2f}, psi {b['psi']:.3f} -> {t['psi']:.3f}, ternarized "
                   f"accuracy {b['accuracy_ternary']:.3f} -> {t['accuracy_ternary']:.3f} "
                   f"(float {b['accuracy_float']:.3f} -> {t['accuracy_float']:.3f}).")
    return out


def wn_summary(rows):
    better = sum(float(r["thin"]) > float(r["direct"]) for r in rows)
    return [f"The wide-then-narrow thin network beat the directly trained one in {better} of "
            f"{len(rows)} runs here (same total epochs)."]


def plot_lambda(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for data in dict.fromkeys(r["data"] for r in rows):
        rs = [r for r in rows if r["data"] == data]
        x = [max(r["_lam"], 1e-3) for r in rs]
        ax.plot(x, [r["_med"]["accuracy_float"] for r in rs], "o-", label=f"{data} float")
        ax.plot(x, [r["_med"]["accuracy_ternary"] for r in rs], "s--",
                label=f"{data} ternarized")
    ax.set_xscale("log")
    ax.set_xlabel("lambda (0 plotted at 0.001)")
    ax.set_ylabel("test accuracy")
    ax2 = ax.twinx()
    for data in dict.fromkeys(r["data"] for r in rows):
        rs = [r for r in rows if r["data"] == data]
        ax2.plot([max(r["_lam"], 1e-3) for r in rs], [r["_med"]["sparsity"] for r in rs],
                 ":", color="gray")
    ax2.set_ylabel("sparsity of the ternary weights (dotted)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def plot_bitlayers(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for label, curve in curves.items():
        ax.plot([b for b, _ in curve], [a for _, a in curve], "o-", label=label)
    ax.set_xlabel("weight bit-planes used (bit-serial PE, bs8x8@B)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer epochs and seeds; no doc")
    args = p.parse_args(argv)
    epochs = 4 if args.quick else 20
    seeds = [0] if args.quick else [0, 1, 2]
    t_all = time.monotonic()
    comp = compressibility("digits", "32", epochs, seeds) + \
        compressibility("wine", "16", epochs, seeds)
    wn = wide_narrow("digits", "8", epochs, seeds) + wide_narrow("digits", "16", epochs, seeds)
    dp = dualprec("digits", "32", 4, epochs, 0) + dualprec("digits", "32", 8, epochs, 0) + \
        dualprec("wine", "16", 4, epochs, 0)
    plain_curve, dual_curve = bitlayers("digits", "32", epochs, 0)
    total = time.monotonic() - t_all
    import torch
    lines = [
        "# Training for the hardware",
        "",
        "Produced by `bench/training.py` (`hwgen train`'s methods, `hwgen.train`); every number",
        "below comes from one run of it. Each method's baseline is trained in the same call from",
        "the same seed. Adam, mini-batches of 64, learning rate 0.01 decaying linearly, float64,",
        f"one CPU thread; {epochs} epochs per phase; PyTorch {torch.__version__}, Python "
        f"{platform.python_version()}; whole run {total:.0f} s.",
        "",
        "## Compressibility loss (Aytekin et al.)",
        "",
        "Cross-entropy plus lambda * sum over layers of ||w||_1 / ||w||_2, then every weight",
        "matrix ternarized by the ternary PE's host quantizer (one scale per output row). lambda 0",
        "is the baseline: the same network trained plainly and ternarized after the fact.",
        "*error*: ternarization error ||w - s t||^2 / ||w||^2 (0 for weights already ternary);",
        "*psi*: sHAM compression ratio of the ternarized matrices (32-bit words; smaller is",
        f"better). Medians over seeds {', '.join(map(str, seeds))}.",
        "",
        table(comp, ["data", "arch", "lam", "float", "ternary", "error", "sparsity", "psi",
                     "seconds"],
              ["data", "arch", "lambda", "float acc.", "ternarized acc.", "error", "sparsity",
               "psi", "s (all seeds)"]),
        "",
        "![accuracy and sparsity against lambda](training_lambda.png)",
        "",
        *comp_summary(comp),
        "",
        "## Go wide, then narrow (Zhou et al.)",
        "",
        "The wide network (widths x4) trained first; each hidden layer of the thin one then",
        "imitates the wide activation at its depth through a learned projection; then the thin",
        "network is fine-tuned. *direct*: the thin network trained alone for as many epochs as",
        "the three phases together.",
        "",
        table(wn, ["data", "arch", "wide", "seed", "wide_acc", "thin", "direct", "epochs",
                   "seconds"],
              ["data", "thin arch", "wide arch", "seed", "wide acc.", "thin (wide-narrow)",
               "thin (direct)", "epochs", "s"]),
        "",
        *wn_summary(wn),
        "",
        "## Dual-precision training (Park et al.)",
        "",
        "H-bit weights (per-layer symmetric scale); low mode uses their MSB halves as the nested",
        "dpH PE does ((q >> L) << L, the scale kept), straight-through gradients. Phase 1 trains",
        "high mode, phase 2 both. The baselines are trained for one mode only, as long.",
        "",
        table(dp, ["data", "arch", "H", "L", "trained", "high", "low", "seed", "epochs",
                   "seconds"],
              ["data", "arch", "H", "L", "trained for", "high-mode acc.", "low-mode acc.",
               "seed", "epochs", "s (all three)"]),
        "",
        "## Bitlayers (PrecisionBatching)",
        "",
        "Accuracy through the bit-serial golden model (`bs8x8@B`: the top B bit-planes of the",
        "8-bit weights) for the plainly trained digits MLP 64-32-10 and the dual-precision",
        "(H = 8) one: the numbers a user needs to choose the run-time `bits`.",
        "",
        table([dict(bits=b, plain=f4(a), dual=f4(d)) for (b, a), (_, d)
               in zip(plain_curve, dual_curve)], ["bits", "plain", "dual"],
              ["bit-planes B", "plain training", "dual-precision training"]),
        "",
        "![accuracy against bit-planes](training_bitlayers.png)",
        "",
    ]
    if args.quick:
        print("\n".join(lines))
        return 0
    (DOCS / "training.md").write_text("\n".join(lines))
    plot_lambda(comp, DOCS / "training_lambda.png")
    plot_bitlayers({"plain training": plain_curve, "dual-precision training (H=8)": dual_curve},
                   DOCS / "training_bitlayers.png")
    print(f"wrote {DOCS / 'training.md'} and its two plots ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
