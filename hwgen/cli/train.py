"""``hwgen train``: train a model for the hardware (:mod:`hwgen.train`; PyTorch, the ``train``
extra) and write it as ONNX or ``.npz`` for ``hwgen explore``, ``compress`` and ``run``."""

from ._command import Command, fail

__all__ = ["COMMAND", "format_report"]

_HELP = ("train a model for the hardware (compressibility loss, go wide then narrow, "
         "dual-precision, bitlayer curves) and write it as ONNX")

_EPILOG = """\
Methods (each compared with its baseline, trained in the same run from the same seed):
  plain            cross-entropy, Adam
  compressibility  + LAMBDA * sum ||w||_1/||w||_2 (Aytekin et al.), then ternarized for the
                   ternary PE; against the same net trained plainly and ternarized
  wide-narrow      wide net (widths x F), layer-wise imitation by the thin net, fine-tuning
                   (Zhou et al.); against the thin net trained directly as long
  dualprec         H-bit weights and their nested H/2-bit MSB halves, both modes trained
                   (Park et al., the dpH PE); against high-only and low-only training
  bitlayers        plain training, then accuracy through the bit-serial PE with the top
                   1..W weight bit-planes (PrecisionBatching)
--arch SPEC: hidden layers joined by '-': N (dense N + ReLU), cKxC (KxK convolution, C
channels + ReLU, image data), pP (PxP max pool); a dense layer to the classes is added.
  32 (MLP 64-32-10 on digits), 64-32, c3x8-p2 (the built-in CNN), linear
--data: digits, iris, wine, cancer (bundled, the explore extra) or a training .npz with
x_train, y_train, x_test, y_test (raw inputs; normalized by x_train's mean and deviation).
The model written is the deployable one (ternarized, high-mode quantized, the thin net) and
takes raw inputs; a bundled data set's name is kept in the ONNX file, so hwgen explore and
hwgen compress read it without --data."""


def add_arguments(p):
    from ..train import METHOD_NAMES
    p.add_argument("--method", required=True, metavar="METHOD",
                   help=f"one of {', '.join(METHOD_NAMES)}")
    p.add_argument("--data", required=True, metavar="DATA",
                   help="digits, iris, wine, cancer or a training FILE.npz")
    p.add_argument("--arch", default=None, metavar="SPEC",
                   help="hidden layers, e.g. 32, 64-32, c3x8-p2 (see below; default 32 for "
                        "digits, else 16: the built-in MLPs' sizes)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx",
                   help="the trained model: .onnx, or .npz (the explorer's format)")
    p.add_argument("--epochs", type=int, default=20, metavar="N",
                   help="epochs of each phase (default 20)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--lambda", dest="lam", type=float, default=None, metavar="L",
                   help="compressibility: weight of the loss (default 0.05)")
    p.add_argument("--wide-factor", type=int, default=None, metavar="F",
                   help="wide-narrow: the wide net's widths are F times the thin's (default 4)")
    p.add_argument("--high-bits", type=int, default=None, metavar="H",
                   help="dualprec: high-mode weight bits, even, 4..16 (default 8)")
    p.add_argument("--weight-bits", type=int, default=None, metavar="W",
                   help="bitlayers: weight bits of the bit-serial PE, 2..16 (default 8)")
    p.add_argument("--json", metavar="FILE", default=None,
                   help="also write the report as JSON to FILE")


#: Each method's own option (given to another method, it is refused) and its default.
_OWN = {"lam": ("compressibility", "--lambda", 0.05),
        "wide_factor": ("wide-narrow", "--wide-factor", 4),
        "high_bits": ("dualprec", "--high-bits", 8),
        "weight_bits": ("bitlayers", "--weight-bits", 8)}


