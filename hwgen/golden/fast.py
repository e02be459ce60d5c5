"""Fast paths of the golden model for formats of up to 16 bits, round-to-nearest-even.

The general model (:func:`hwgen.golden.rounding.round_raw`) rounds any exact value into any
format; it takes about twenty passes of integer numpy per value. For a format of at most 16
bits (with subnormals, at most 10 exponent bits) every finite value and every midpoint
between two neighbours is a float64, so round-to-nearest-even of a float64 ``x`` with
``|x| <= max_finite`` is a binary search among the format's values:

* the encoding is that of the nearest positive value (``searchsorted`` on the midpoints),
  the even encoding on a tie, with the sign of ``x`` (``-0`` for negative values that round
  to zero, as IEEE and ``round_raw`` give);
* ``inexact`` when that value is not ``|x|``; ``underflow`` when inexact and tiny after
  rounding (``round_raw``'s rule): ``0 < |x| < T`` with ``T = min_normal - 2**(emin-m-2)``,
  the values that stay below ``min_normal`` when rounded to ``m + 1`` bits with an unbounded
  exponent (at ``T`` itself the tie goes up, to ``min_normal``);
* past ``max_finite``, a value overflows when its code (the same arithmetic, with an
  unbounded exponent field) is above the largest value's: then the format's overflow result
  (infinity, NaN or the largest value, as ``round_raw`` gives it in this mode) with
  ``overflow | inexact``; NaN and infinities go through the general model, element by
  element.

:func:`binary` uses it for ``mul``/``add``/``sub`` of such formats: when both operands are
finite and the exact result is a float64 (the significands' product fits 53 bits, or the two
formats' values are all multiples of one power of two below ``2**53`` of it), it is that
float64, rounded by :func:`encode_rne`; operands that are NaN or infinite go through the
general model. The tests compare both paths on every pair of small formats and on millions
of random and edge operands of fp16 and bf16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import numpy.typing as npt

from ..formats import FLAG_INEXACT, FLAG_OVERFLOW, FLAG_UNDERFLOW, FloatFormat

__all__ = ["eligible", "encode_rne", "binary", "values", "encodings", "FAST_MAX_BITS"]

#: The golden model's decode (encodings → float64) and its general RNE rounding of float64
#: values (``(bits, flags)``): passed in by :mod:`.rounding` and :mod:`.ops`, which this
#: module does not import.
Decode = Callable[[FloatFormat, np.ndarray], np.ndarray]
General = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

#: Widest format with a fast path (every value and midpoint a float64, tables of 2**16).
FAST_MAX_BITS = 16

_U64 = np.uint64
_TABLES: dict = {}


def eligible(fmt: FloatFormat) -> bool:
    """Whether ``fmt`` has the fast path: at most 16 bits, subnormals, at most 10 exponent
    bits (its values and midpoints are float64s)."""
    return fmt.width <= FAST_MAX_BITS and bool(fmt.subnormals) and fmt.exp_bits <= 10


class _Table:
    """Every value of a format: ``values[code]`` (float64, NaN for NaN codes), and the
    positive finite values sorted with their codes and the midpoints between neighbours."""

    def __init__(self, fmt: FloatFormat, decode: Decode) -> None:
        codes = np.arange(1 << fmt.width, dtype=_U64)
        self.values = np.asarray(decode(fmt, codes), dtype=np.float64)
        pos = codes[:fmt.sign_mask]
        vals = self.values[:fmt.sign_mask]
        keep = np.isfinite(vals)
        order = np.argsort(vals[keep], kind="stable")
        self.pos_values = vals[keep][order]
        self.pos_codes = pos[keep][order]
        if np.any(np.diff(self.pos_values) <= 0):
            raise AssertionError(f"{fmt.name}: positive values are not distinct")
        self.mids = (self.pos_values[:-1] + self.pos_values[1:]) / 2
        self.max_finite = float(self.pos_values[-1])
        self.sign = _U64(fmt.sign_mask)
        m, emin = fmt.man_bits, fmt.emin
        self.m, self.emin = m, emin
        self.tiny_below = float(fmt.min_normal) - 2.0 ** (emin - m - 2)
        # The arithmetic encoding (``_arith``) holds when positive codes are the standard
        # layout (exponent field, then mantissa): checked on every value.
        bits, _ = self._arith(self.pos_values)
        self.layout = bool(np.array_equal(bits, self.pos_codes))
        # rounding past the largest value (nearest even): what round_raw gives
        self.max_code = int(fmt.max_bits)
        self.overflow_code = (int(cast(int, fmt.inf_bits)) if fmt.overflow == "inf" else
                              int(cast(int, fmt.nan_bits)) if fmt.overflow == "nan" else
                              int(fmt.max_bits))
        self.overflow_signed = fmt.overflow != "nan"

    def _arith(self, ax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Codes and inexactness of ``ax`` (finite, ``0 <= ax <= max_finite``) rounded to
        nearest even: the quantum is ``2**(max(E, emin) - m)`` for the leading one's exponent
        ``E``; ``np.rint`` rounds half to even; the code is ``(max(E, emin) - emin) << m``
        plus the significand (a carry out of the significand moves into the exponent field,
        and a subnormal's field is 0)."""
        _, e = np.frexp(ax)
        eq = np.maximum(e - 1, self.emin)         # frexp(0) gives 0: zero is subnormal-like
        eq = np.where(ax == 0, self.emin, eq)
        scaled = np.ldexp(ax, self.m - eq)
        sig = np.rint(scaled)
        code = ((eq - self.emin).astype(np.int64) << self.m) + sig.astype(np.int64)
        # inexact when the rounded value is not ``ax`` (``scaled`` itself may have lost bits
        # of an ``ax`` far below the quantum: float64 underflow)
        # (a rounding up past float64's range is inf there: inexact, as it is)
        with np.errstate(over="ignore"):
            return code.astype(_U64), np.ldexp(sig, eq - self.m) != ax


