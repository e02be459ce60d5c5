"""Pruning and quantization of weight matrices (host side, numpy only)."""

from fractions import Fraction
from typing import cast

import numpy as np
import numpy.typing as npt

__all__ = ["prune", "kmeans_1d", "kmeans_share", "pq_quantize"]


def _as_matrix(w: npt.ArrayLike) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"Weights must be a 2-D matrix, not an array of shape {w.shape}")
    if w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"Weights must have at least one row and one column, not shape "
                         f"{w.shape}")
    if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
        raise TypeError(f"Weights must be real numbers, not dtype {w.dtype}")
    w = w.astype(np.float32)
    if not np.all(np.isfinite(w)):
        raise ValueError("Weights must be finite (no NaN or infinity)")
    w[w == 0] = 0.0  # one zero: -0.0 becomes +0.0
    return w


def prune(w: npt.ArrayLike, percent: float) -> np.ndarray:
    """Zero the ``percent`` % smallest-magnitude entries of ``w`` (a float32 copy).

    Exactly ``floor(percent * size / 100)`` entries are zeroed: the smallest ``|w|``, ties
    broken by column-major position (so the result does not depend on the platform's sort).
    Entries already zero count among them.
    """
    if isinstance(percent, bool) or not isinstance(percent, (int, float, np.integer,
                                                             np.floating)):
        raise TypeError(f"Pruning percentage must be a number, not {percent!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"Pruning percentage must be in [0, 100], not {percent!r}")
    w = _as_matrix(w)
    flat = w.ravel(order="F").copy()
    n = int(Fraction(percent) * flat.size // 100)
    if n:
        order = np.argsort(np.abs(flat), kind="stable")
        flat[order[:n]] = 0.0
    return flat.reshape(w.shape, order="F")


def kmeans_1d(x: npt.ArrayLike, k: int, *,
              max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic 1-D k-means (Lloyd) of the values ``x``.

    Initialization is linear: ``k`` centroids evenly spaced between ``min(x)`` and ``max(x)``
    (Han et al., "Deep Compression": linear init keeps the rare large weights, which matter
    most). Each step assigns every value to its nearest centroid (a tie goes to the lower one)
    and moves each centroid to the mean of its values; a centroid with no values stays. Stops
    when no assignment changes (or after ``max_iter`` steps). If ``x`` has at most ``k``
    distinct values, they are the centroids.

    Returns ``(centroids, labels)``: sorted float64 centroids (possibly fewer than ``k`` when
    ``x`` has fewer distinct values) and each value's centroid index.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    uniq = np.unique(x)
    if uniq.size <= k:
        return uniq, np.searchsorted(uniq, x)
    c = np.linspace(x.min(), x.max(), k)
    labels = None
    for _ in range(max_iter):
        mids = (c[1:] + c[:-1]) / 2
        new = np.searchsorted(mids, x, side="left")  # x == mid goes to the lower centroid
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        sums = np.bincount(labels, weights=x, minlength=k)
        cnt = np.bincount(labels, minlength=k)
        c = np.where(cnt > 0, sums / np.maximum(cnt, 1), c)
        c = np.sort(c)  # means of ordered clusters stay ordered; sort guards rounding
    used = np.unique(cast(np.ndarray, labels))    # set: max_iter >= 1 steps ran
    return c[used], np.searchsorted(used, cast(np.ndarray, labels))


def kmeans_share(w: npt.ArrayLike, k: int | np.integer, *,
                 max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """k-means weight sharing of the non-zeros of ``w``: every non-zero is replaced by its
    cluster's centroid (float32); zeros stay zero.

    Returns ``(wq, centroids)`` with ``centroids`` the sorted float32 centroids in use. A
    centroid that rounds to 0.0 in float32 turns its members into zeros.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"Cluster count must be a positive integer, not {k!r}")
    if k < 1:
        raise ValueError(f"Cluster count must be a positive integer, not {k!r}")
    w = _as_matrix(w)
    nz = w != 0
    c, labels = kmeans_1d(w[nz], int(k), max_iter=max_iter)
    c32 = c.astype(np.float32)
    wq = np.zeros_like(w)
    wq[nz] = c32[labels]
    wq[wq == 0] = 0.0
    return wq, c32


def pq_quantize(w: npt.ArrayLike, bits: int | np.integer, *,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilistic quantization of the non-zeros of ``w`` to ``2**bits`` levels.

    The levels are evenly spaced from the smallest to the largest non-zero (float64). A value
    ``x`` between levels ``a <= x <= b`` becomes ``b`` with probability ``(x - a) / (b - a)``
    and ``a`` otherwise, so ``E[q] = x``: the quantization is unbiased (before the final
    rounding of the level to float32). Draws come from ``numpy.random.default_rng(seed)``, in
    column-major order of the non-zeros. Zeros stay zero.

    Returns ``(wq, levels)`` with ``levels`` the float32 levels.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"Level bits must be a positive integer, not {bits!r}")
    if not 1 <= bits <= 16:
        raise ValueError(f"Level bits must be an integer in 1..16, not {bits!r}")
    w = _as_matrix(w)
    flat = w.ravel(order="F").astype(np.float64)
    nzi = np.flatnonzero(flat)
    x = flat[nzi]
    if x.size == 0:
        return w.copy(), np.zeros(0, dtype=np.float32)
    lo, hi = x.min(), x.max()
    n = 1 << bits
    levels = np.linspace(lo, hi, n)
    if hi == lo:
        q = x
    else:
        step = (hi - lo) / (n - 1)
        i = np.clip(np.floor((x - lo) / step).astype(np.int64), 0, n - 2)
        a, b = levels[i], levels[i + 1]
        p = np.clip((x - a) / (b - a), 0.0, 1.0)
        up = np.random.default_rng(seed).random(x.size) < p
        q = np.where(up, b, a)
    out = np.zeros(flat.size, dtype=np.float32)
    out[nzi] = q.astype(np.float32)
    out[out == 0] = 0.0
    return out.reshape(w.shape, order="F"), levels.astype(np.float32)
