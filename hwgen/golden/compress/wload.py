"""Golden model of :class:`hwgen.arrays.wload.WeightLoader`: compressed weights in the
weight-stationary array's stream layout."""

import numpy as np
import numpy.typing as npt

from .ham import Compressed, decompress

__all__ = ["stream_matrix", "weight_stream_rows"]


def stream_matrix(w: npt.ArrayLike, rows: int, cols: int) -> np.ndarray:
    """The *stream layout* of a ``K x N`` weight matrix for a weight-stationary ``rows`` x
    ``cols`` systolic array: the ``cols x T`` matrix whose column ``t`` is the array's weight
    transfer ``t``.

    K is zero-padded to a multiple of ``rows`` and N to a multiple of ``cols`` (``Kp``,
    ``Np``); the transfers are, for each column panel ``nt`` (``Np / cols`` of them), rows
    ``0 .. Kp-1`` of ``w[:, nt*cols:(nt+1)*cols]`` -- weight tile by weight tile, ``nt`` outer,
    the K-tile inner (the order of :mod:`hwgen.golden.tiling`). So ``T = Np / cols * Kp`` and
    the column-major order of the result is the weight stream, weight by weight.
    """
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"Weights must be a 2-D matrix, not an array of shape {w.shape}")
    for what, v in (("Rows", rows), ("Columns", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a positive integer, not {v!r}")
    k, n = w.shape
    kp, np_ = -(-k // rows) * rows, -(-n // cols) * cols
    wp = np.zeros((kp, np_), dtype=w.dtype)
    wp[:k, :n] = w
    return np.concatenate([wp[:, j:j + cols].T for j in range(0, np_, cols)], axis=1)


def weight_stream_rows(c: Compressed) -> np.ndarray:
    """The golden model of :class:`hwgen.arrays.wload.WeightLoader`: the rows of weights
    (``T x cols``, float32) it sends to the array for the container ``c`` of a stream-layout
    matrix (:func:`stream_matrix`), in order."""
    return decompress(c).T