def _table(fmt: FloatFormat, decode: Decode) -> _Table:
    t = _TABLES.get(fmt)
    if t is None:
        t = _TABLES[fmt] = _Table(fmt, decode)
    return t


def values(fmt: FloatFormat, codes: npt.ArrayLike, decode: Decode) -> np.ndarray:
    """The float64 value of each encoding (NaN for NaN encodings); ``decode`` is the golden
    model's (:func:`hwgen.golden.rounding.decode`), used once per format for the table."""
    return _table(fmt, decode).values[np.asarray(codes).astype(np.int64)]


def encode_rne(fmt: FloatFormat, x: npt.ArrayLike, *, decode: Decode,
               general: General) -> tuple[np.ndarray, np.ndarray]:
    """``round_raw(fmt, raw_from_float64(x), "rne")`` for an :func:`eligible` format:
    ``(bits, flags)``, the same bits and flags. ``general(values)`` is that general path,
    taken by NaN and infinities; ``decode`` as for :func:`values`."""
    t = _table(fmt, decode)
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    overflow = None
    if t.layout:
        # every finite value: past the largest one, the code says whether it overflows
        fast = np.isfinite(ax)
        with np.errstate(invalid="ignore"):
            code, inexact = t._arith(np.where(fast, ax, 0.0))
        overflow = code > _U64(t.max_code)
        if overflow.any():
            code = np.where(overflow, _U64(t.overflow_code), code)
    else:
        fast = ax <= t.max_finite                   # NaN compares False: general path
        idx = np.searchsorted(t.mids, ax, side="left")
        idx = np.minimum(idx, len(t.pos_values) - 1)
        # on a midpoint, searchsorted "left" gives the lower neighbour: take the even code
        tie = (idx < len(t.mids)) & (ax == t.mids[np.minimum(idx, len(t.mids) - 1)])
        up = tie & ((t.pos_codes[idx] & _U64(1)) != 0)
        idx = idx + up
        code = t.pos_codes[idx]
        inexact = t.pos_values[idx] != ax
    neg = np.signbit(x)
    if overflow is not None and not t.overflow_signed:
        neg = neg & ~overflow                       # the NaN of an overflow has no sign
    bits = np.where(neg, code | t.sign, code)
    flags = np.where(inexact, FLAG_INEXACT, 0).astype(np.uint8)
    flags |= np.where(inexact & (ax < t.tiny_below), FLAG_UNDERFLOW, 0).astype(np.uint8)
    if overflow is not None:
        flags |= np.where(overflow, FLAG_OVERFLOW | FLAG_INEXACT, 0).astype(np.uint8)
    if not fast.all():
        slow = ~fast
        b, f = general(x[slow])
        bits, flags = bits.copy(), flags.copy()
        bits[slow], flags[slow] = b, f
    return bits.astype(_U64), flags.astype(np.uint8)


def encodings(x: np.ndarray, fmt: FloatFormat) -> bool:
    """Whether ``x`` is an integer array of encodings of ``fmt`` (every value in
    ``0 .. 2**width - 1``): what a table or value lookup may index with."""
    return x.dtype.kind in "ui" and not (x.size and (x.min() < 0 or x.max() >> fmt.width))


def _exact_in_float64(op: str, fa: FloatFormat, fb: FloatFormat) -> bool:
    """Whether ``op`` of any two finite values of ``fa`` and ``fb`` is a float64."""
    qa, qb = fa.emin - fa.man_bits, fb.emin - fb.man_bits     # the smallest quanta
    if op == "mul":
        # significands of at most 53 bits together, no float64 overflow or subnormal
        return ((fa.man_bits + 1) + (fb.man_bits + 1) <= 53
                and (fa.emax + 1) + (fb.emax + 1) <= 1023 and qa + qb >= -1022)
    # a sum: a multiple of the smaller quantum below 2**top
    quantum, top = min(qa, qb), max(fa.emax, fb.emax) + 2
    return top - quantum <= 53 and quantum >= -1074 and top <= 1023


def binary(op: str, fa: FloatFormat, fb: FloatFormat, fo: FloatFormat, a: npt.ArrayLike,
           b: npt.ArrayLike,
           compute: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], *,
           decode: Decode, general: General) -> tuple[np.ndarray, np.ndarray] | None:
    """``mul``, ``add`` or ``sub`` (``op``) in round-to-nearest-even through float64, or
    ``None`` when the formats have no fast path; ``compute(a, b)`` (the general model)
    handles the operands that are NaN or infinite; ``decode`` and ``general`` (the general
    rounding into ``fo``) as for :func:`encode_rne`."""
    if not (eligible(fa) and eligible(fb) and eligible(fo) and _exact_in_float64(op, fa, fb)):
        return None
    a = np.asarray(a)
    b = np.asarray(b)
    if not (encodings(a, fa) and encodings(b, fb)):
        return None
    a, b = np.broadcast_arrays(a, b)
    va, vb = values(fa, a, decode), values(fb, b, decode)
    with np.errstate(invalid="ignore", over="ignore"):
        exact = va * vb if op == "mul" else (va + vb if op == "add" else va - vb)
    special = ~(np.isfinite(va) & np.isfinite(vb))
    any_special = special.any()
    if any_special:                 # their results come from the general model below
        exact = np.where(special, 0.0, exact)
    bits, flags = encode_rne(fo, exact, decode=decode, general=general)
    if any_special:
        sb, sf = compute(a[special], b[special])
        bits, flags = bits.copy(), flags.copy()
        bits[special], flags[special] = sb, sf
    return cast(np.ndarray, bits), cast(np.ndarray, flags)
