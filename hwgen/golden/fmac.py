"""Golden model of the float MAC (``FloatMac``): dot products with narrow, fused or exact
accumulation.

``accumulate``:

``"rounded"``
    Each step rounds the product into ``acc_fmt`` and then rounds the sum into ``acc_fmt``
    (Hill et al.'s emulation: the running sum lives in the narrow format and stalls once the
    products fall below half an ulp of it).
``"fused"``
    Each step is one FMA ``acc = round(a*b + acc)`` into ``acc_fmt``.
``"exact"``
    A Kulisch accumulator: a two's-complement fixed-point integer of
    :func:`exact_acc_bits` bits whose LSB is the smallest product's LSB; every product is added
    exactly; the sum is rounded once into ``out_fmt`` on read-out. Exact for up to
    ``max_terms`` products (beyond that it wraps modulo ``2**width``, as the hardware does).
    An exactly-zero sum reads out as ``+0``. NaN when any product is NaN/invalid or both
    infinities occur; otherwise ±Inf if an infinite product occurs.

Every dot product starts from ``+0`` (the accumulator is cleared after each result).
Flags are the OR over every rounding the result went through.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt

from ..formats import FloatFormat, parse_format
from ..pespec import exact_acc_bits
from .rounding import Raw, round_raw, unpack, rounding_codes
from .ops import mul, add, fma

__all__ = ["mac", "mac_stream", "exact_acc_bits", "ACCUMULATE_MODES"]

ACCUMULATE_MODES = ("rounded", "fused", "exact")


def mac(a: npt.ArrayLike, b: npt.ArrayLike, *, mul_fmt: FloatFormat | str,
        acc_fmt: FloatFormat | str | None = None, accumulate: str = "rounded",
        rounding: str | npt.ArrayLike = "rne", out_fmt: FloatFormat | str | None = None,
        max_terms: int | None = None, b_fmt: FloatFormat | str | None = None,
        lengths: npt.ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Dot products over the last axis of ``a`` and ``b`` (encodings), in hardware order.

    ``lengths`` (optional, one per dot product) uses only the first ``lengths[i]`` terms of
    row ``i``. Returns ``(bits, flags)`` with one entry per dot product. ``out_fmt`` is the
    read-out format (``exact`` only; ``rounded``/``fused`` results are in ``acc_fmt``).
    """
    if accumulate not in ACCUMULATE_MODES:
        raise ValueError(f"Accumulation must be one of {', '.join(ACCUMULATE_MODES)}, "
                         f"not {accumulate!r}")
    fm = cast(FloatFormat, parse_format(mul_fmt))
    fb = fm if b_fmt is None else cast(FloatFormat, parse_format(b_fmt))
    fa = cast(FloatFormat, parse_format(acc_fmt)) if acc_fmt is not None else fm
    a = np.atleast_2d(np.asarray(a, dtype=np.uint64))
    b = np.atleast_2d(np.asarray(b, dtype=np.uint64))
    a, b = np.broadcast_arrays(a, b)
    n, k = a.shape[:-1], a.shape[-1]
    every = lengths is None                      # every row uses all k terms
    lengths = np.full(n, k) if lengths is None else np.asarray(lengths)
    if accumulate == "exact":
        fo = cast(FloatFormat, parse_format(out_fmt)) if out_fmt is not None else fa
        return _exact(a, b, fm, fb, fo, rounding, max_terms or k, lengths)
    if out_fmt is not None and parse_format(out_fmt) != fa:
        raise ValueError(f"Output format must equal the accumulator format with "
                         f"accumulate={accumulate!r}, not {out_fmt!r}")
    acc = np.zeros(n, dtype=np.uint64)           # +0
    flags = np.zeros(n, dtype=np.uint8)
    codes = rounding_codes(rounding, n)          # checks the mode
    # a static mode stays a string: the operators' tables and fast paths take it
    rm: str | np.ndarray = rounding if isinstance(rounding, str) else codes
    for j in range(k):
        if accumulate == "rounded":
            p, f1 = mul(fm, a[..., j], b[..., j], rm, out_fmt=fa, b_fmt=fb)
            s, f2 = add(fa, acc, p, rm)
            f = f1 | f2
        else:
            s, f = fma(fm, a[..., j], b[..., j], acc, rm, b_fmt=fb, c_fmt=fa, out_fmt=fa)
        if every:
            acc, flags = np.asarray(s, dtype=np.uint64), flags | f
            continue
        active = j < lengths
        acc = np.where(active, s, acc)
        flags = np.where(active, flags | f, flags)
    return acc, flags