def _check(args):
    from pathlib import Path

    from ..train import METHOD_NAMES
    from ._options import json_file_error
    if args.method not in METHOD_NAMES:
        return f"--method must be one of {', '.join(METHOD_NAMES)}, not {args.method!r}"
    for dest, (method, option, _) in _OWN.items():
        if getattr(args, dest) is not None and args.method != method:
            return f"{option} is an option of --method {method}, not {args.method}"
    out = Path(args.output)
    if out.suffix not in (".onnx", ".npz"):
        return f"-o must name an .onnx or .npz file, not {args.output!r}"
    if (bad := json_file_error("-o", args.output)) is not None:
        return bad
    if args.seed < 0:
        return f"--seed must be a non-negative integer, not {args.seed}"
    return json_file_error("--json", args.json)


def _line(name, r):
    return (f"{name}: accuracy {r['accuracy_float']:.4f} float, {r['accuracy_ternary']:.4f} "
            f"ternarized; ternarization error {r['ternary_error']:.4f}, sparsity "
            f"{r['sparsity']:.3f}, sHAM psi {r['psi']:.4f}")


def format_report(r):
    """The printed report of :func:`hwgen.train.train`'s ``report``."""
    head = f"{r['method']} on {r['data']}, arch {r['arch']}, seed {r['seed']}"
    m = r["method"]
    if m == "compressibility":
        lines = [f"{head}, lambda {r['lam']:g}, {r['epochs']} epochs",
                 _line("trained with the loss", r["trained"]),
                 _line("baseline (plain)     ", r["baseline"])]
    elif m == "wide-narrow":
        e = r["epochs"]
        lines = [f"{head}, wide arch {r['wide_arch']}",
                 f"wide: accuracy {r['wide_accuracy']:.4f} ({e['wide']} epochs)",
                 f"thin after imitation: accuracy {r['imitation_accuracy']:.4f} "
                 f"({e['imitation_per_layer']} epochs per hidden layer, output untrained)",
                 f"thin after fine-tuning: accuracy {r['accuracy']:.4f} "
                 f"({e['fine_tune']} epochs)",
                 f"thin trained directly: accuracy {r['direct_accuracy']:.4f} "
                 f"({e['direct']} epochs)"]
    elif m == "dualprec":
        lines = [f"{head}, high {r['high_bits']} bits, low {r['low_bits']} bits (nested), "
                 f"{r['epochs']} epochs per phase"]
        for k, what in (("dual", "dual-precision"), ("high_only", "high-only"),
                        ("low_only", "low-only")):
            lines.append(f"{what:>15}: high mode {r[k]['high']:.4f}, low mode "
                         f"{r[k]['low']:.4f}")
    else:
        lines = [f"{head}, {r['epochs']} epochs: accuracy {r['accuracy']:.4f}"]
        if m == "bitlayers":
            lines += [f"bits {b}: accuracy {a:.4f}" for b, a in r["bitlayers"]]
    return "\n".join(lines + [f"time: {r['seconds']:.1f} s"])


def run(args):
    if (bad := _check(args)) is not None:
        return fail(bad)
    from ..train import train
    kw = {dest: (getattr(args, dest) if getattr(args, dest) is not None else default)
          for dest, (_, _, default) in _OWN.items()}
    arch = args.arch if args.arch is not None else ("32" if args.data == "digits" else "16")
    model, report = train(args.method, args.data, arch, epochs=args.epochs,
                          seed=args.seed, **kw)
    print(format_report(report))
    if args.output.endswith(".onnx"):
        from ..explore.models import export_model
        export_model(model, args.output)
    else:
        from ..explore.models import save_model
        save_model(model, args.output)
    print(f"wrote {args.output}: {model.name}")
    if args.json is not None:
        import json

        from ._options import write_json_file
        if (bad := write_json_file("--json", args.json,
                                   json.dumps(report, indent=2, sort_keys=True))):
            return fail(bad)
        print(f"wrote {args.json}")
    return 0


COMMAND = Command("train", help=_HELP, description=_HELP[0].upper() + _HELP[1:] + ".",
                  epilog=_EPILOG, raw_text=True, add_arguments=add_arguments, run=run)
