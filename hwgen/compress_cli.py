"""``hwgen compress``: prune, quantize and HAM/sHAM-encode a model's weight matrices, and
measure what that does to its accuracy.

::

    hwgen compress MODEL [--prune P] [--quant none|kmeans:K|pq:B] [--format ham|sham]
                   [--arith FORMAT] [--word-width W] [--max-len L] [--seed S] -o FILE

MODEL is one of

* a built-in model of the explorer (``hwgen explore --list-models``: ``mlp-digits``,
  ``cnn-digits``, ``mlp-iris``...), trained on first use and cached;
* a model file in the explorer's ``.npz`` format (:mod:`hwgen.explore.models`; recognized by
  its ``format_version`` key);
* any other numpy ``.npz`` file: every 2-D real array in it is a weight matrix (``W[in,
  out]``), compressed in the file's order; other arrays are listed and left out. There is no
  network and no data, so no accuracy;
* ``gauss:N0,N1,...,Nk`` -- untrained He-initialized Gaussian layers ``N0 x N1``, ``N1 x N2``...
  (``std = sqrt(2 / fan_in)``, ``--seed``): ψ only.

The weight matrix of a model's ``dense`` layer (``W[out, in]``) is compressed as ``W.T`` (``in x
out``: the ``K x N`` operand the systolic array and :mod:`hwgen.golden.tiling` take, so a column
is an output neuron); that of a ``conv2d`` layer as its im2col form ``W.reshape(out, -1).T``.
Biases are not compressed (they are ``out`` values per layer) and stay float64.

The steps, per matrix (:mod:`hwgen.golden.compress`): magnitude pruning of ``P`` % of the
entries, then k-means weight sharing with ``K`` centroids or probabilistic quantization to
``2**B`` levels of the non-zeros, then HAM or sHAM coding with canonical Huffman codes of at most
``L`` bits packed in ``W``-bit words. FILE is an archive of one container per matrix (layout in
:mod:`hwgen.golden.compress`); it is read back and decoded before anything is reported.

Prints, per matrix and in total, ψ (compressed bits over dense fp32 bits, the paper's
occupancy ratio) and the plain ratio ``1/ψ``; for a model with data, the test accuracy before
(the original float64 weights) and after (the weights **decoded from the written archive**),
both computed by :mod:`hwgen.explore.emulate` in the arithmetic ``--arith``: ``float64`` (the
default) or any explorer candidate (``fx8``, ``e4m3``, ``bf16``... emulated bit-exactly with the
golden MAC models).
"""

import argparse
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

__all__ = ["add_compress_parser", "run_compress", "parse_quant", "load_model",
           "weight_matrices", "with_weights", "compress_matrices", "CompressedModel",
           "compress_model"]


_DESCRIPTION = """\
Prune, quantize and HAM/sHAM-encode the weight matrices of MODEL; print psi, the plain
compression ratio and the test accuracy before and after (through the golden model); write an
archive of containers (see hwgen.golden.compress).

MODEL: a built-in model (hwgen explore --list-models), an explorer model file (.npz), any .npz
of 2-D weight matrices W[in, out] (psi only), or gauss:N0,N1,... -- untrained He-initialized
Gaussian layers N0xN1, N1xN2, ... (psi only)."""


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
                   help="built-in model name, model .npz, .npz of 2-D weight matrices, or "
                        "gauss:N0,N1,... (untrained Gaussian stand-in)")
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
                   help="archive file to write (required; its directory must exist)")
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


def _builtin_names():
    from .explore.models import BUILTIN
    return ", ".join(BUILTIN)


