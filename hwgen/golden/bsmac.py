"""Golden model of bit-serial (bitlayer) dot products, as in PrecisionBatching (Lam et al.).

A ``weight_bits``-bit weight ``w`` is the sum of its bit-planes ("bitlayers"), most significant
first: plane ``x`` (``x = 0`` is the MSB) is the 0/1 array of bit ``weight_bits - 1 - x`` of
every weight, with scale ``2**(weight_bits - 1 - x)``; for signed (two's complement) weights the
top plane's scale is negative. A dot product is then::

    y = sum_x  scale_x * sum_j plane_x[j] * a[j]

and accumulating only the first ``bits`` planes (MSB first) gives the dot product with each
weight truncated to its top ``bits`` bits, **keeping its scale**: the low
``weight_bits - bits`` bits read as zero (``trunc(w) = (w >> s) << s`` with
``s = weight_bits - bits``, an arithmetic shift, i.e. rounding toward minus infinity).

Everything here is numpy int64 and vectorized: ``weights`` and ``acts`` have shape
``(..., lanes)`` and give one dot product per leading index; ``bits`` is a scalar or an array
broadcastable to the leading shape. :class:`hwgen.units.bsmac.BitSerialMac` computes
:func:`bitserial_dot` one plane per cycle.

This module also holds :func:`wrap` and :func:`accumulate_groups`, the accumulator semantics
shared by every run-time-precision MAC golden model (two's-complement wrap-around at
``acc_bits``; a group of operations closed by ``last``).
"""

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_WEIGHT_BITS", "MAX_ACT_BITS", "MAX_ACC_BITS", "bit_planes", "plane_scales",
           "truncate", "bitserial_dot", "wrap", "accumulate_groups", "clamp_bits",
           "signed_width"]

#: Limits of the golden model (int64 arithmetic).
MAX_WEIGHT_BITS = 16
MAX_ACT_BITS = 24
MAX_ACC_BITS = 62


def signed_width(lo: int, hi: int) -> int:
    """Bits of the smallest two's-complement integer holding every value in ``[lo, hi]``."""
    n = 1
    while not -(1 << (n - 1)) <= lo <= hi <= (1 << (n - 1)) - 1:
        n += 1
    return n


def _check_bits(weight_bits: int | np.integer, signed: bool) -> None:
    if not isinstance(weight_bits, (int, np.integer)) or isinstance(weight_bits, bool):
        raise TypeError(f"Weight width must be an integer, not {weight_bits!r}")
    lo = 2 if signed else 1
    if not lo <= weight_bits <= MAX_WEIGHT_BITS:
        raise ValueError(f"Weight width must be between {lo} and {MAX_WEIGHT_BITS}"
                         f"{' for signed weights' if signed else ''}, not {weight_bits!r}")


