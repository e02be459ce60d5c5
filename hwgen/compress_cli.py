"""``hwgen compress``: prune, quantize and HAM/sHAM-encode a model's weight matrices.

::

    hwgen compress MODEL [--prune P] [--quant none|kmeans:K|pq:B] [--format ham|sham]
                   [--word-width W] [--max-len L] [--seed S] -o FILE

MODEL is either

* a numpy ``.npz`` file: every 2-D real array in it is a weight matrix (``W[in, out]``, one per
  layer, compressed in the file's order); arrays of other ranks (biases) are listed and left
  out; or
* ``gauss:N0,N1,...,Nk`` -- a built-in stand-in: dense layers ``N0 x N1``, ``N1 x N2``, ... with
  He-initialized Gaussian weights (``std = sqrt(2 / fan_in)``, ``--seed``). They are **not
  trained**: their ψ shows what the coding does to Gaussian weights, nothing about accuracy.

The steps, per matrix (:mod:`hwgen.golden.compress`): magnitude pruning of ``P`` % of the
entries, then k-means weight sharing with ``K`` centroids or probabilistic quantization to
``2**B`` levels of the non-zeros, then HAM or sHAM coding with canonical Huffman codes of at most
``L`` bits packed in ``W``-bit words. FILE is an archive of one container per matrix (layout in
:mod:`hwgen.golden.compress`); it is read back and decoded before the command reports success.

Prints, per matrix and in total, ψ (compressed bits over dense fp32 bits) and the plain ratio.
Accuracy before and after needs a model with data (the built-in models are not there yet): not
reported.
"""

import argparse
import sys
from pathlib import Path

__all__ = ["add_compress_parser", "run_compress", "parse_quant", "load_model"]


_DESCRIPTION = """\
Prune, quantize and HAM/sHAM-encode the weight matrices of MODEL; print psi and the plain
compression ratio; write an archive of containers (see hwgen.golden.compress).

MODEL: a .npz file (every 2-D real array is a weight matrix W[in, out]; other arrays are left
out), or gauss:N0,N1,... -- untrained He-initialized Gaussian layers N0xN1, N1xN2, ... (a
stand-in: no accuracy). Accuracy before/after is not reported (needs built-in models)."""


def _fail(message):
    print(f"hwgen: error: {message}", file=sys.stderr)
    return 2


def add_compress_parser(sub):
    """Add the ``compress`` subcommand to the subparsers object ``sub``."""
    p = sub.add_parser(
        "compress", help="prune, quantize and HAM/sHAM-encode a model's weight matrices",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL",
                   help="a .npz of 2-D weight matrices, or gauss:N0,N1,... (untrained "
                        "Gaussian stand-in)")
    p.add_argument("--prune", metavar="P", default="0",
                   help="percentage of smallest-magnitude entries to zero (0..100, default 0)")
    p.add_argument("--quant", metavar="SPEC", default="none",
                   help="none, kmeans:K (K shared weights) or pq:B (2**B probabilistic "
                        "levels); default none")
    p.add_argument("--format", choices=["ham", "sham"], default="sham",
                   help="HAM (every entry coded) or sHAM (CSC: coded non-zeros + indices); "
                        "default sham")
    p.add_argument("--word-width", type=int, default=32, metavar="W",
                   help="bits per packed word: 8, 16, 32 or 64 (default 32)")
    p.add_argument("--max-len", type=int, default=16, metavar="L",
                   help="longest Huffman code in bits, 1..32 (default 16)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of pq draws and of the gauss: stand-in (default 0)")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="archive file to write (its directory must exist)")
    return p


def parse_quant(spec):
    """``("none", None)``, ``("kmeans", K)`` or ``("pq", B)``; ValueError (one line) if bad."""
    spec = str(spec).strip().lower()
    if spec == "none":
        return "none", None
    kind, sep, num = spec.partition(":")
    if kind in ("kmeans", "pq") and sep:
        try:
            n = int(num)
        except ValueError:
            n = None
        if kind == "kmeans" and n is not None and n >= 1:
            return kind, n
        if kind == "pq" and n is not None and 1 <= n <= 16:
            return kind, n
    raise ValueError(f"--quant must be none, kmeans:K (K >= 1) or pq:B (B in 1..16), "
                     f"not {spec!r}")


