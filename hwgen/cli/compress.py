"""``hwgen compress``: prune, quantize and HAM/sHAM-encode a model's weight matrices, and
measure what that does to its accuracy.

::

    hwgen compress MODEL [--prune P] [--quant none|kmeans:K|pq:B] [--format ham|sham]
                   [--arith FORMAT] [--word-width W] [--max-len L] [--seed S] [-o FILE]

MODEL and the steps are described in :mod:`hwgen.compress`. FILE is an archive of one
container per matrix (layout in :mod:`hwgen.golden.compress`); it is read back and decoded
before anything is reported.

Prints, per matrix and in total, ψ (compressed bits over dense fp32 bits, the paper's
occupancy ratio) and the plain ratio ``1/ψ``; for a model with data, the test accuracy before
(the original float64 weights) and after (the weights **decoded from the written archive**),
both computed by :mod:`hwgen.explore.emulate` in the arithmetic ``--arith``: ``float64`` (the
default) or any explorer candidate (``fx8``, ``e4m3``, ``bf16``... emulated bit-exactly with the
golden MAC models).
"""

from pathlib import Path

from ._command import Command, fail

__all__ = ["COMMAND"]


_DESCRIPTION = """\
Prune, quantize and HAM/sHAM-encode the weight matrices of MODEL; print psi, the plain
compression ratio and the test accuracy before and after (through the golden model); write an
archive of containers (see hwgen.golden.compress).

MODEL: a built-in model (hwgen explore --list-models), an explorer model file (.npz), an ONNX
file (--data FILE.npz for its accuracy), any .npz of 2-D weight matrices W[out, in] (psi only),
or gauss:N0,N1,... -- untrained He-initialized Gaussian layers N0xN1, N1xN2, ... (psi only).
Model and data file formats: docs/models.md."""


