"""The one rounder of the golden model, and decode/encode built on it.

Every operation (conversion, mul, add, fma, the MACs) produces a :class:`Raw` result: an exact
value ``(-1)**sign * sig * 2**exp`` plus a ``sticky`` bit meaning "and something more, less than
one unit of ``sig``'s last place", or a special (NaN, Inf). :func:`round_raw` is the only code
that turns a raw value into a format's bits and exception flags. The hardware has the same
shape: each operator produces a raw result and one shared rounder finishes it.

Everything is vectorized numpy on 64-bit integers; no Amaranth, no cocotb.

Semantics (the hardware follows these to the bit)
-------------------------------------------------
* Rounding modes ``rne rtz rdn rup rna`` (a string), or an integer array of RISC-V ``frm``
  codes (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna, anything else rne) for per-element modes.
* Overflow: a result whose rounded magnitude (exponent unbounded) exceeds ``max_finite`` sets
  overflow and inexact. Policy ``inf``/``nan``: Inf (resp. NaN) in rne/rna, and in rup/rdn
  when rounding away from zero; ``max_finite`` in rtz and when rup/rdn round toward zero.
  Policy ``saturate``: always ``±max_finite``.
* Underflow: tininess is detected after rounding (as RISC-V and x86): the result is tiny when
  rounding to ``precision`` bits with an unbounded exponent gives a magnitude below
  ``min_normal``. The underflow flag is raised when the result is tiny and inexact. With
  ``subnormals=False`` a tiny result flushes to a zero of its sign (flags underflow, inexact),
  and subnormal encodings read as zero.
* NaN results are the canonical quiet NaN (:attr:`FloatFormat.nan_bits`, positive). A format
  without NaN (``specials="none"``) encodes a NaN result as ``-0`` (as ml_dtypes does) and
  raises invalid. An infinite result in a format without Inf becomes NaN (``fn``) or
  ``±max_finite`` (``none``), raising invalid (``fn``) or overflow and inexact (``none``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, cast, overload

import numpy as np
import numpy.typing as npt

from ..formats import (FloatFormat, FRM, ROUNDING_MODES, parse_format, FLAG_INEXACT,
                       FLAG_UNDERFLOW, FLAG_OVERFLOW, FLAG_INVALID)
from .fast import eligible, encode_rne

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = ["Raw", "round_raw", "unpack", "decode", "encode", "bit_length", "rounding_codes",
           "is_nan", "is_inf", "to_fraction"]

_U64 = np.uint64
_ONE = np.uint64(1)


class Raw:
    """An unrounded result: arrays of equal shape.

    Attributes
    ----------
    sign : bool array
    exp : int64 array
        Exponent of ``sig``'s least significant bit.
    sig : uint64 array
        Exact integer significand (any width up to 63 bits); 0 means an exact zero.
    sticky : bool array
        The exact value is strictly above ``sig * 2**exp`` by less than ``2**exp``. When set,
        ``sig`` must carry at least ``precision + 2`` bits (so the rounder sees guard bits).
    nan, inf : bool array
        Special results; they take precedence over ``sig``.
    invalid : bool array
        The operation was invalid (raises the invalid flag; the result should be NaN).
    """

    __slots__ = ("sign", "exp", "sig", "sticky", "nan", "inf", "invalid")

    def __init__(self, sign: npt.ArrayLike, exp: npt.ArrayLike, sig: npt.ArrayLike,
                 sticky: npt.ArrayLike | None = None, nan: npt.ArrayLike | None = None,
                 inf: npt.ArrayLike | None = None, invalid: npt.ArrayLike | None = None) -> None:
        sig = np.asarray(sig, dtype=_U64)
        shape = sig.shape
        z = np.zeros(shape, dtype=bool)
        self.sign = np.broadcast_to(np.asarray(sign, dtype=bool), shape)
        self.exp = np.broadcast_to(np.asarray(exp, dtype=np.int64), shape)
        self.sig = sig
        self.sticky = z if sticky is None else np.broadcast_to(np.asarray(sticky, bool), shape)
        self.nan = z if nan is None else np.broadcast_to(np.asarray(nan, bool), shape)
        self.inf = z if inf is None else np.broadcast_to(np.asarray(inf, bool), shape)
        self.invalid = z if invalid is None else np.broadcast_to(np.asarray(invalid, bool), shape)


def bit_length(x: npt.ArrayLike) -> np.ndarray:
    """Vectorized ``int.bit_length`` for a uint64 array."""
    y = np.asarray(x, dtype=_U64).copy()
    n = np.zeros(y.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        m = (y >> _U64(s)) != 0
        n += s * m
        y = np.where(m, y >> _U64(s), y)
    return n + (y != 0)


def _rshift(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``x >> s`` for uint64 ``x`` and int64 ``s >= 0``, giving 0 where ``s >= 64``."""
    sc = np.clip(s, 0, 63).astype(_U64)
    return np.where(s >= 64, _U64(0), x >> sc)