def _as_weights(weights: npt.ArrayLike, weight_bits: int, signed: bool) -> np.ndarray:
    w = np.asarray(weights, dtype=np.int64)
    lo, hi = (-(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1) if signed \
        else (0, (1 << weight_bits) - 1)
    if w.size and (w.min() < lo or w.max() > hi):
        raise ValueError(f"Weights must lie in [{lo}, {hi}] for {weight_bits}-bit "
                         f"{'signed' if signed else 'unsigned'} weights")
    return w


def bit_planes(weights: npt.ArrayLike, weight_bits: int, signed: bool = True) -> np.ndarray:
    """The bitlayers of ``weights``, MSB first: a 0/1 ``uint8`` array of shape
    ``(weight_bits,) + weights.shape``; plane 0 holds the most significant (sign) bit."""
    _check_bits(weight_bits, signed)
    w = _as_weights(weights, weight_bits, signed)
    shifts = np.arange(weight_bits - 1, -1, -1, dtype=np.int64).reshape(
        (weight_bits,) + (1,) * w.ndim)
    return ((w[None] >> shifts) & 1).astype(np.uint8)


def plane_scales(weight_bits: int, signed: bool = True) -> np.ndarray:
    """Scale of each plane of :func:`bit_planes` (int64, MSB first): ``2**(weight_bits-1-x)``,
    the first one negated for signed weights."""
    _check_bits(weight_bits, signed)
    s = np.int64(1) << np.arange(weight_bits - 1, -1, -1, dtype=np.int64)
    if signed:
        s[0] = -s[0]
    return s


def clamp_bits(bits: npt.ArrayLike, weight_bits: int) -> np.ndarray:
    """The number of planes actually accumulated: ``bits`` clamped to ``1..weight_bits``
    (the hardware treats 0 as 1 and anything above ``weight_bits`` as ``weight_bits``)."""
    return np.clip(np.asarray(bits, dtype=np.int64), 1, weight_bits)


def truncate(weights: npt.ArrayLike, weight_bits: int, bits: npt.ArrayLike,
             signed: bool = True) -> np.ndarray:
    """``weights`` with all but their top ``bits`` bits cleared, scale kept
    (``(w >> s) << s``, ``s = weight_bits - bits``); ``bits`` is clamped as in
    :func:`clamp_bits` and broadcasts against ``weights``."""
    _check_bits(weight_bits, signed)
    w = _as_weights(weights, weight_bits, signed)
    s = weight_bits - clamp_bits(bits, weight_bits)
    return (w >> s) << s


def bitserial_dot(weights: npt.ArrayLike, acts: npt.ArrayLike, weight_bits: int,
                  bits: npt.ArrayLike | None = None, *, signed: bool = True,
                  acc_bits: int | None = None) -> np.ndarray:
    """Dot products computed bitlayer by bitlayer, MSB first, stopping after ``bits`` planes.

    Parameters
    ----------
    weights : array_like of int, shape ``(..., lanes)``
        Integer weights (``weight_bits`` bits, two's complement when ``signed``).
    acts : array_like of int, shape ``(..., lanes)``
        Integer activations (any width the int64 sums hold).
    weight_bits : int
        Weight width.
    bits : int or array_like of int, optional
        Planes to accumulate (default ``weight_bits``), per dot product: broadcastable to
        ``weights.shape[:-1]``; clamped to ``1..weight_bits``.
    signed : bool
        Two's-complement weights (top plane negative) or unsigned.
    acc_bits : int, optional
        When given, the result wraps to this two's-complement width (unsigned when not
        ``signed``), as the hardware accumulator does.

    Returns
    -------
    numpy.ndarray of int64, shape ``weights.shape[:-1]``
        ``sum_x<bits scale_x * (plane_x @ acts)``, which equals
        ``truncate(weights, weight_bits, bits) @ acts``.
    """
    planes = bit_planes(weights, weight_bits, signed).astype(np.int64)
    a = np.asarray(acts, dtype=np.int64)
    # popcount-style plane products: sum_j plane[j] * a[j], one per plane and dot product
    per_plane = np.einsum("p...j,...j->p...", planes, np.broadcast_to(a, planes.shape[1:]))
    scales = plane_scales(weight_bits, signed).reshape((-1,) + (1,) * (per_plane.ndim - 1))
    nb = clamp_bits(weight_bits if bits is None else bits, weight_bits)
    nb = np.broadcast_to(nb, per_plane.shape[1:])
    used = np.arange(weight_bits).reshape(scales.shape) < nb[None]
    y = np.sum(np.where(used, scales * per_plane, 0), axis=0)
    return y if acc_bits is None else wrap(y, acc_bits, signed)


def wrap(values: npt.ArrayLike, acc_bits: int, signed: bool = True) -> np.ndarray:
    """``values`` reduced to an ``acc_bits``-bit two's-complement (or unsigned) integer."""
    if not 1 <= acc_bits <= MAX_ACC_BITS:
        raise ValueError(f"Accumulator width must be between 1 and {MAX_ACC_BITS}, "
                         f"not {acc_bits!r}")
    v = np.asarray(values, dtype=np.int64)
    m = np.int64(1) << acc_bits
    if signed:
        h = np.int64(1) << (acc_bits - 1)
        return ((v + h) & (m - 1)) - h
    return v & (m - 1)


def accumulate_groups(contrib: npt.ArrayLike, last: npt.ArrayLike, acc_bits: int | None = None,
                      signed: bool = True) -> np.ndarray:
    """Accumulator semantics of every run-time-precision MAC: sum per-operation contributions
    over a group of operations closed by ``last``.

    ``contrib`` and ``last`` are 1-D (one entry per operation, in order). The accumulator
    starts at zero, adds each contribution, and on an operation with ``last`` set it emits the
    sum and clears. Returns one int64 per ``last`` (trailing operations without a closing
    ``last`` are still pending and give nothing); wrapped to ``acc_bits`` when given.
    """
    c = np.asarray(contrib, dtype=np.int64).ravel()
    lst = np.asarray(last, dtype=bool).ravel()
    if c.shape != lst.shape:
        raise ValueError(f"contrib and last must have the same length, not {c.size} and "
                         f"{lst.size}")
    ends = np.flatnonzero(lst)
    if ends.size == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.concatenate(([0], ends[:-1] + 1))
    out = np.add.reduceat(c[: ends[-1] + 1], starts)  # groups are never empty
    return out if acc_bits is None else wrap(out, acc_bits, signed)
