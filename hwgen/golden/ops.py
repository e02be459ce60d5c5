"""Golden float operators: ``mul``, ``add`` (and subtract), ``fma``.

Each computes the exact result as a :class:`~hwgen.golden.rounding.Raw` and hands it to the one
rounder, :func:`~hwgen.golden.rounding.round_raw`. Inputs are encodings (integer arrays);
outputs are ``(bits, flags)``.

Special cases follow IEEE 754 (and Berkeley SoftFloat): any NaN operand gives the canonical NaN;
a signaling NaN operand, ``Inf * 0`` and ``Inf - Inf`` raise invalid; an exact zero sum is
``+0`` (``-0`` when rounding down) unless both addends are zeros of the same sign.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np
import numpy.typing as npt

from ..formats import FloatFormat, parse_format
from .rounding import Raw, round_raw, unpack, rounding_codes, bit_length, decode, _general_rne
from .fast import binary, encodings

__all__ = ["mul", "add", "sub", "fma", "exact_sum", "TABLE_MAX_BITS"]

_U64 = np.uint64

#: (Formats of up to 16 bits in round-to-nearest-even also have :mod:`.fast`: the float64
#: result rounded by arithmetic, for operands past the tables' reach.)
#: ``mul`` and ``add`` of two formats whose widths add up to at most this many bits, with a
#: static rounding mode, read their result and flags from a table of every operand pair
#: (computed once per formats and mode by the same code, on first use): the same bits, ~10x
#: faster on large arrays (the explorer's narrow-float emulation).
TABLE_MAX_BITS = 16
_TABLES: dict[tuple[str, FloatFormat, FloatFormat, FloatFormat, str],
              tuple[np.ndarray, np.ndarray]] = {}


def _tabled(op: str, fa: FloatFormat, fb: FloatFormat, fo: FloatFormat,
            rounding: str | npt.ArrayLike, a: npt.ArrayLike, b: npt.ArrayLike,
            compute: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
            ) -> tuple[np.ndarray, np.ndarray] | None:
    """``compute(a, b)`` through the table of ``(op, fa, fb, fo, rounding)`` when the formats
    are narrow, the mode static and the operands encodings in range; else ``None``."""
    if not isinstance(rounding, str) or fa.width + fb.width > TABLE_MAX_BITS:
        return None
    a, b = np.asarray(a), np.asarray(b)
    if a.size + b.size < 4096 or not (encodings(a, fa) and encodings(b, fb)):
        return None                                      # small or odd inputs: compute
    key = (op, fa, fb, fo, rounding)
    table = _TABLES.get(key)
    if table is None:
        ga, gb = np.meshgrid(np.arange(1 << fa.width, dtype=_U64),
                             np.arange(1 << fb.width, dtype=_U64), indexing="ij")
        y, f = compute(ga.ravel(), gb.ravel())
        table = _TABLES[key] = (np.asarray(y, dtype=_U64), np.asarray(f, dtype=np.uint8))
    idx = (a.astype(np.int64) << fb.width) | b.astype(np.int64)
    return table[0][idx], table[1][idx]


def _fmts(fmt: FloatFormat | str, *others: FloatFormat | str | None) -> list[FloatFormat]:
    fmt = cast(FloatFormat, parse_format(fmt))
    return [fmt] + [fmt if o is None else cast(FloatFormat, parse_format(o)) for o in others]


def exact_sum(x: Raw, y: Raw, rm: np.ndarray) -> Raw:
    """Exact ``x + y`` of two finite raw values (no sticky), as a Raw.

    The sum is computed exactly in Python integers (object arrays) where 64 bits cannot hold the
    alignment, then reduced to 62 bits with a sticky bit, which is enough for the rounder
    (it keeps at most 24 + 2 bits).
    """
    shape = np.broadcast_shapes(x.sig.shape, y.sig.shape)
    xs, ys = np.broadcast_to(x.sig, shape), np.broadcast_to(y.sig, shape)
    xe, ye = np.broadcast_to(x.exp, shape), np.broadcast_to(y.exp, shape)
    xsg, ysg = np.broadcast_to(x.sign, shape), np.broadcast_to(y.sign, shape)
    xz, yz = xs == 0, ys == 0
    # A zero operand must not pull the common exponent down.
    xe = np.where(xz, ye, xe)
    ye = np.where(yz, xe, ye)
    base = np.minimum(xe, ye)
    dx, dy = xe - base, ye - base
    # Elements whose aligned operands fit in 62 bits take the fast int64 path; the others
    # (far-apart exponents of wide formats) are summed exactly in Python integers.
    fits = np.maximum(bit_length(xs) + dx, bit_length(ys) + dy) <= 62
    neg = np.zeros(shape, dtype=bool)
    mag = np.zeros(shape, dtype=_U64)
    sticky = np.zeros(shape, dtype=bool)
    exp = base.copy()
    f = fits
    a = xs[f].astype(np.int64) << dx[f]
    b = ys[f].astype(np.int64) << dy[f]
    t = np.where(xsg[f], -a, a) + np.where(ysg[f], -b, b)
    neg[f] = t < 0
    mag[f] = np.abs(t).astype(_U64)
    w = ~fits
    if w.any():
        a = xs[w].astype(object) * (np.ones(int(w.sum()), dtype=object) << dx[w].astype(object))
        b = ys[w].astype(object) * (np.ones(int(w.sum()), dtype=object) << dy[w].astype(object))
        t = np.where(xsg[w], -a, a) + np.where(ysg[w], -b, b)
        neg[w] = (t < 0).astype(bool)
        mag_o = np.abs(t)
        bl = np.frompyfunc(int.bit_length, 1, 1)(mag_o).astype(np.int64)
        cut = np.maximum(bl - 62, 0)
        cut_o = cut.astype(object)
        kept = mag_o >> cut_o
        sticky[w] = ((mag_o - (kept << cut_o)) != 0).astype(bool)
        mag[w] = kept.astype(_U64)
        exp[w] = base[w] + cut
    zero = (mag == 0) & ~sticky
    # Sign of an exact zero: both zeros of one sign keep it; otherwise +0, or -0 in rdn.
    zsign = np.where(xsg == ysg, xsg, rm == 2)
    sign = np.where(zero, zsign, neg)
    return Raw(sign, exp, mag, sticky=sticky)


def _nan_in(ra: Raw, sa: np.ndarray,
            *rest: tuple[Raw, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    nan, snan = ra.nan, sa
    for r, s in rest:
        nan = nan | r.nan      # not in place: the operands may broadcast to a larger shape
        snan = snan | s
    return nan, snan


def mul(fmt: FloatFormat | str, a: npt.ArrayLike, b: npt.ArrayLike,
        rounding: str | npt.ArrayLike = "rne", *, out_fmt: FloatFormat | str | None = None,
        b_fmt: FloatFormat | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` with one rounding into ``out_fmt`` (default ``fmt``). Returns (bits, flags)."""
    fa, fb, fo = _fmts(fmt, b_fmt, out_fmt if out_fmt is not None else fmt)

    def compute(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        ra, sa = unpack(fa, a)
        rb, sb = unpack(fb, b)
        raw, _ = _mul_raw(ra, sa, rb, sb)
        return round_raw(fo, raw, rounding)
    fast = _tabled("mul", fa, fb, fo, rounding, a, b, compute)
    if fast is None and isinstance(rounding, str) and rounding == "rne":
        fast = binary("mul", fa, fb, fo, a, b, compute, decode=decode,
                      general=_general_rne(fo))
    return compute(a, b) if fast is None else fast


def _mul_raw(ra: Raw, sa: np.ndarray, rb: Raw, sb: np.ndarray) -> tuple[Raw, np.ndarray]:
    """Exact product as a Raw, and the 'is exactly zero' mask of the product."""
    nan, snan = _nan_in(ra, sa, (rb, sb))
    za = (ra.sig == 0) & ~ra.inf & ~ra.nan
    zb = (rb.sig == 0) & ~rb.inf & ~rb.nan
    inf_times_zero = (ra.inf & zb) | (rb.inf & za)
    inf = (ra.inf | rb.inf) & ~nan & ~inf_times_zero
    sign = ra.sign ^ rb.sign
    sig = ra.sig * rb.sig
    raw = Raw(sign, ra.exp + rb.exp, sig, nan=nan | inf_times_zero, inf=inf,
              invalid=snan | inf_times_zero)
    return raw, za | zb


def add(fmt: FloatFormat | str, a: npt.ArrayLike, b: npt.ArrayLike,
        rounding: str | npt.ArrayLike = "rne", *, out_fmt: FloatFormat | str | None = None,
        b_fmt: FloatFormat | str | None = None,
        subtract: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``a + b`` (or ``a - b``) with one rounding into ``out_fmt``. Returns (bits, flags)."""
    fa, fb, fo = _fmts(fmt, b_fmt, out_fmt if out_fmt is not None else fmt)

    def compute(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        ra, sa = unpack(fa, a)
        rb, sb = unpack(fb, b)
        if subtract:
            rb = Raw(~rb.sign, rb.exp, rb.sig, nan=rb.nan, inf=rb.inf)
        shape = np.broadcast_shapes(ra.sig.shape, rb.sig.shape)
        rm = rounding_codes(rounding, shape)
        return round_raw(fo, _add_raw(ra, sa, rb, sb, rm), rm)
    op = "sub" if subtract else "add"
    fast = _tabled(op, fa, fb, fo, rounding, a, b, compute)
    if fast is None and isinstance(rounding, str) and rounding == "rne":
        fast = binary(op, fa, fb, fo, a, b, compute, decode=decode,
                      general=_general_rne(fo))
    return compute(a, b) if fast is None else fast


def sub(fmt: FloatFormat | str, a: npt.ArrayLike, b: npt.ArrayLike,
        rounding: str | npt.ArrayLike = "rne",
        **kw: FloatFormat | str | None) -> tuple[np.ndarray, np.ndarray]:
    """``a - b``: :func:`add` with ``subtract=True``."""
    return add(fmt, a, b, rounding, subtract=True, **kw)


def _add_raw(ra: Raw, sa: np.ndarray, rb: Raw, sb: np.ndarray, rm: np.ndarray) -> Raw:
    nan, snan = _nan_in(ra, sa, (rb, sb))
    inf_minus_inf = ra.inf & rb.inf & (ra.sign != rb.sign)
    inf = (ra.inf | rb.inf) & ~nan & ~inf_minus_inf
    inf_sign = np.where(ra.inf, ra.sign, rb.sign)
    fin = exact_sum(_finite(ra), _finite(rb), rm)
    return Raw(np.where(inf, inf_sign, fin.sign), fin.exp, fin.sig, sticky=fin.sticky,
               nan=nan | inf_minus_inf, inf=inf, invalid=snan | inf_minus_inf)


def _finite(r: Raw) -> Raw:
    """The finite part of a raw value (specials as zeros, so sums stay defined)."""
    sp = r.nan | r.inf
    return Raw(r.sign, r.exp, np.where(sp, _U64(0), r.sig))


def fma(fmt: FloatFormat | str, a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike,
        rounding: str | npt.ArrayLike = "rne", *, out_fmt: FloatFormat | str | None = None,
        c_fmt: FloatFormat | str | None = None,
        b_fmt: FloatFormat | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``a * b + c`` with a single rounding into ``out_fmt``. Returns (bits, flags)."""
    fa, fb, fc, fo = _fmts(fmt, b_fmt, c_fmt, out_fmt if out_fmt is not None else fmt)
    ra, sa = unpack(fa, a)
    rb, sb = unpack(fb, b)
    rc, sc = unpack(fc, c)
    shape = np.broadcast_shapes(ra.sig.shape, rb.sig.shape, rc.sig.shape)
    rm = rounding_codes(rounding, shape)
    prod, _ = _mul_raw(ra, sa, rb, sb)
    # The product's invalid (sNaN, Inf*0) carries through; its NaN joins c's.
    total = _add_raw(prod, prod.invalid & ~prod.nan, rc, sc, rm)
    invalid = total.invalid | prod.invalid
    nan = total.nan | prod.nan
    return round_raw(fo, Raw(total.sign, total.exp, total.sig, sticky=total.sticky,
                             nan=nan, inf=total.inf & ~nan, invalid=invalid), rm)
