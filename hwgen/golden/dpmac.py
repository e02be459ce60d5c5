"""Golden model of the dual-precision MAC (Park et al.): one unit, two precision modes.

``high_bits = H`` is even and ``low_bits = L = H // 2``. Per operation the unit adds one
contribution to its accumulator:

high mode (``low = 0``)
    ``w0 * a``: one signed H×H product (``w1`` is ignored).
low mode, independent operands (``low = 1, nested = 0``)
    ``w0`` and ``a`` each hold two signed L-bit values packed side by side, element 0 in the
    low half: the contribution is ``w0.lo * a.lo + w0.hi * a.hi`` (two L×L products).
low mode, nested (``low = 1, nested = 1``)
    ``w0`` and ``w1`` are two full H-bit weights of the high-precision model; the unit uses
    their MSB halves (the nested low-precision model: ``w >> L``, arithmetic) and **keeps their
    scale**, so the result is on the same scale as high mode:
    ``((w0 >> L) * a.lo + (w1 >> L) * a.hi) << L``. ``a`` holds two signed L-bit activations
    packed as in the independent case.

All operands are given as the unsigned bit patterns that sit on the ports (H bits each) or
as signed integers in range; both are accepted. Vectorized over operations (numpy int64).
Groups of operations closed by ``last`` are summed by
:func:`hwgen.golden.bsmac.accumulate_groups` (see :func:`dualprec_mac`).
"""

from typing import cast

import numpy as np
import numpy.typing as npt

from .bsmac import accumulate_groups

__all__ = ["MODE_HIGH", "MODE_LOW", "MODE_LOW_NESTED", "split_halves", "pack_halves",
           "dualprec_contrib", "dualprec_mac"]

#: ``(low, nested)`` pairs of the three modes, for readable tests and host code.
MODE_HIGH = (0, 0)
MODE_LOW = (1, 0)
MODE_LOW_NESTED = (1, 1)


def _check(high_bits: int | np.integer) -> None:
    if not isinstance(high_bits, (int, np.integer)) or isinstance(high_bits, bool):
        raise TypeError(f"High precision width must be an integer, not {high_bits!r}")
    if high_bits < 4 or high_bits % 2 or high_bits > 24:
        raise ValueError(f"High precision width must be an even integer between 4 and 24, "
                         f"not {high_bits!r}")


def _sx(v: npt.ArrayLike, bits: int) -> np.ndarray:
    """Read the low ``bits`` bits of ``v`` as two's complement (int64 arrays)."""
    v = cast(np.ndarray, np.asarray(v, dtype=np.int64) & ((np.int64(1) << bits) - 1))
    return v - ((v >> (bits - 1)) << bits)


def split_halves(word: npt.ArrayLike, high_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``: the two signed ``high_bits // 2``-bit values packed in ``word``."""
    _check(high_bits)
    low = high_bits // 2
    w = np.asarray(word, dtype=np.int64)
    return _sx(w, low), _sx(w >> low, low)


def pack_halves(lo: npt.ArrayLike, hi: npt.ArrayLike, high_bits: int) -> np.ndarray:
    """The ``high_bits``-bit pattern (unsigned int64) holding signed halves ``lo``, ``hi``."""
    _check(high_bits)
    low = high_bits // 2
    m = (np.int64(1) << low) - 1
    return (np.asarray(lo, dtype=np.int64) & m) | ((np.asarray(hi, dtype=np.int64) & m) << low)


def dualprec_contrib(high_bits: int, low: npt.ArrayLike, nested: npt.ArrayLike,
                     w0: npt.ArrayLike, w1: npt.ArrayLike, a: npt.ArrayLike) -> np.ndarray:
    """Per-operation contribution to the accumulator (int64 array), as described above.

    ``low`` and ``nested`` are 0/1 per operation (arrays or scalars, broadcast together with
    the operands).
    """
    _check(high_bits)
    L = high_bits // 2
    low = np.asarray(low, dtype=bool)
    nested = np.asarray(nested, dtype=bool)
    w0s, w1s, asg = _sx(w0, high_bits), _sx(w1, high_bits), _sx(a, high_bits)
    a_lo, a_hi = split_halves(a, high_bits)
    w_lo, w_hi = split_halves(w0, high_bits)
    high = w0s * asg
    indep = w_lo * a_lo + w_hi * a_hi
    nest = ((w0s >> L) * a_lo + (w1s >> L) * a_hi) << L
    return np.where(low, np.where(nested, nest, indep), high)


def dualprec_mac(high_bits: int, low: npt.ArrayLike, nested: npt.ArrayLike, w0: npt.ArrayLike,
                 w1: npt.ArrayLike, a: npt.ArrayLike, last: npt.ArrayLike,
                 acc_bits: int | None = None) -> np.ndarray:
    """Accumulated results, one per operation with ``last`` set (see
    :func:`hwgen.golden.bsmac.accumulate_groups`), wrapped to ``acc_bits`` if given."""
    c = dualprec_contrib(high_bits, low, nested, w0, w1, a)
    c = np.broadcast_to(c, np.shape(last)) if np.ndim(c) < np.ndim(last) else c
    return accumulate_groups(c, last, acc_bits, signed=True)
