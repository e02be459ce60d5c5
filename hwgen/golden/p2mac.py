"""Golden model of the power-of-two MAC, and the host helper that makes power-of-two weights.

A power-of-two weight is ``0`` or ``±2**shift`` with ``0 <= shift <= max_shift``, times a
scale. On the wire each weight is three fields, first in the low bits:

``shift`` (``shift_bits = max(1, max_shift.bit_length())`` bits)
    the exponent; a code above ``max_shift`` saturates to ``max_shift``.
``neg`` (1 bit)
    the sign.
``zero`` (1 bit)
    the weight is 0: the lane is skipped (``shift`` and ``neg`` are ignored).

The unit shifts each activation instead of multiplying. The integer result is in units of
the scale; the host multiplies by it.
"""

import numpy as np
import numpy.typing as npt

from .bsmac import accumulate_groups

__all__ = ["shift_bits", "pow2_decode", "pow2_encode", "pow2_pack", "pow2_dot", "pow2_mac",
           "quantize_pow2"]


def shift_bits(max_shift: int) -> int:
    """Width of the ``shift`` field for ``max_shift``."""
    return max(1, int(max_shift).bit_length())


def pow2_decode(shift: npt.ArrayLike, neg: npt.ArrayLike, zero: npt.ArrayLike,
                max_shift: int) -> np.ndarray:
    """Integer weights (int64) of the fields ``shift``, ``neg``, ``zero`` (arrays)."""
    s = np.minimum(np.asarray(shift, dtype=np.int64), max_shift)
    mag = np.int64(1) << s
    v = np.where(np.asarray(neg, dtype=bool), -mag, mag)
    return np.where(np.asarray(zero, dtype=bool), 0, v)


def pow2_encode(values: npt.ArrayLike,
                max_shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fields ``(shift, neg, zero)`` (int64 arrays) of integer weights in
    ``{0, ±1, ±2, ..., ±2**max_shift}``; anything else raises ``ValueError``."""
    v = np.asarray(values, dtype=np.int64)
    mag = np.abs(v)
    shift = np.where(mag > 0, np.floor(np.log2(np.maximum(mag, 1))).astype(np.int64), 0)
    bad = (mag > 0) & ((np.int64(1) << shift) != mag) | (shift > max_shift)
    if np.any(bad):
        raise ValueError(f"Power-of-two weights must be 0 or ±2**k with 0 <= k <= "
                         f"{max_shift}, not {v[bad].ravel()[0]!r}")
    return shift, (v < 0).astype(np.int64), (v == 0).astype(np.int64)


def pow2_pack(shift: npt.ArrayLike, neg: npt.ArrayLike, zero: npt.ArrayLike,
              max_shift: int) -> np.ndarray:
    """One lane's code as an integer (``shift`` low, then ``neg``, then ``zero``)."""
    sb = shift_bits(max_shift)
    return (np.asarray(shift, dtype=np.int64) | (np.asarray(neg, dtype=np.int64) << sb)
            | (np.asarray(zero, dtype=np.int64) << (sb + 1)))


def pow2_dot(shift: npt.ArrayLike, neg: npt.ArrayLike, zero: npt.ArrayLike, acts: npt.ArrayLike,
             max_shift: int) -> np.ndarray:
    """Dot products ``decode(fields) @ acts`` over the last axis (shape ``(..., lanes)``)."""
    w = pow2_decode(shift, neg, zero, max_shift)
    return np.sum(w * np.asarray(acts, dtype=np.int64), axis=-1)


def pow2_mac(shift: npt.ArrayLike, neg: npt.ArrayLike, zero: npt.ArrayLike, acts: npt.ArrayLike,
             last: npt.ArrayLike, max_shift: int, acc_bits: int | None = None) -> np.ndarray:
    """Group results, one per operation with ``last`` set (see
    :func:`hwgen.golden.bsmac.accumulate_groups`), wrapped to ``acc_bits`` if given."""
    return accumulate_groups(pow2_dot(shift, neg, zero, acts, max_shift), last, acc_bits)


def quantize_pow2(w: npt.ArrayLike, max_shift: int,
                  axis: int | None = None) -> tuple[np.ndarray, float | np.ndarray]:
    """Quantize a float array to ``q * scale`` with ``q`` in ``{0, ±2**0, ..., ±2**max_shift}``.

    The scale maps the largest magnitude to ``2**max_shift`` (``scale = max|w| / 2**max_shift``,
    per slice when ``axis`` is an int, reducing over ``axis``; kept as a length-1 dimension);
    each ``w / scale`` then goes to the *nearest* representable value (linear distance; ties
    go to the larger magnitude), so below ``scale / 2`` it becomes 0.

    Returns
    -------
    q : numpy.ndarray of int64
        Integer power-of-two weights (encode them with :func:`pow2_encode`).
    scale : float or numpy.ndarray
    """
    w = np.asarray(w, dtype=np.float64)
    if not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"Maximum shift must be a non-negative integer, not {max_shift!r}")
    top = np.max(np.abs(w), axis=axis, keepdims=axis is not None)
    scale: float | np.ndarray
    scale = np.where(top > 0, top / 2.0 ** max_shift, 1.0)
    x = np.abs(w) / scale
    e = np.clip(np.floor(np.log2(np.maximum(x, 1.0))), 0, max_shift).astype(np.int64)
    lo = 2.0 ** e                                        # candidate below (or 1)
    up = (x >= 1.5 * lo) & (e < max_shift)               # nearer to 2**(e+1)
    mag = np.where(up, 2 * lo, lo)
    mag = np.where(x < 0.5, 0.0, mag)
    q = (np.sign(w) * mag).astype(np.int64)
    if axis is None:
        scale = float(scale)
    return q, scale
