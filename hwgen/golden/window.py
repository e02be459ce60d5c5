"""Golden model of windowed fixed-point accumulation (``F:window[L..M][:OUT]`` PEs).

For formats whose exact (Kulisch) register would be hundreds of bits wide (bf16, fp16,
e5m2...), a window of it: a two's-complement integer ``acc`` of ``M - L + 1`` bits counting
units of ``2**L``, so it holds ``-2**M .. 2**M - 2**L`` (FloPoCo's FPLargeAcc idea, with the
window given by the user). Every step, in natural k order from ``psum`` (or 0):

1. the product's exact magnitude, in units of ``2**L``, is truncated toward zero (its bits
   below ``2**L`` are dropped) and capped at ``2**(M - L) - 1``;
2. it is added with its sign (``acc + t`` or ``acc - t``), and the sum saturates to
   ``[-2**(M - L), 2**(M - L) - 1]``.

NaN, infinite and invalid products (``Inf × 0``) add nothing to ``acc`` and set sticky flags,
as for exact accumulation (:mod:`hwgen.golden.fmac`): the result is NaN when a product was
NaN or invalid or both infinities occurred, else ±Inf if an infinite product occurred, else
``acc · 2**L`` rounded once (to nearest even) into the output format; a zero sum reads out
as ``+0``.

Python integers throughout (no width limit), so the model does not share the hardware's
arithmetic; ``tests/test_window.py`` checks it against :class:`fractions.Fraction`.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import numpy.typing as npt

from ..formats import FloatFormat, parse_format
from ..pespec import PESpec, parse_pe
from .rounding import Raw, round_raw, unpack

__all__ = ["window_terms", "window_sum", "window_readout", "window_mac"]


def window_terms(a: npt.ArrayLike, b: npt.ArrayLike, a_fmt: FloatFormat | str,
                 b_fmt: FloatFormat | str, lsb: int,
                 msb: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The capped, truncated signed terms of products ``a × b`` (encodings, equal shapes):
    ``(terms, nan, inf, sign)``; ``terms`` (object ints) is 0 where the product is NaN,
    infinite or invalid; ``nan`` marks NaN or invalid products, ``inf`` infinite ones."""
    fa, fb = cast(FloatFormat, parse_format(a_fmt)), cast(FloatFormat, parse_format(b_fmt))
    ra, sa = unpack(fa, np.asarray(a, dtype=np.uint64))
    rb, sb = unpack(fb, np.asarray(b, dtype=np.uint64))
    za = (ra.sig == 0) & ~ra.nan & ~ra.inf
    zb = (rb.sig == 0) & ~rb.nan & ~rb.inf
    nan = ra.nan | rb.nan | (ra.inf & zb) | (rb.inf & za) | sa | sb
    inf = (ra.inf | rb.inf) & ~nan
    sign = ra.sign ^ rb.sign
    cap = (1 << (msb - lsb)) - 1
    finite = ~(ra.nan | rb.nan | ra.inf | rb.inf)
    # Python ints elementwise (object arrays): shifts reach hundreds of bits
    mag = ra.sig.astype(object) * rb.sig.astype(object)
    shift = (ra.exp + rb.exp - lsb).astype(object)
    t = np.where(shift >= 0, mag << np.maximum(shift, 0), mag >> np.maximum(-shift, 0))
    t = np.where(finite, np.minimum(t, cap), 0)
    return np.where(sign, -t, t), nan, inf, sign


def window_sum(a: npt.ArrayLike, b: npt.ArrayLike, pe: PESpec | str,
               psum: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike,
                           npt.ArrayLike] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the windowed accumulation of PE ``pe`` over the last axis of ``a`` and ``b``
    (encodings), from ``psum`` (``(acc, nan, pinf, ninf)``, default zeros): returns
    ``(acc, nan, pinf, ninf)`` with ``acc`` object ints."""
    pe = parse_pe(pe)
    if pe.accumulate != "window":
        raise ValueError(f"PE {pe.spec!r} is not a windowed PE (F:window[L..M][:OUT])")
    lsb, msb = cast("tuple[int, int]", pe.window)
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))
    terms, nan, inf, sign = window_terms(a, b, cast(FloatFormat, pe.a_fmt),
                                         cast(FloatFormat, pe.w_fmt), lsb, msb)
    shape = a.shape[:-1]
    lo, hi = -(1 << (msb - lsb)), (1 << (msb - lsb)) - 1
    if psum is None:
        acc = np.zeros(shape, dtype=object)
        f_nan = np.zeros(shape, dtype=bool)
        f_pinf = np.zeros(shape, dtype=bool)
        f_ninf = np.zeros(shape, dtype=bool)
    else:
        acc, f_nan, f_pinf, f_ninf = (np.array(x, dtype=t) for x, t in
                                      zip(psum, (object, bool, bool, bool)))
    for k in range(a.shape[-1]):
        acc = np.minimum(np.maximum(acc + terms[..., k], lo), hi)
    f_nan = f_nan | nan.any(axis=-1)
    f_pinf = f_pinf | (inf & ~sign).any(axis=-1)
    f_ninf = f_ninf | (inf & sign).any(axis=-1)
    return acc, f_nan, f_pinf, f_ninf


def window_readout(acc: npt.ArrayLike, nan: npt.ArrayLike, pinf: npt.ArrayLike,
                   ninf: npt.ArrayLike, lsb: int, out_fmt: FloatFormat | str,
                   rounding: str | npt.ArrayLike = "rne") -> tuple[np.ndarray, np.ndarray]:
    """``acc · 2**lsb`` rounded into ``out_fmt``, or the special result the flags say:
    ``(bits, flags)``."""
    acc = np.asarray(acc, dtype=object)
    res_nan = np.asarray(nan, dtype=bool) | (np.asarray(pinf, dtype=bool) &
                                               np.asarray(ninf, dtype=bool))
    res_inf = (np.asarray(pinf, dtype=bool) | np.asarray(ninf, dtype=bool)) & ~res_nan
    neg = (acc < 0).astype(bool)
    mag = np.abs(acc).astype(np.uint64)
    raw = Raw(np.where(res_inf, np.asarray(ninf, dtype=bool), neg),
              np.full(acc.shape, lsb, dtype=np.int64), mag,
              sticky=np.zeros(acc.shape, dtype=bool), nan=res_nan, inf=res_inf,
              invalid=np.zeros(acc.shape, dtype=bool))
    return round_raw(out_fmt, raw, rounding)


def window_mac(a: npt.ArrayLike, b: npt.ArrayLike,
               pe: PESpec | str) -> tuple[np.ndarray, np.ndarray]:
    """Dot products over the last axis of ``a`` and ``b`` (encodings) by a windowed PE
    ``pe``, each from 0: ``(bits, flags)`` in its output format."""
    pe = parse_pe(pe)
    acc, nan, pinf, ninf = window_sum(a, b, pe)
    return window_readout(acc, nan, pinf, ninf, cast("tuple[int, int]", pe.window)[0],
                          cast(FloatFormat, pe.out_fmt))