def _low_mask(s: np.ndarray) -> np.ndarray:
    """``(1 << s) - 1`` as uint64, for int64 ``0 <= s``, saturating at 64 bits."""
    sc = np.clip(s, 0, 63).astype(_U64)
    return np.where(s >= 64, ~_U64(0), (_ONE << sc) - _ONE)


def rounding_codes(rounding: str | npt.ArrayLike, shape: int | tuple[int, ...]) -> np.ndarray:
    """Normalize a rounding argument to an int64 array of ``frm`` codes."""
    if isinstance(rounding, str):
        if rounding not in FRM:
            raise ValueError(f"Rounding mode must be one of {', '.join(ROUNDING_MODES)}, "
                             f"not {rounding!r}")
        return np.full(shape, FRM[rounding], dtype=np.int64)
    codes = np.asarray(rounding, dtype=np.int64)
    codes = np.where((codes < 0) | (codes > 4), 0, codes)
    return np.broadcast_to(codes, shape)


def _round_at(sig: np.ndarray, exp: np.ndarray, sticky: np.ndarray, q: np.ndarray,
              sign: np.ndarray, rm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round ``sig * 2**exp (+sticky)`` to a multiple of ``2**q``.

    Returns ``(kept, inexact)`` where the result is ``kept * 2**q``.
    """
    shift = q - exp
    left = shift < 0
    kept_l = sig << np.clip(-shift, 0, 63).astype(_U64)
    kept_r = _rshift(sig, shift)
    guard = np.where(shift >= 1, _rshift(sig, shift - 1) & _ONE, _U64(0)) != 0
    rest = ((sig & _low_mask(np.maximum(shift - 1, 0))) != 0) & (shift >= 2)
    rest = rest | sticky
    kept = np.where(left, kept_l, kept_r)
    guard = guard & ~left
    inexact = guard | rest
    odd = (kept & _ONE) != 0
    inc = np.select(
        [rm == 1, rm == 2, rm == 3, rm == 4],
        [np.zeros_like(guard), inexact & sign, inexact & ~sign, guard],
        default=guard & (rest | odd))
    return kept + inc.astype(_U64), inexact


def round_raw(fmt: FloatFormat | str, raw: Raw,
              rounding: str | npt.ArrayLike = "rne") -> tuple[np.ndarray, np.ndarray]:
    """Round a :class:`Raw` into ``fmt``: returns ``(bits, flags)`` as uint64/uint8 arrays."""
    fmt = cast(FloatFormat, parse_format(fmt))
    sig, exp, sticky, sign = raw.sig, raw.exp, raw.sticky, raw.sign
    shape = sig.shape
    rm = rounding_codes(rounding, shape)
    m = fmt.man_bits
    emin = fmt.emin

    nz = (sig != 0)
    bl = bit_length(sig)
    e_msb = exp + bl - 1                       # exponent of the leading one
    q_unb = e_msb - m                          # quantum with an unbounded exponent
    q = np.maximum(q_unb, emin - m) if fmt.subnormals else q_unb

    kept, inexact = _round_at(sig, exp, sticky, q, sign, rm)
    carry = (kept >> _U64(m + 1)) != 0
    kept = np.where(carry, kept >> _ONE, kept)
    q = q + carry

    # Tininess after rounding: round at full precision with an unbounded exponent.
    kept_u, _ = _round_at(sig, exp, sticky, q_unb, sign, rm)
    carry_u = (kept_u >> _U64(m + 1)) != 0
    tiny = nz & ((e_msb + carry_u) < emin)

    normal = (kept >> _U64(m)) != 0
    field = np.where(normal, q + m + fmt.bias, 0)
    mant = np.where(normal, kept - (_ONE << _U64(m)), kept)
    overflow = nz & ((field > fmt.max_exp_field) |
                     ((field == fmt.max_exp_field) & (mant > _U64(fmt.max_man_field))))

    sign_bit = np.where(sign, _U64(fmt.sign_mask), _U64(0))
    field_c = np.clip(field, 0, (1 << fmt.exp_bits) - 1).astype(_U64)
    bits = sign_bit | (field_c << _U64(m)) | mant
    flags = np.where(inexact, FLAG_INEXACT, 0).astype(np.uint8)
    flags |= np.where(tiny & inexact, FLAG_UNDERFLOW, 0).astype(np.uint8)

    if not fmt.subnormals:
        bits = np.where(tiny, sign_bit, bits)
        flags = np.where(tiny, FLAG_UNDERFLOW | FLAG_INEXACT, flags).astype(np.uint8)

    # Overflow.
    max_bits = sign_bit | _U64(fmt.max_bits)
    if fmt.overflow == "saturate":
        ovf_bits = max_bits
    else:
        big = sign_bit | _U64(cast(int, fmt.inf_bits)) if fmt.overflow == "inf" else \
            _U64(cast(int, fmt.nan_bits))
        to_max = (rm == 1) | ((rm == 2) & ~sign) | ((rm == 3) & sign)
        ovf_bits = np.where(to_max, max_bits, big)
    bits = np.where(overflow, ovf_bits, bits)
    flags = np.where(overflow, FLAG_OVERFLOW | FLAG_INEXACT, flags).astype(np.uint8)

    # Exact zero (sig == 0, no sticky): a zero of the given sign.
    bits = np.where(nz | sticky, bits, sign_bit)
    flags = np.where(nz | sticky, flags, 0).astype(np.uint8)

    # Specials.
    if fmt.has_inf:
        inf_bits = sign_bit | _U64(cast(int, fmt.inf_bits))
        inf_flags = 0
    elif fmt.has_nan:
        inf_bits = _U64(cast(int, fmt.nan_bits))
        inf_flags = FLAG_INVALID
    else:
        inf_bits = max_bits
        inf_flags = FLAG_OVERFLOW | FLAG_INEXACT
    bits = np.where(raw.inf, inf_bits, bits)
    flags = np.where(raw.inf, inf_flags, flags).astype(np.uint8)
    nan_bits = _U64(cast(int, fmt.nan_bits)) if fmt.has_nan else _U64(fmt.sign_mask)
    nan_flags = 0 if fmt.has_nan else FLAG_INVALID
    bits = np.where(raw.nan, nan_bits, bits)
    flags = np.where(raw.nan, nan_flags, flags).astype(np.uint8)
    flags = flags | np.where(raw.invalid, FLAG_INVALID, 0).astype(np.uint8)
    return bits.astype(_U64), flags.astype(np.uint8)


def unpack(fmt: FloatFormat | str, bits: npt.ArrayLike) -> tuple[Raw, np.ndarray]:
    """Split encodings into a :class:`Raw` (exact, sticky clear).

    Also returns ``snan``: signaling NaNs (IEEE formats: NaN with the top mantissa bit clear).
    """
    fmt = cast(FloatFormat, parse_format(fmt))
    b = np.asarray(bits).astype(_U64) & _U64((1 << fmt.width) - 1)
    m = fmt.man_bits
    sign = (b >> _U64(fmt.width - 1)) != 0
    field = ((b >> _U64(m)) & _U64((1 << fmt.exp_bits) - 1)).astype(np.int64)
    mant = b & _U64((1 << m) - 1)
    top = (1 << fmt.exp_bits) - 1
    if fmt.specials == "ieee":
        special = field == top
        nan = special & (mant != 0)
        inf = special & (mant == 0)
        snan = nan & ((mant >> _U64(max(m - 1, 0))) & _ONE == 0)
    elif fmt.specials == "fn":
        nan = (b & _U64(fmt.sign_mask - 1)) == _U64(fmt.sign_mask - 1)
        inf = np.zeros(b.shape, dtype=bool)
        snan = inf
    else:
        nan = inf = snan = np.zeros(b.shape, dtype=bool)
    normal = field != 0
    sig = np.where(normal, mant | (_ONE << _U64(m)), mant)
    if not fmt.subnormals:
        sig = np.where(normal, sig, _U64(0))
    exp = np.where(normal, field, 1) - fmt.bias - m
    sig = np.where(nan | inf, _U64(0), sig)
    return Raw(sign, exp, sig, nan=nan, inf=inf), snan


def decode(fmt: FloatFormat | str, bits: npt.ArrayLike) -> np.ndarray:
    """Encodings → float64 values (exact: every supported format fits in a float64)."""
    raw, _ = unpack(fmt, bits)
    mag = np.ldexp(raw.sig.astype(np.float64), raw.exp)
    mag = np.where(raw.inf, np.inf, mag)
    val = np.where(raw.sign, -mag, mag)
    return np.where(raw.nan, np.nan, val)


def to_fraction(fmt: FloatFormat | str, bits: int | np.integer) -> Fraction | float | None:
    """One encoding → its exact value as a :class:`fractions.Fraction` (``None`` for NaN,
    ``±inf`` floats for infinities)."""
    from fractions import Fraction
    raw, _ = unpack(fmt, np.array([bits]))
    if raw.nan[0]:
        return None
    if raw.inf[0]:
        return float("-inf") if raw.sign[0] else float("inf")
    v = Fraction(int(raw.sig[0])) * Fraction(2) ** int(raw.exp[0])
    return -v if raw.sign[0] else v


def raw_from_float64(values: npt.ArrayLike) -> Raw:
    """float64 values → :class:`Raw` (exact)."""
    v = np.asarray(values, dtype=np.float64)
    sign = np.signbit(v)
    nan = np.isnan(v)
    inf = np.isinf(v)
    fin = np.where(nan | inf, 0.0, np.abs(v))
    mant, e = np.frexp(fin)
    sig = np.ldexp(mant, 53).astype(_U64)
    return Raw(sign & ~nan, e.astype(np.int64) - 53, sig, nan=nan, inf=inf)


@overload
def encode(fmt: FloatFormat | str, values: npt.ArrayLike, rounding: str | npt.ArrayLike = ...,
           *, with_flags: Literal[False] = ...) -> np.ndarray: ...
@overload
def encode(fmt: FloatFormat | str, values: npt.ArrayLike, rounding: str | npt.ArrayLike = ...,
           *, with_flags: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def encode(fmt: FloatFormat | str, values: npt.ArrayLike, rounding: str | npt.ArrayLike = ...,
           *, with_flags: bool) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def encode(fmt: FloatFormat | str, values: npt.ArrayLike, rounding: str | npt.ArrayLike = "rne",
           *, with_flags: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """float64 values → encodings of ``fmt`` (uint64), rounded once with ``rounding``.

    With ``with_flags=True`` returns ``(bits, flags)``.
    """
    f = cast(FloatFormat, parse_format(fmt))
    if isinstance(rounding, str) and rounding == "rne" and eligible(f):
        # the same bits and flags, by arithmetic (see .fast)
        bits, flags = encode_rne(f, values, decode=decode, general=_general_rne(f))
        return (bits, flags) if with_flags else bits
    bits, flags = round_raw(f, raw_from_float64(values), rounding)
    return (bits, flags) if with_flags else bits


def _general_rne(fmt: FloatFormat) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """float64 values → ``(bits, flags)`` by :func:`round_raw` in RNE (the fast paths'
    fallback for NaN and infinities)."""
    return lambda v: round_raw(fmt, raw_from_float64(v), "rne")


def is_nan(fmt: FloatFormat | str, bits: npt.ArrayLike) -> np.ndarray:
    return unpack(fmt, bits)[0].nan


def is_inf(fmt: FloatFormat | str, bits: npt.ArrayLike) -> np.ndarray:
    return unpack(fmt, bits)[0].inf