def add_arguments(p):
    p.add_argument("model", metavar="MODEL",
                   help="built-in model name, model .npz or .onnx, .npz of 2-D weight "
                        "matrices, or gauss:N0,N1,... (untrained Gaussian stand-in)")
    p.add_argument("--data", metavar="FILE.npz", default=None,
                   help="test data of the model (keys x_test, y_test, optional x_calib: raw "
                        "inputs; docs/models.md); replaces a built-in model's test data")
    p.add_argument("--prune", metavar="P", default="0",
                   help="percentage of smallest-magnitude entries to zero (0..100, default 0)")
    p.add_argument("--quant", metavar="SPEC", default="none",
                   help="none, kmeans:K (K shared weights) or pq:B (2**B probabilistic "
                        "levels); default none")
    p.add_argument("--format", choices=["ham", "sham"], default="sham",
                   help="HAM (every entry coded) or sHAM (CSC: coded non-zeros + indices); "
                        "default sham")
    p.add_argument("--arith", metavar="FORMAT", default="float64",
                   help="arithmetic of the accuracy evaluation: float64 (default) or an "
                        "explorer candidate (fx8, e4m3, bf16, ...)")
    p.add_argument("--word-width", type=int, default=32, metavar="W",
                   help="bits per packed word: 8, 16, 32 or 64 (default 32)")
    p.add_argument("--max-len", type=int, default=16, metavar="L",
                   help="longest Huffman code in bits, 1..32 (default 16)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of pq draws and of the gauss: stand-in (default 0)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="archive file to write (its directory must exist; default: the "
                        "model's name with .hwga, in the current folder)")


def _print_table(rows):
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(x.ljust(w) if j == 0 else x.rjust(w)
                        for j, (x, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def run(args):
    """Run ``hwgen compress``; returns the exit status (2 for a bad value, one line)."""
    import numpy as np

    from ..compress import compress_matrices, load_model, parse_quant, total_psi, with_weights
    from ..golden import compress as gc

    try:
        try:
            prune_pct = float(args.prune)
        except ValueError:
            raise ValueError(f"--prune must be a number in 0..100, not {args.prune!r}") from None
        if not 0 <= prune_pct <= 100:
            raise ValueError(f"--prune must be a number in 0..100, not {args.prune!r}")
        quant = parse_quant(args.quant)
        if args.word_width not in gc.WORD_WIDTHS:
            raise ValueError(f"--word-width must be 8, 16, 32 or 64, not {args.word_width}")
        if not 1 <= args.max_len <= 32:
            raise ValueError(f"--max-len must be in 1..32, not {args.max_len}")
        arith = None
        if str(args.arith).strip().lower() not in ("float64", "fp64", "f64"):
            from ..explore.emulate import parse_candidate
            try:
                arith = parse_candidate(args.arith)
            except (ValueError, TypeError) as e:
                raise ValueError(f"--arith must be float64 or an explorer candidate (fx8, "
                                 f"e4m3, bf16, ...), not {args.arith!r} "
                                 f"({str(e).splitlines()[0]})") from None
        model, mats, skipped, note = load_model(args.model, args.seed, args.data)
        if args.output is None:
            import re
            base = Path(args.model).stem if (Path(args.model).suffix in (".npz", ".onnx")
                                             or "/" in args.model) else args.model
            args.output = re.sub(r"[^A-Za-z0-9_.-]", "_", base) + ".hwga"
        out = Path(args.output)
        if out.is_dir():
            raise ValueError(f"output {args.output!r} is a directory; give a file name")
        if not out.parent.exists():
            raise ValueError(f"output directory {str(out.parent)!r} does not exist")
        results = compress_matrices(mats, prune_pct, quant, args.format,
                                    word_width=args.word_width, max_len=args.max_len,
                                    seed=args.seed)
    except (ValueError, TypeError) as e:
        return fail(str(e).splitlines()[0])

    blob = gc.write_archive((name, c) for name, _, c in results)
    try:
        out.write_bytes(blob)
    except OSError as e:
        return fail(f"cannot write {args.output!r}: {e.strerror}")
    back = gc.read_archive(out.read_bytes())
    decoded = []
    for (name, wq, _), (name2, c2) in zip(results, back):
        d = gc.decompress(c2)
        if name != name2 or not np.array_equal(d, wq):
            return fail(f"internal error: {name!r} does not decode back from {args.output!r}")
        decoded.append(d)

    qkind, qn = quant
    qtext = "none" if qkind == "none" else f"{qkind}:{qn}"
    title = args.model if model is None else f"{args.model} ({model.summary()})"
    print(f"{title}: prune {prune_pct:g} %, quant {qtext}, {args.format.upper()}, "
          f"{args.word_width}-bit words, codes <= {args.max_len} bits")
    if note:
        print(f"note: {note}")
    if skipped:
        print(f"left out (not 2-D matrices): {', '.join(skipped)}")
    rows = [("matrix", "shape", "non-zeros", "symbols", "psi", "ratio")]
    for name, wq, c in results:
        rows.append((name, f"{wq.shape[0]}x{wq.shape[1]}", str(int(np.count_nonzero(wq))),
                     str(c.code.n_symbols), f"{float(gc.psi(c)):.4f}",
                     f"{float(gc.plain_ratio(c)):.2f}x"))
    _print_table(rows)
    total = total_psi(results)
    tot_dense = sum(32 * wq.size for _, wq, _ in results)
    tot_bits = total * tot_dense
    print(f"total: psi = {float(total):.4f}, plain ratio = {float(1 / total):.2f}x "
          f"({tot_dense // 8} dense fp32 bytes -> {-(-int(tot_bits) // 8)} bytes)")
    if model is not None and model.has_data:
        from ..explore.emulate import evaluate
        before = evaluate(model, arith)[0]
        after = evaluate(with_weights(model, decoded), arith)[0]
        print(f"accuracy ({'float64' if arith is None else arith}, {len(model.y_test)} test "
              f"inputs, biases uncompressed): before {before:.4f}, after {after:.4f} "
              f"({100 * (after - before):+.2f} points)")
    print(f"wrote {args.output}: {len(blob)} bytes, {len(results)} container(s), "
          f"decoded back bit-exactly")
    return 0


COMMAND = Command("compress",
                  help="prune, quantize and HAM/sHAM-encode a model's weight matrices",
                  description=_DESCRIPTION, raw_text=True, add_arguments=add_arguments, run=run)