def load_model(spec, seed=0):
    """``(matrices, skipped, note)``: the named 2-D float matrices of MODEL, the names of
    arrays left out, and a note to print (the stand-in is untrained)."""
    import numpy as np
    if spec.startswith("gauss:"):
        try:
            sizes = [int(s) for s in spec[6:].split(",")]
        except ValueError:
            sizes = []
        if len(sizes) < 2 or min(sizes) < 1 or max(sizes) > 100_000:
            raise ValueError(f"gauss: model must list at least two layer widths in "
                             f"1..100000 (gauss:784,300,100,10), not {spec!r}")
        rng = np.random.default_rng(seed)
        mats = [(f"fc{i + 1}", (rng.standard_normal((a, b)) * np.sqrt(2.0 / a))
                 .astype(np.float32)) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]
        return mats, [], "untrained Gaussian stand-in (He init): no accuracy to report"
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"model {spec!r} is not a file (a .npz of weight matrices, or "
                         f"gauss:N0,N1,...)")
    import zipfile
    if not zipfile.is_zipfile(path):
        raise ValueError(f"model {spec!r} is not a .npz file (numpy.savez output)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = [(k, z[k]) for k in z.files]
    except Exception as e:  # noqa: BLE001 - any unreadable file is one user error
        raise ValueError(f"cannot read {spec!r} as a .npz file: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    mats, skipped = [], []
    for k, a in arrays:
        if a.ndim == 2 and np.issubdtype(a.dtype, np.number) \
                and not np.issubdtype(a.dtype, np.complexfloating):
            mats.append((k, a))
        else:
            skipped.append(k)
    if not mats:
        raise ValueError(f"{spec!r} holds no 2-D real array (weight matrix)")
    return mats, skipped, ""


def run_compress(args):
    """Run ``hwgen compress``; returns the exit status (2 for a bad value, one line)."""
    from fractions import Fraction

    import numpy as np

    from .golden import compress as gc

    try:
        try:
            prune_pct = float(args.prune)
        except ValueError:
            raise ValueError(f"--prune must be a number in 0..100, not {args.prune!r}") from None
        if not 0 <= prune_pct <= 100:
            raise ValueError(f"--prune must be a number in 0..100, not {args.prune!r}")
        qkind, qn = parse_quant(args.quant)
        if args.word_width not in gc.WORD_WIDTHS:
            raise ValueError(f"--word-width must be 8, 16, 32 or 64, not {args.word_width}")
        if not 1 <= args.max_len <= 32:
            raise ValueError(f"--max-len must be in 1..32, not {args.max_len}")
        out = Path(args.output)
        if out.is_dir():
            raise ValueError(f"output {args.output!r} is a directory; give a file name")
        if not out.parent.exists():
            raise ValueError(f"output directory {str(out.parent)!r} does not exist")
        mats, skipped, note = load_model(args.model, args.seed)
        results = []
        for i, (name, w) in enumerate(mats):
            wp = gc.prune(w, prune_pct)
            if qkind == "kmeans":
                wq, _ = gc.kmeans_share(wp, qn)
            elif qkind == "pq":
                wq, _ = gc.pq_quantize(wp, qn, seed=args.seed + i)
            else:
                wq = wp
            try:
                c = gc.compress(wq, args.format, word_width=args.word_width,
                                max_len=args.max_len)
            except ValueError as e:
                if "do not fit" in str(e):
                    raise ValueError(f"{name}: {e}; quantize (--quant) or raise --max-len") \
                        from None
                raise
            results.append((name, wq, c))
    except (ValueError, TypeError) as e:
        return _fail(str(e).splitlines()[0])

    blob = gc.write_archive((name, c) for name, _, c in results)
    try:
        out.write_bytes(blob)
    except OSError as e:
        return _fail(f"cannot write {args.output!r}: {e.strerror}")
    back = gc.read_archive(out.read_bytes())
    for (name, wq, _), (name2, c2) in zip(results, back):
        if name != name2 or not np.array_equal(gc.decompress(c2), wq):
            return _fail(f"internal error: {name!r} does not decode back from {args.output!r}")

    quant = "none" if qkind == "none" else f"{qkind}:{qn}"
    print(f"{args.model}: prune {prune_pct:g} %, quant {quant}, {args.format.upper()}, "
          f"{args.word_width}-bit words, codes <= {args.max_len} bits")
    if note:
        print(f"note: {note}")
    if skipped:
        print(f"left out (not 2-D matrices): {', '.join(skipped)}")
    rows = [("matrix", "shape", "non-zeros", "symbols", "psi", "ratio")]
    tot_bits = tot_dense = 0
    for name, wq, c in results:
        bits = sum(c.size_bits().values())
        dense = 32 * wq.size
        tot_bits += bits
        tot_dense += dense
        rows.append((name, f"{wq.shape[0]}x{wq.shape[1]}", str(int(np.count_nonzero(wq))),
                     str(c.code.n_symbols), f"{float(gc.psi(c)):.4f}",
                     f"{float(gc.plain_ratio(c)):.2f}x"))
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(x.ljust(w) if j == 0 else x.rjust(w)
                        for j, (x, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    total = Fraction(tot_bits, tot_dense)
    print(f"total: psi = {float(total):.4f}, plain ratio = {float(1 / total):.2f}x "
          f"({tot_dense // 8} dense fp32 bytes -> {-(-tot_bits // 8)} bytes)")
    print(f"wrote {args.output}: {len(blob)} bytes, {len(results)} container(s), "
          f"decoded back bit-exactly")
    return 0