def load_model(spec, seed=0):
    """``(model, matrices, skipped, note)`` for MODEL: the explorer
    :class:`~hwgen.explore.models.Model` (None without one), its named 2-D weight matrices
    (see :func:`weight_matrices`), the names of arrays left out, and a note to print.

    Raises ValueError (one line) for an unknown name or an unreadable/invalid file."""
    import zipfile

    import numpy as np

    from .explore import models as em
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
        return None, mats, [], "untrained Gaussian stand-in (He init): no accuracy to report"
    if spec in em.BUILTIN:
        model = em.builtin_model(spec)
        return model, weight_matrices(model), [], ""
    path = Path(spec)
    if not path.exists():
        if spec.endswith(".npz") or "/" in spec:
            raise ValueError(f"model file {spec!r} does not exist")
        raise ValueError(f"unknown model {spec!r}: give a built-in model ({_builtin_names()}),"
                         f" an .npz file or gauss:N0,N1,...")
    if not path.is_file():
        raise ValueError(f"model {spec!r} is not a file (a built-in model name, an .npz "
                         f"file or gauss:N0,N1,...)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"model {spec!r} is not a .npz file (numpy.savez output)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = [(k, z[k]) for k in z.files]
    except Exception as e:  # noqa: BLE001 - any unreadable file is one user error
        raise ValueError(f"cannot read {spec!r} as a .npz file: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if any(k == "format_version" for k, _ in arrays):
        model = em.load_model(path)          # ValueError names the file and the key
        return model, weight_matrices(model), [], ""
    mats, skipped = [], []
    for k, a in arrays:
        if a.ndim == 2 and np.issubdtype(a.dtype, np.number) \
                and not np.issubdtype(a.dtype, np.complexfloating):
            mats.append((k, a))
        else:
            skipped.append(k)
    if not mats:
        raise ValueError(f"{spec!r} holds no 2-D real array (weight matrix)")
    return None, mats, skipped, "plain matrices, no model: no accuracy to report"


def weight_matrices(model):
    """``[(name, K x N matrix), ...]`` of a model's ``dense``/``conv2d`` layers: ``W.T`` for
    dense, ``W.reshape(out, -1).T`` for conv2d (name ``layer{i}``, as in the model file)."""
    out = []
    for i, layer in enumerate(model.layers):
        if layer["kind"] in ("dense", "conv2d"):
            w = layer["W"]
            out.append((f"layer{i}", w.reshape(w.shape[0], -1).T))
    return out


def with_weights(model, matrices):
    """A copy of ``model`` whose ``dense``/``conv2d`` weights are ``matrices`` (the K x N
    forms of :func:`weight_matrices`, in order), as float64."""
    import numpy as np

    from .explore.models import Model
    mats = iter(matrices)
    layers = []
    for layer in model.layers:
        layer = dict(layer)
        if layer["kind"] in ("dense", "conv2d"):
            w = layer["W"]
            layer["W"] = np.asarray(next(mats), dtype=np.float64).T.reshape(w.shape).copy()
        layers.append(layer)
    return Model(model.name, layers, model.input_shape, model.x_test, model.y_test,
                 model.x_calib, model.description)


def compress_matrices(mats, prune_pct, quant, fmt, *, word_width=32, max_len=16, seed=0):
    """``[(name, quantized float32 matrix, Compressed), ...]``: prune, quantize (``quant`` as
    :func:`parse_quant` returns it) and encode each matrix. Matrix ``i`` uses pq seed
    ``seed + i``."""
    from .golden import compress as gc
    qkind, qn = quant
    results = []
    for i, (name, w) in enumerate(mats):
        wp = gc.prune(w, prune_pct)
        if qkind == "kmeans":
            wq, _ = gc.kmeans_share(wp, qn)
        elif qkind == "pq":
            wq, _ = gc.pq_quantize(wp, qn, seed=seed + i)
        else:
            wq = wp
        try:
            c = gc.compress(wq, fmt, word_width=word_width, max_len=max_len)
        except ValueError as e:
            if "do not fit" in str(e):
                raise ValueError(f"{name}: {e}; quantize (--quant) or raise --max-len") \
                    from None
            raise
        results.append((name, wq, c))
    return results


@dataclass
class CompressedModel:
    """What :func:`compress_model` measured: per-matrix results, total ψ, and accuracies
    (None without a model)."""
    results: list
    psi: Fraction
    acc_before: float = None
    acc_after: float = None
    decoded: list = field(default_factory=list)


def total_psi(results):
    """ψ of several matrices together: all their bits over all their dense fp32 bits."""
    bits = sum(sum(c.size_bits().values()) for _, _, c in results)
    return Fraction(bits, sum(32 * wq.size for _, wq, _ in results))


def compress_model(model, prune_pct, quant, fmt="sham", *, arith=None, word_width=32,
                   max_len=16, seed=0, acc_before=None):
    """Compress every weight matrix of ``model`` and evaluate it with the decoded weights
    (``arith``: None for float64, else an explorer candidate). ``acc_before`` may be passed
    in to skip recomputing it."""
    from .explore.emulate import evaluate
    from .golden import compress as gc
    results = compress_matrices(weight_matrices(model), prune_pct, quant, fmt,
                                word_width=word_width, max_len=max_len, seed=seed)
    decoded = [gc.decompress(c) for _, _, c in results]
    if acc_before is None:
        acc_before = evaluate(model, arith)[0]
    after = evaluate(with_weights(model, decoded), arith)[0]
    return CompressedModel(results, total_psi(results), acc_before, after, decoded)


def _print_table(rows):
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(x.ljust(w) if j == 0 else x.rjust(w)
                        for j, (x, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def run_compress(args):
    """Run ``hwgen compress``; returns the exit status (2 for a bad value, one line)."""
    import numpy as np

    from .golden import compress as gc

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
            from .explore.emulate import parse_candidate
            try:
                arith = parse_candidate(args.arith)
            except (ValueError, TypeError) as e:
                raise ValueError(f"--arith must be float64 or an explorer candidate (fx8, "
                                 f"e4m3, bf16, ...), not {args.arith!r} "
                                 f"({str(e).splitlines()[0]})") from None
        model, mats, skipped, note = load_model(args.model, args.seed)
        if args.output is None:
            raise ValueError("missing -o/--output FILE: the archive file to write")
        out = Path(args.output)
        if out.is_dir():
            raise ValueError(f"output {args.output!r} is a directory; give a file name")
        if not out.parent.exists():
            raise ValueError(f"output directory {str(out.parent)!r} does not exist")
        results = compress_matrices(mats, prune_pct, quant, args.format,
                                    word_width=args.word_width, max_len=args.max_len,
                                    seed=args.seed)
    except (ValueError, TypeError) as e:
        return _fail(str(e).splitlines()[0])

    blob = gc.write_archive((name, c) for name, _, c in results)
    try:
        out.write_bytes(blob)
    except OSError as e:
        return _fail(f"cannot write {args.output!r}: {e.strerror}")
    back = gc.read_archive(out.read_bytes())
    decoded = []
    for (name, wq, _), (name2, c2) in zip(results, back):
        d = gc.decompress(c2)
        if name != name2 or not np.array_equal(d, wq):
            return _fail(f"internal error: {name!r} does not decode back from {args.output!r}")
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
    if model is not None:
        from .explore.emulate import evaluate
        before = evaluate(model, arith)[0]
        after = evaluate(with_weights(model, decoded), arith)[0]
        print(f"accuracy ({'float64' if arith is None else arith}, {len(model.y_test)} test "
              f"inputs, biases uncompressed): before {before:.4f}, after {after:.4f} "
              f"({100 * (after - before):+.2f} points)")
    print(f"wrote {args.output}: {len(blob)} bytes, {len(results)} container(s), "
          f"decoded back bit-exactly")
    return 0
