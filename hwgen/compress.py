"""Model compression, the library behind ``hwgen compress``: prune, quantize and HAM/sHAM-encode
a model's weight matrices (the bit-exact codec is :mod:`hwgen.golden.compress`) and measure
what that does to its accuracy.

A model (:func:`load_model`) is one of

* a built-in model of the explorer (``hwgen explore --list-models``: ``mlp-digits``,
  ``cnn-digits``, ``mlp-iris``...: ONNX files in the package, trained by ``hwgen train``);
* a model file in the explorer's ``.npz`` format (:mod:`hwgen.explore.models`; recognized by
  its ``format_version`` key) or an ONNX file (test data from a data file, see
  ``docs/models.md``);
* any other numpy ``.npz`` file: every 2-D real array in it is a weight matrix ``W[out, in]``
  (the convention of the model files, ONNX ``Gemm`` and PyTorch), compressed as ``W.T`` in the
  file's order; other arrays are listed and left out. There is no network and no data, so no
  accuracy;
* ``gauss:N0,N1,...,Nk`` -- untrained He-initialized Gaussian layers ``N0 x N1``, ``N1 x N2``...
  (``std = sqrt(2 / fan_in)``, ``seed``): ψ only.

The weight matrix of a model's ``dense`` layer (``W[out, in]``) is compressed as ``W.T`` (``in x
out``: the ``K x N`` operand the systolic array and :mod:`hwgen.golden.tiling` take, so a column
is an output neuron); that of a ``conv2d`` layer as its im2col form ``W.reshape(out, -1).T``.
Biases are not compressed (they are ``out`` values per layer) and stay float64.

The steps, per matrix (:func:`compress_matrices`, :mod:`hwgen.golden.compress`): magnitude
pruning of ``P`` % of the entries, then k-means weight sharing with ``K`` centroids or
probabilistic quantization to ``2**B`` levels of the non-zeros, then HAM or sHAM coding with
canonical Huffman codes of at most ``L`` bits packed in ``W``-bit words. ψ is compressed bits
over dense fp32 bits (the paper's occupancy ratio); accuracies are computed by
:mod:`hwgen.explore.emulate` (:func:`compress_model`).
"""

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from .explore.models import weight_matrices, with_weights

__all__ = ["parse_quant", "load_model", "weight_matrices", "with_weights", "compress_matrices",
           "CompressedModel", "total_psi", "compress_model"]


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


def load_model(spec, seed=0, data=None):
    """``(model, matrices, skipped, note)`` for MODEL: the explorer
    :class:`~hwgen.explore.models.Model` (None without one), its named 2-D weight matrices
    (see :func:`weight_matrices`), the names of arrays left out, and a note to print.

    MODEL is a built-in model's name, an explorer model file (``.npz``), an ONNX file (test
    data from ``data``, a data file of :func:`hwgen.explore.models.load_data`), a plain
    ``.npz`` of 2-D weight matrices ``W[out, in]``, or ``gauss:N0,N1,...``.

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
        if data is not None:
            raise ValueError(f"--data does not apply to a gauss: stand-in, not {spec!r}")
        rng = np.random.default_rng(seed)
        mats = [(f"fc{i + 1}", (rng.standard_normal((a, b)) * np.sqrt(2.0 / a))
                 .astype(np.float32)) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]
        return None, mats, [], "untrained Gaussian stand-in (He init): no accuracy to report"
    if spec in em.BUILTIN:
        model = em.get_model(spec, data)
        return model, weight_matrices(model), [], ""
    path = Path(spec)
    if not path.exists():
        if spec.endswith((".npz", ".onnx")) or "/" in spec:
            raise ValueError(f"model file {spec!r} does not exist")
        raise ValueError(f"unknown model {spec!r}: give a built-in model ({_builtin_names()}),"
                         f" an .npz or .onnx file or gauss:N0,N1,...")
    if not path.is_file():
        raise ValueError(f"model {spec!r} is not a file (a built-in model name, an .npz or "
                         f".onnx file or gauss:N0,N1,...)")
    if em.is_onnx_path(path):
        model = em.load_model(path, data)
        note = "" if model.has_data else "no test data (--data FILE.npz): no accuracy to report"
        return model, weight_matrices(model), [], note
    if not zipfile.is_zipfile(path):
        raise ValueError(f"model {spec!r} is neither a .npz file (numpy.savez output) nor an "
                         f"ONNX file")
    try:
        with np.load(path, allow_pickle=False) as z:
            is_model = "format_version" in z.files
    except Exception as e:  # noqa: BLE001 - any unreadable file is one user error
        raise ValueError(f"cannot read {spec!r} as a .npz file: "
                         f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if is_model:
        model = em.load_model(path, data)          # ValueError names the file and the key
        return model, weight_matrices(model), [], ""
    if data is not None:
        raise ValueError(f"--data needs a model, but {spec!r} holds plain weight matrices")
    mats, skipped = em.load_weight_file(path)
    return None, mats, skipped, "plain matrices, no model: no accuracy to report"


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
    acc_before: "float | None" = None
    acc_after: "float | None" = None
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