def _exact(a: np.ndarray, b: np.ndarray, fm: FloatFormat, fb: FloatFormat, fo: FloatFormat,
           rounding: str | npt.ArrayLike, max_terms: int,
           lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width, lsb = exact_acc_bits(fm, max_terms, fb)
    ra, sa = unpack(fm, a)
    rb, sb = unpack(fb, b)
    active = np.arange(a.shape[-1]) < lengths[..., None]
    za = (ra.sig == 0) & ~ra.nan & ~ra.inf
    zb = (rb.sig == 0) & ~rb.nan & ~rb.inf
    invalid = ((ra.inf & zb) | (rb.inf & za) | sa | sb) & active
    nan = ((ra.nan | rb.nan) & active) | invalid
    inf = (ra.inf | rb.inf) & ~nan & active
    psign = ra.sign ^ rb.sign
    # Exact products as integers in units of 2**lsb (Python ints: widths reach ~550 bits).
    shift = (ra.exp + rb.exp - lsb).astype(object)
    prod = (ra.sig * rb.sig).astype(object) * (np.ones(shift.shape, dtype=object) << shift)
    prod = np.where(psign, -prod, prod)
    prod = np.where(active & ~ra.nan & ~rb.nan & ~ra.inf & ~rb.inf, prod, 0)
    total = prod.sum(axis=-1) if prod.shape[-1] else np.zeros(prod.shape[:-1], dtype=object)
    mod = 1 << width
    total = np.array([((int(t) + (mod >> 1)) % mod) - (mod >> 1) for t in total.ravel()],
                     dtype=object).reshape(total.shape)   # wrap like the hardware register
    any_nan = nan.any(axis=-1)
    pos_inf = (inf & ~psign).any(axis=-1)
    neg_inf = (inf & psign).any(axis=-1)
    res_nan = any_nan | (pos_inf & neg_inf)
    res_inf = (pos_inf | neg_inf) & ~res_nan
    neg = np.array([t < 0 for t in total.ravel()], dtype=bool).reshape(total.shape)
    mag = np.abs(total)
    bl = np.array([int(t).bit_length() for t in mag.ravel()], dtype=np.int64).reshape(mag.shape)
    cut = np.maximum(bl - 62, 0)
    kept = np.array([int(t) >> int(c) for t, c in zip(mag.ravel(), cut.ravel())],
                    dtype=object).reshape(mag.shape)
    sticky = np.array([(int(t) & ((1 << int(c)) - 1)) != 0 for t, c in
                       zip(mag.ravel(), cut.ravel())], dtype=bool).reshape(mag.shape)
    raw = Raw(np.where(res_inf, neg_inf, neg), lsb + cut, kept.astype(np.uint64),
              sticky=sticky, nan=res_nan, inf=res_inf, invalid=invalid.any(axis=-1))
    return round_raw(fo, raw, rounding)


def mac_stream(a: npt.ArrayLike, b: npt.ArrayLike, last: npt.ArrayLike,
               **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """The stream view: pairs ``(a[i], b[i])`` with ``last[i]`` closing a dot product.

    Returns ``(bits, flags)``, one per ``last``; pairs after the final ``last`` are not
    reported (they stay in the accumulator).
    """
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    ends = np.flatnonzero(np.asarray(last, dtype=bool))
    if ends.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint8)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    k = int(lengths.max())
    idx = starts[:, None] + np.arange(k)[None, :]
    idx = np.minimum(idx, len(a) - 1)
    return mac(a[idx], b[idx], lengths=lengths, **kw)
