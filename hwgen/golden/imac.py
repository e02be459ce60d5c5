"""Golden model of the integer MAC unit (:class:`hwgen.units.imac.IntMac`).

Stream semantics, exactly as the hardware behaves:

* the unit consumes items ``(a, b, last)``; each item adds the exact product ``a * b`` to an
  accumulator;
* the accumulator holds ``acc_bits`` bits and **wraps modulo 2**\\ :sup:`acc_bits` (two's
  complement when ``signed``, plain binary otherwise): no saturation, the same as C's unsigned
  arithmetic or an int32 accumulator in TFLite/gemmlowp kernels on real machines. The sum is
  exact whenever it fits, and the wrapped value is still correct modulo 2**acc_bits;
* an item with ``last`` set closes a dot product: the result (including that item's product)
  is emitted and the accumulator **restarts from zero** for the next item. Reset also starts
  from zero. There is no other clear;
* items after the final ``last`` form an unfinished dot product and produce no result.

numpy only.
"""

import numpy as np
import numpy.typing as npt

__all__ = ["int_mac", "wrap_int", "check_int_widths"]

_MAX_OPERAND_BITS = 32
_MAX_ACC_BITS = 64


def _check_width(what: str, bits: int | np.integer, signed: bool, lo: int = 1,
                 hi: int = 64) -> int:
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool):
        raise TypeError(f"{what} width must be an integer, not {bits!r}")
    lo = max(lo, 2 if signed else 1)
    if not lo <= bits <= hi:
        raise ValueError(f"{what} width must be between {lo} and {hi}"
                         f"{' when signed' if signed and lo == 2 else ''}, not {bits!r}")
    return int(bits)


def check_int_widths(a_bits: int | np.integer, b_bits: int | np.integer,
                     acc_bits: int | np.integer, signed: bool) -> tuple[int, int, int]:
    """Validate the widths of an integer MAC; return them as ints (shared with the unit)."""
    a_bits = _check_width("Operand A", a_bits, signed, hi=_MAX_OPERAND_BITS)
    b_bits = _check_width("Operand B", b_bits, signed, hi=_MAX_OPERAND_BITS)
    acc_bits = _check_width("Accumulator", acc_bits, signed, hi=_MAX_ACC_BITS)
    return a_bits, b_bits, acc_bits


def _range(bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def wrap_int(x: npt.ArrayLike, bits: int, signed: bool) -> np.ndarray:
    """Reduce integers ``x`` modulo ``2**bits`` into the signed or unsigned range.

    ``x`` is anything numpy turns into integers (int64 or uint64 arrays; values are taken
    modulo 2**64 first). Returns int64, or uint64 for an unsigned 64-bit result.
    """
    u = np.asarray(x).astype(np.uint64)  # two's complement pattern, modulo 2**64
    if bits < 64:
        u = u & np.uint64((1 << bits) - 1)
    if not signed:
        return u if bits == 64 else u.astype(np.int64)
    if bits < 64:
        # sign-extend: set every bit above the field when its top bit is set
        high = ~np.uint64((1 << bits) - 1)
        u = np.where(u & np.uint64(1 << (bits - 1)), u | high, u)
    return u.astype(np.int64)


def _as_ints(name: str, x: npt.ArrayLike, bits: int, signed: bool) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub" and arr.size:
        raise TypeError(f"Operand {name} must hold integers, not {arr.dtype}")
    arr = arr.astype(np.int64)
    lo, hi = _range(bits, signed)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = arr[(arr < lo) | (arr > hi)][0]
        raise ValueError(f"Operand {name} must be between {lo} and {hi} for "
                         f"{bits}-bit {'signed' if signed else 'unsigned'} inputs, not {bad}")
    return arr


def int_mac(a: npt.ArrayLike, b: npt.ArrayLike, last: npt.ArrayLike,
            a_bits: int | np.integer = 8, b_bits: int | np.integer = 8,
            acc_bits: int | np.integer = 32, signed: bool = True) -> np.ndarray:
    """Results of the integer MAC stream: one per item with ``last`` set.

    Parameters
    ----------
    a, b : array_like of int
        Operands, one per item, in the ``a_bits``/``b_bits`` range (signed or unsigned).
    last : array_like of bool
        End-of-dot-product flags, one per item.
    a_bits, b_bits : int
        Operand widths (1..32; at least 2 when signed).
    acc_bits : int
        Accumulator width (1..64); sums wrap modulo ``2**acc_bits``.
    signed : bool
        Two's-complement operands and accumulator (``True``) or unsigned ones.

    Returns
    -------
    numpy.ndarray
        One result per ``last``, in order: int64 (uint64 for an unsigned 64-bit accumulator).

    Raises
    ------
    TypeError, ValueError
        A width is not an integer or out of range; an operand is out of range; the three
        inputs differ in length.
    """
    a_bits, b_bits, acc_bits = check_int_widths(a_bits, b_bits, acc_bits, signed)
    a = _as_ints("A", a, a_bits, signed).ravel()
    b = _as_ints("B", b, b_bits, signed).ravel()
    last = np.asarray(last).astype(bool).ravel()
    if not len(a) == len(b) == len(last):
        raise ValueError(f"Operands and last flags must have the same length, not "
                         f"{len(a)}, {len(b)} and {len(last)}")
    # Products and running sums modulo 2**64 (uint64 wraps silently); reducing modulo
    # 2**acc_bits afterwards gives the same result because acc_bits <= 64.
    with np.errstate(over="ignore"):
        prod = a.astype(np.uint64) * b.astype(np.uint64)
        run = np.cumsum(prod, dtype=np.uint64)
        ends = np.flatnonzero(last)
        at_end = run[ends]
        before = np.concatenate([np.zeros(1, np.uint64), at_end[:-1]]) if len(ends) else at_end
        sums = at_end - before
    return wrap_int(sums, acc_bits, signed)
