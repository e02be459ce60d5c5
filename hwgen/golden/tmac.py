"""Golden model of the ternary MAC, and the host helper that makes ternary weights.

Ternary weights are {-1, 0, +1} times a scale (Aytekin et al.: the critical points of the
compressibility loss ‖w‖₁/‖w‖₂ are ternary). On the wire each weight is a 2-bit code,
bit 0 = *nonzero*, bit 1 = *negative*:

======  ======
code    weight
======  ======
``00``  0 (skipped)
``01``  +1 (add)
``11``  -1 (subtract)
``10``  0 (skipped; "-0")
======  ======

so +1, 0, -1 are their own two's-complement patterns. The unit adds, subtracts or skips each
activation (no multiplier) and counts the skipped (zero) weights. The integer result is in
units of the scale; the host multiplies by it.
"""

import numpy as np
import numpy.typing as npt

from .bsmac import accumulate_groups, wrap

__all__ = ["CODE_ZERO", "CODE_PLUS", "CODE_MINUS", "ternary_encode", "ternary_decode",
           "ternary_dot", "ternary_mac", "quantize_ternary", "ternary_error"]

CODE_ZERO = 0b00
CODE_PLUS = 0b01
CODE_MINUS = 0b11


def ternary_encode(t: npt.ArrayLike) -> np.ndarray:
    """Codes (uint8) of ternary values ``t`` in {-1, 0, +1}."""
    t = np.asarray(t, dtype=np.int64)
    if t.size and (t.min() < -1 or t.max() > 1):
        raise ValueError("Ternary values must be -1, 0 or +1")
    return np.where(t > 0, CODE_PLUS, np.where(t < 0, CODE_MINUS, CODE_ZERO)).astype(np.uint8)


def ternary_decode(codes: npt.ArrayLike) -> np.ndarray:
    """Ternary values (int64) of 2-bit ``codes`` (see the table in the module docstring)."""
    c = np.asarray(codes, dtype=np.int64)
    return np.where(c & 1, 1 - (c & 2), 0)


def ternary_dot(codes: npt.ArrayLike, acts: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(sums, zeros)`` per dot product: ``codes`` and ``acts`` have shape ``(..., lanes)``;
    ``sums = decode(codes) @ acts`` and ``zeros`` counts the skipped (zero) weights."""
    t = ternary_decode(codes)
    a = np.asarray(acts, dtype=np.int64)
    return np.sum(t * a, axis=-1), np.sum(t == 0, axis=-1)


def ternary_mac(codes: npt.ArrayLike, acts: npt.ArrayLike, last: npt.ArrayLike,
                acc_bits: int | None = None,
                count_bits: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Group results ``(acc, zeros)``, one per operation with ``last`` set: the accumulated
    sums (wrapped to ``acc_bits``) and zero counts (modulo ``2**count_bits``) of each group
    (see :func:`hwgen.golden.bsmac.accumulate_groups`)."""
    s, z = ternary_dot(codes, acts)
    acc = accumulate_groups(s, last, acc_bits, signed=True)
    zeros = accumulate_groups(z, last)
    if count_bits is not None:
        zeros = wrap(zeros, count_bits, signed=False)
    return acc, zeros


def ternary_error(w: npt.ArrayLike, t: npt.ArrayLike, scale: npt.ArrayLike,
                  axis: int | None = None) -> np.number | np.ndarray:
    """Squared error ``sum((w - scale * t)**2)`` over ``axis`` (scale broadcasts)."""
    w = np.asarray(w, dtype=np.float64)
    return np.sum((w - np.asarray(scale) * t) ** 2, axis=axis)


def quantize_ternary(w: npt.ArrayLike, axis: int | None = None
                     ) -> tuple[np.ndarray, float | np.ndarray, float | np.ndarray]:
    """Quantize a float array to ``t * scale`` with ``t`` in {-1, 0, +1}, minimizing the
    squared error exactly over all thresholds.

    For a threshold ``delta`` the weights with ``|w| > delta`` become ``±1`` and the best scale
    is the mean of their magnitudes; the error is then ``sum(w**2) - S_k**2 / k`` (``k`` kept
    weights, ``S_k`` their magnitude sum), so the best threshold keeps the ``k`` largest
    magnitudes that maximize ``S_k**2 / k``. Every threshold that separates distinct
    magnitudes is tried.

    Parameters
    ----------
    w : array_like of float
    axis : int or None
        ``None``: one scale for the whole array; an int: one scale per slice along the other
        axes, reducing over ``axis`` (e.g. ``axis=1`` of a ``(out, in)`` matrix gives one scale
        per output row).

    Returns
    -------
    t : numpy.ndarray of int8
        Ternary values, same shape as ``w``.
    scale : float or numpy.ndarray
        Scale(s), with ``axis`` kept as a length-1 dimension when ``axis`` is an int.
    threshold : float or numpy.ndarray
        The chosen ``delta`` (midway between the smallest kept and largest dropped magnitude);
        ``t = sign(w) * (|w| > delta)``.
    """
    w = np.asarray(w, dtype=np.float64)
    if axis is None:
        rows = w.reshape(1, -1)
    else:
        rows = np.moveaxis(w, axis, -1)
        rows = rows.reshape(-1, rows.shape[-1])
    n = rows.shape[1]
    mag = -np.sort(-np.abs(rows), axis=1)                    # descending
    csum = np.cumsum(mag, axis=1)
    k = np.arange(1, n + 1)
    gain = csum ** 2 / k                                      # error reduction keeping k
    nxt = np.concatenate([mag[:, 1:], np.zeros((mag.shape[0], 1))], axis=1)
    gain = np.where(mag > nxt, gain, -np.inf)                 # a threshold must separate them
    best = np.argmax(gain, axis=1)
    r = np.arange(mag.shape[0])
    keep = gain[r, best] > 0
    scale: float | np.ndarray
    thr: float | np.ndarray
    sc: float | np.ndarray
    th: float | np.ndarray
    scale = np.where(keep, csum[r, best] / (best + 1), 0.0)
    thr = np.where(keep, (mag[r, best] + nxt[r, best]) / 2, np.inf)
    if axis is None:
        scale, thr = float(scale[0]), float(thr[0])
        sc, th = scale, thr
    else:
        shape = list(np.moveaxis(w, axis, -1).shape[:-1]) + [1]
        sc = np.moveaxis(scale.reshape(shape), -1, axis)
        th = np.moveaxis(thr.reshape(shape), -1, axis)
        scale, thr = sc, th
    t = (np.sign(w) * (np.abs(w) > th)).astype(np.int8)
    return t, scale, thr
