"""Golden model of a fixed-point layer's epilogue: the step between two ``fxN`` layers of
the explorer's integer emulation (:func:`hwgen.explore.emulate.fixed_forward`), which a
network chained on chip must reproduce bit for bit after the array.

Every stored tensor is a pair (integers, fractional bits). A dense layer's exact integer
dot products ``acc`` (at ``f_acc`` = input + weight fractional bits) get the bias already
quantized at ``f_acc`` added, then are requantized to the stored tensor's scale by a
power-of-two ``shift = f_acc - f_out``::

    x = acc + bias                                     exact
    q = saturate(round_half_even(x / 2**shift), bits)  shift > 0
    q = saturate(x * 2**-shift, bits)                  shift <= 0 (saturated before the
                                                        shift, so int64 never overflows)
    q = max(q, 0)                                      when a ReLU follows

Unlike :func:`hwgen.golden.requant.requantize` (gemmlowp: a Q31 multiplier, rounding half
away from zero) the division rounds ties to even, so a ``Requantize`` unit with
``M0 = 2**30`` does *not* give these results on ties.

numpy only; every function is vectorized and broadcasts its arguments; int64 and
Python-integer (object) arrays both work.
"""

import numpy as np
import numpy.typing as npt

__all__ = ["shift_round", "saturate", "requantize_pow2", "layer_epilogue"]


def shift_round(acc: np.ndarray, shift: int) -> np.ndarray:
    """``acc / 2**shift`` rounded to nearest, ties to even (``shift`` may be <= 0: an exact
    left shift). Works on int64 and Python-integer (object) arrays alike."""
    if shift <= 0:
        return acc * (1 << -shift)
    q = acc >> shift                                     # floor
    rem = acc - (q << shift)
    half = 1 << (shift - 1)
    up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    return q + up.astype(np.int64)


def saturate(q: np.ndarray, bits: int) -> np.ndarray:
    """``q`` clamped to the signed ``bits``-bit range, as int64."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if q.dtype == object:
        q = np.minimum(np.maximum(q, lo), hi)
    return np.clip(q, lo, hi).astype(np.int64)


def requantize_pow2(acc: np.ndarray, shift: int, bits: int) -> np.ndarray:
    """``acc / 2**shift`` rounded to nearest (ties even) and saturated to ``bits`` bits. A
    left shift (``shift < 0``) saturates what would leave the range before shifting, so it
    never overflows int64."""
    if shift < 0:
        k = -shift
        lim = 1 << (bits - 1)
        over = (acc >= ((lim - 1) >> k) + 1) | (acc <= -((lim >> k) + 1))
        keep = np.where(over, 0, acc)
        q = keep * (1 << k) if k < 62 else keep * 0
        if q.dtype == object:
            q = q.astype(np.int64)
        return np.where(over, np.where(acc > 0, lim - 1, -lim), q).astype(np.int64)
    return saturate(shift_round(acc, shift), bits)


def layer_epilogue(acc: npt.ArrayLike, bias: npt.ArrayLike, shift: int, bits: int, *,
                   relu: bool = False) -> np.ndarray:
    """The next layer's input codes (int64) from a layer's accumulators ``acc`` (..., O)
    and its bias ``bias`` (O,) at the accumulators' scale: ``acc + bias`` requantized by
    :func:`requantize_pow2` to ``bits`` bits, then ``max(., 0)`` when ``relu``.

    Raises
    ------
    ValueError
        ``bits`` is not an integer >= 2, or ``shift`` is not an integer.
    """
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or bits < 2:
        raise ValueError(f"Epilogue width must be an integer >= 2, not {bits!r}")
    if not isinstance(shift, (int, np.integer)) or isinstance(shift, bool):
        raise ValueError(f"Epilogue shift must be an integer, not {shift!r}")
    q = requantize_pow2(np.asarray(acc) + np.asarray(bias), int(shift), int(bits))
    return np.maximum(q, 0) if relu else q
