"""Golden model of OCP Microscaling (MX v1.0): E8M0 scales, block quantization, MX dot products.

numpy only. References below are to the *OCP Microscaling Formats (MX) Specification,
Version 1.0* (September 2023): §5.3 element data types (§5.3.1 FP8, §5.3.2 FP6, §5.3.3 FP4,
INT8 in Table 6), §5.4.1 the E8M0 scale (Table 7), §6.1 ``Dot``, §6.2 ``DotGeneral``, §6.3
conversion from scalar values to an MX block.

An MX block is ``k = 32`` private elements ``P_i`` sharing one scale ``X``; element ``i``
stands for ``X * P_i``. A block is held here as integer encodings: the E8M0 code of ``X``
and the element codes.

Element formats (``elem``)
--------------------------
``e4m3`` ``e5m2`` (FP8, OCP OFP8), ``e3m2`` ``e2m3`` (FP6), ``e2m1`` (FP4): the presets of
:mod:`hwgen.formats`. E4M3 has no Inf and one NaN per sign (``S.1111.111``); E5M2 has IEEE
Inf/NaN; FP6/FP4 have neither. ``int8``: an 8-bit two's-complement integer with an implicit
scale of ``2**-6`` (one sign bit, one integer bit, six fraction bits), so its values are
``-2, -127/64, ..., 127/64``; no special values.

E8M0 (§5.4.1)
-------------
Unsigned, 8 exponent bits, bias 127, no mantissa: code ``c`` is ``2**(c - 127)`` for
``c = 0..254`` (``2**-127 .. 2**127``), ``0xFF`` is NaN; there is no zero and no Inf (as
``ml_dtypes.float8_e8m0fnu``).

Conversion (:func:`mx_quantize`, §6.3)
--------------------------------------
For each block of 32 values ``V_i`` (taken as exact float64 numbers):

1. ``amax = max |V_i|``. ``emax_elem`` is the exponent of the element format's largest normal
   power of two (e4m3 8, e5m2 15, e3m2 4, e2m3 2, e2m1 2, int8 0) and ``max_elem`` its largest
   magnitude (448, 57344, 28, 7.5, 6, 127/64).
2. The shared exponent ``s`` by the scale rule, computed exactly (no float log2):

   ``"floor"`` (the spec's rule)
       ``s = floor(log2(amax)) - emax_elem``. The largest input lands in the element's top
       binade; values above ``max_elem`` after rounding are clamped (below).
   ``"ceil"``
       ``s = ceil(log2(amax)) - emax_elem``: one more than ``floor`` unless ``amax`` is a
       power of two, so ``|V_i / X| <= 2**emax_elem`` and nothing is clamped (torchao's
       ``CEIL``).
   ``"rceil"``
       ``s = ceil(log2(amax / max_elem))``: the smallest power-of-two scale with
       ``|V_i / X| <= max_elem``, so nothing is clamped and no binade is wasted (the
       UE8M0 rule of NVIDIA's cuBLAS/torchao ``RCEIL``, computed here exactly instead of
       from a float32 quotient).

3. Scale range: ``s < -127`` is raised to ``-127`` (E8M0's smallest scale; the elements then
   come out smaller, down to zero, never clamped). ``s > 127`` (only reachable from float64
   inputs beyond float32's range) cannot be encoded: the block's scale is NaN.
4. ``X = 2**s``; ``P_i`` is ``V_i / X`` (exact) rounded once to the element format in the
   given rounding mode, with magnitudes above ``max_elem`` clamped to ``±max_elem`` (the
   spec's conversion saturates normal numbers; for INT8 the clamp is to the two's-complement
   range ``[-2, 127/64]``, so ``-2`` is produced, code ``0x80``).

Special blocks (pinned here; §6.3 computes ``X`` from ``max |V_i|``):

* All zeros: ``amax = 0`` has no exponent; ``X = 2**-127`` (code 0, as gfloat does) and the
  elements are zeros of the inputs' signs (``+0`` for int8).
* A NaN or ±Inf input: ``max |V_i|`` is NaN/Inf, which no E8M0 code holds, so ``X`` is NaN
  (code ``0xFF``) and the element codes are 0. A NaN scale makes every element of the block
  NaN whatever ``P_i`` are (§5 special values), so the block reads back as 32 NaNs.

INT8 compared with other libraries: the spec's INT8 is two's complement and reaches ``-2``.
gfloat 0.5.2 (``format_info_ocp_int8``) agrees (it saturates to ``[-2, 127/64]``); Microsoft's
``microxcaling`` emulator clamps symmetrically to ``±127/64`` and never produces ``0x80``.
With the floor rule ``|V_i / X| < 2``, so the two differ exactly when ``V_i / X`` rounds to
``-2`` (``V_i / X <= -255/128`` in rne): here ``-2`` (code ``0x80``), there ``-127/64``.

Dot products (:func:`mx_dot`, §6.1/§6.2)
----------------------------------------
The spec's ``Dot(A, B) = X_A * X_B * sum_i P_A,i * P_B,i`` over one block, ``DotGeneral``
sums blocks, and the internal precision is left to the implementation. Ours, to the bit:

* Each block's 32 element products are exact and summed **exactly** in fixed point
  (:func:`mx_block_sum_bits` gives the width: the products of narrow elements fit in a short
  window, at most 70 bits for E5M2 x E5M2).
* The sum is scaled exactly by ``X_A * X_B`` (an exponent add) and added to an FP32
  accumulator with **one rounding per block** (IEEE 754 rounding of the exact sum
  ``acc + X_A X_B S``) in the given mode (``rne rtz rdn rup rna``, or per-dot-product RISC-V
  ``frm`` codes for the dynamic mode). The accumulator starts at ``+0``; blocks are added in
  order. Overflow, tininess after rounding and subnormals as
  :func:`~hwgen.golden.rounding.round_raw` documents.
* Specials: a NaN scale (``0xFF``) or a NaN element makes the block NaN; E5M2 infinities
  follow IEEE: ``Inf * 0`` is NaN and raises invalid, ``Inf * x`` is ±Inf, ``+Inf`` plus
  ``-Inf`` (within a block, or block against accumulator) is NaN and raises invalid, a
  signaling NaN element (E5M2 ``S.11111.01``) raises invalid. A NaN accumulator stays NaN.
  NaN results are FP32's canonical quiet NaN ``0x7FC00000``.
* Zero signs: an exactly-zero block sum counts as ``+0``. An exactly-zero accumulation
  follows the IEEE rule of :mod:`hwgen.golden.ops`: zeros of one sign keep it, any other
  exact zero is ``+0`` (``-0`` when rounding down). So a dot product of zeros is ``+0``;
  ``-0`` comes from a negative block term that underflows to zero, or from an exact
  cancellation when rounding down.
* Flags (inexact, underflow, overflow, invalid) are ORed over every block of the dot product.

:func:`mx_matmul` applies :func:`mx_dot` to every row of ``A`` against every column of ``B``,
blocks along ``K`` (``A`` quantized along axis 1, ``B`` along axis 0).
"""

from __future__ import annotations

from fractions import Fraction
from typing import cast

import numpy as np
import numpy.typing as npt

from ..formats import FloatFormat, parse_format
from ..pespec import MX_PE_ELEMENTS
from .rounding import Raw, decode, raw_from_float64, round_raw, rounding_codes, unpack

__all__ = ["MX_ELEMENTS", "MX_BLOCK_SIZES", "MX_SCALE_RULES", "E8M0_BIAS", "E8M0_NAN",
           "e8m0_encode", "e8m0_decode", "mx_element_encode", "mx_element_decode",
           "mx_elem_emax", "mx_elem_max", "mx_block_sum_bits", "mx_quantize", "mx_dequantize",
           "mx_dot", "mx_matmul", "check_mx_element", "check_mx_block", "mx_pack_words",
           "mx_unpack_words", "mx_pad", "mx_quantize_words"]

#: Element formats of the concrete MX formats (MXFP8 E4M3/E5M2, MXFP6 E3M2/E2M3, MXFP4, MXINT8).
MX_ELEMENTS = MX_PE_ELEMENTS       # the PE grammar's (hwgen.pespec sits below golden)
#: Block sizes accepted: the concrete MX formats all use k = 32.
MX_BLOCK_SIZES = (32,)
MX_SCALE_RULES = ("floor", "ceil", "rceil")
E8M0_BIAS = 127
E8M0_NAN = 0xFF

_FP32 = parse_format("fp32")
_U64 = np.uint64
#: INT8 elements are rounded by the golden rounder as a float format whose every value below 2
#: is a multiple of 2**-6: e2m6 with bias 1 has emin 0 and 6 fraction bits (its grid above 2 is
#: coarser, but such values clamp to 127/64 or -2 whichever way they round).
_INT8_GRID = FloatFormat(2, 6, specials="none")


class _Elem:
    """Facts about one element format (internal)."""

    fmt: FloatFormat | None
    sat: FloatFormat

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_int = name == "int8"
        if self.is_int:
            self.fmt = None
            self.width = 8
            self.emax = 0
            self.max = 127 / 64
            self.lsb = -6                       # exponent of the element's unit
            self.max_units = 128                # largest |value| / 2**lsb (for -2)
        else:
            f = cast(FloatFormat, parse_format(name))
            self.fmt = f
            self.width = f.width
            self.emax = f.emax
            self.max = float(f.max_finite)
            self.lsb = f.emin - f.man_bits
            self.max_units = int(f.max_finite / _pow2(self.lsb))
            # Round into a copy that saturates: the spec's conversion clamps (§6.3).
            self.sat = FloatFormat(f.exp_bits, f.man_bits, bias=f.bias,
                                   subnormals=f.subnormals, specials=f.specials,
                                   overflow="saturate")


def _pow2(n: int) -> Fraction:
    return Fraction(2) ** n


_ELEMS: dict[str, _Elem] = {}


def check_mx_element(elem: str | FloatFormat, what: str = "MX element format") -> _Elem:
    """The facts of element format ``elem`` (a name in :data:`MX_ELEMENTS`); else ValueError."""
    if isinstance(elem, FloatFormat):
        elem = elem.name
    if not isinstance(elem, str) or elem.strip().lower() not in MX_ELEMENTS:
        raise ValueError(f"{what} must be one of {', '.join(MX_ELEMENTS)}, not {elem!r}")
    name = elem.strip().lower()
    if name not in _ELEMS:
        _ELEMS[name] = _Elem(name)
    return _ELEMS[name]


def check_mx_block(block: int | np.integer) -> int:
    """``block`` if it is an accepted block size (:data:`MX_BLOCK_SIZES`); else ValueError."""
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or \
            int(block) not in MX_BLOCK_SIZES:
        raise ValueError(f"Block size must be {' or '.join(map(str, MX_BLOCK_SIZES))} "
                         f"(the block size of every concrete MX format), not {block!r}")
    return int(block)


def _check_rule(scale_rule: str) -> str:
    if not isinstance(scale_rule, str) or scale_rule not in MX_SCALE_RULES:
        raise ValueError(f"Scale rule must be one of {', '.join(MX_SCALE_RULES)}, "
                         f"not {scale_rule!r}")
    return scale_rule


def mx_elem_emax(elem: str | FloatFormat) -> int:
    """``emax_elem`` of §6.3: the exponent of the element format's largest normal power of 2."""
    return check_mx_element(elem).emax


def mx_elem_max(elem: str | FloatFormat) -> float:
    """The largest magnitude of the element format (a float): 448, 57344, 28, 7.5, 6, 127/64."""
    return check_mx_element(elem).max


# -- E8M0 ------------------------------------------------------------------------------------

def e8m0_decode(codes: npt.ArrayLike) -> np.ndarray:
    """E8M0 codes → float64 scales: ``2**(c - 127)``, NaN for ``0xFF`` (§5.4.1)."""
    c = np.asarray(codes)
    if c.dtype.kind not in "iu":
        raise TypeError(f"E8M0 codes must be integers, not {c.dtype}")
    bad = c[(c < 0) | (c > 255)]
    if bad.size:
        raise ValueError(f"E8M0 codes must be between 0 and 255, not {int(bad[0])}")
    c = c.astype(np.int64)
    return np.where(c == E8M0_NAN, np.nan, np.ldexp(1.0, c - E8M0_BIAS))


def e8m0_encode(values: npt.ArrayLike) -> np.ndarray:
    """Scales → E8M0 codes (uint8): a power of two ``2**e``, ``-127 <= e <= 127``, is code
    ``e + 127``; NaN is ``0xFF``.

    Raises
    ------
    ValueError
        A value is not NaN and not such a power of two (E8M0 has no zero, no Inf and no
        mantissa); the message names the first one.
    """
    v = np.asarray(values, dtype=np.float64)
    nan = np.isnan(v)
    m, e = np.frexp(np.where(nan, 1.0, v))
    ok = nan | ((m == 0.5) & (e - 1 >= -E8M0_BIAS) & (e - 1 <= E8M0_BIAS))
    if not ok.all():
        bad = v[~ok].ravel()[0]
        raise ValueError(f"E8M0 holds powers of two from 2**-127 to 2**127 and NaN, "
                         f"not {float(bad)!r}")
    return np.where(nan, E8M0_NAN, e - 1 + E8M0_BIAS).astype(np.uint8)


# -- elements --------------------------------------------------------------------------------

def mx_element_decode(elem: str | FloatFormat, codes: npt.ArrayLike) -> np.ndarray:
    """Element codes → float64 values (exact; NaN/±Inf for the FP8 specials)."""
    el = check_mx_element(elem)
    c = np.asarray(codes).astype(np.int64) & ((1 << el.width) - 1)
    if el.is_int:
        return np.where(c >= 128, c - 256, c) / 64.0
    return decode(cast(FloatFormat, el.fmt), c)


def mx_element_encode(elem: str | FloatFormat, values: npt.ArrayLike,
                      rounding: str | npt.ArrayLike = "rne") -> np.ndarray:
    """float64 values → element codes (uint8): the spec's ``quantize_to_element_format``.

    One rounding in ``rounding`` (a mode name or RISC-V ``frm`` codes), then magnitudes above
    the largest element clamp to it (the conversion saturates, §6.3); int8 clamps to
    ``[-2, 127/64]``. Not used for NaN/Inf by :func:`mx_quantize` (such a block gets a NaN
    scale); here NaN becomes the FP8 NaN (int8: 0; FP6/FP4, which have no NaN: ``-0``, as the
    golden rounder encodes NaN without one), ±Inf becomes E5M2 ±Inf, E4M3 NaN, else ±max.
    """
    el = check_mx_element(elem)
    raw = raw_from_float64(values)
    return _round_elements(el, raw, rounding_codes(rounding, raw.sig.shape))


def _round_elements(el: _Elem, raw: Raw, rm: np.ndarray) -> np.ndarray:
    if not el.is_int:
        bits, _ = round_raw(el.sat, raw, rm)
        return bits.astype(np.uint8)
    bits, _ = round_raw(_INT8_GRID, raw, rm)
    q: np.ndarray = decode(_INT8_GRID, bits) * 64.0   # an integer (exact), or NaN → -0
    q = np.clip(np.nan_to_num(q, nan=0.0), -128, 127).astype(np.int64)
    return (q & 0xFF).astype(np.uint8)


def _unpack_elements(el: _Elem, codes: npt.ArrayLike
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Element codes → (sign, units, nan, snan, inf): ``units`` is |value| / 2**lsb (int64)."""
    c = np.asarray(codes).astype(np.int64) & ((1 << el.width) - 1)
    if el.is_int:
        v = np.where(c >= 128, c - 256, c)
        z = np.zeros(c.shape, dtype=bool)
        return v < 0, np.abs(v), z, z, z
    raw, snan = unpack(cast(FloatFormat, el.fmt), c.astype(_U64))
    units = raw.sig.astype(np.int64) << (raw.exp - el.lsb)
    return raw.sign, units, raw.nan, snan, raw.inf


def mx_block_sum_bits(elem: str | FloatFormat, b_elem: str | FloatFormat | None = None,
                      block: int | np.integer = 32) -> tuple[int, int]:
    """Width of the exact fixed-point block sum of ``block`` products.

    Returns ``(width, lsb_exp)``: a two's-complement integer of ``width`` bits counting units of
    ``2**lsb_exp`` holds any sum of ``block`` products of an ``elem`` and a ``b_elem`` element
    exactly (70 bits for E5M2 x E5M2, 42 for E4M3 x E4M3, 15 + 5 for INT8 x INT8...).
    """
    ea = check_mx_element(elem)
    eb = ea if b_elem is None else check_mx_element(b_elem, "B element format")
    block = check_mx_block(block)
    top = ea.max_units * eb.max_units * block
    return top.bit_length() + 1, ea.lsb + eb.lsb


# -- quantization ----------------------------------------------------------------------------

def _blocks(values: npt.ArrayLike, block: int, axis: int | np.integer) -> np.ndarray:
    """Move ``axis`` last and split it into (..., nblocks, block)."""
    v = np.asarray(values)
    if v.ndim == 0:
        raise ValueError("Values must have at least one axis, not a scalar")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or \
            not -v.ndim <= axis < v.ndim:
        raise ValueError(f"Axis must be an integer from {-v.ndim} to {v.ndim - 1}, "
                         f"not {axis!r}")
    v = np.moveaxis(v, axis, -1)
    n = v.shape[-1]
    if n % block:
        raise ValueError(f"Length along axis {axis} must be a multiple of the block size "
                         f"{block}, not {n}")
    return v.reshape(v.shape[:-1] + (n // block, block))


def _unblocks(x: np.ndarray, shape_moved: tuple[int, ...], axis: int | np.integer) -> np.ndarray:
    return np.moveaxis(x.reshape(shape_moved), -1, axis)


def mx_quantize(values: npt.ArrayLike, elem: str | FloatFormat, block: int | np.integer = 32,
                axis: int | np.integer = -1, scale_rule: str = "floor",
                rounding: str = "rne") -> tuple[np.ndarray, np.ndarray]:
    """Quantize real values to MX blocks along ``axis`` (the conversion of §6.3).

    Parameters
    ----------
    values : array_like of float
        Any shape; the length along ``axis`` must be a multiple of ``block``.
    elem : str
        One of :data:`MX_ELEMENTS`.
    block : int
        32 (:data:`MX_BLOCK_SIZES`).
    axis : int
        The axis split into blocks of consecutive elements.
    scale_rule : str
        ``"floor"`` (the spec), ``"ceil"`` or ``"rceil"`` (see the module docstring).
    rounding : str
        Rounding of the elements: ``rne`` (the spec's conversion) ``rtz rdn rup rna``.

    Returns
    -------
    scales : uint8 array
        E8M0 codes, the shape of ``values`` with ``axis`` shrunk by ``block``.
    codes : uint8 array
        Element codes, the shape of ``values``.

    Raises
    ------
    ValueError
        Unknown element format, scale rule or rounding mode; block size not 32; a length not a
        multiple of the block; a bad axis.
    """
    el = check_mx_element(elem)
    block = check_mx_block(block)
    _check_rule(scale_rule)
    if not isinstance(rounding, str):
        raise ValueError(f"Rounding mode must be a name (rne, rtz, rdn, rup, rna), "
                         f"not {rounding!r}")
    rounding_codes(rounding, ())                 # validates the name
    v = np.asarray(values)
    if v.dtype.kind not in "fiub":
        raise TypeError(f"Values must be real numbers, not an array of {v.dtype}")
    v = v.astype(np.float64)
    vb = _blocks(v, block, axis)
    moved = vb.shape[:-2] + (vb.shape[-2] * block,)

    finite = np.isfinite(vb).all(axis=-1)
    amax = np.where(finite, np.abs(np.where(np.isfinite(vb), vb, 0.0)).max(axis=-1), 0.0)
    mant, ex = np.frexp(amax)                   # amax = mant * 2**ex, mant in [0.5, 1)
    flog = ex.astype(np.int64) - 1              # floor(log2(amax)) for amax > 0
    if scale_rule == "floor":
        s = flog - el.emax
    elif scale_rule == "ceil":
        s = flog + (mant != 0.5) - el.emax
    else:
        s = flog - el.emax
        # amax / 2**s = (2 * mant) * 2**emax exactly; one more binade when it exceeds max_elem.
        s = s + (np.ldexp(2.0 * mant, el.emax) > el.max)
    s = np.where(amax == 0, -E8M0_BIAS, s)
    nan = ~finite | (s > E8M0_BIAS)
    s = np.maximum(s, -E8M0_BIAS)
    scales = np.where(nan, E8M0_NAN, s + E8M0_BIAS).astype(np.uint8)

    raw = raw_from_float64(np.where(np.isfinite(vb), vb, 0.0))
    shift = np.where(nan, 0, s)[..., None]
    raw = Raw(raw.sign, raw.exp - shift, raw.sig)
    codes = _round_elements(el, raw, rounding_codes(rounding, raw.sig.shape))
    codes = np.where(nan[..., None], 0, codes).astype(np.uint8)
    return np.moveaxis(scales, -1, axis), _unblocks(codes, moved, axis)


def mx_dequantize(scales: npt.ArrayLike, codes: npt.ArrayLike, elem: str | FloatFormat,
                  block: int | np.integer = 32, axis: int | np.integer = -1) -> np.ndarray:
    """MX blocks → float64 values ``X * P_i`` (exact); a NaN scale makes its block NaN."""
    el = check_mx_element(elem)
    block = check_mx_block(block)
    cb = _blocks(np.asarray(codes), block, axis)
    sc = np.moveaxis(np.asarray(scales), axis, -1)
    if sc.shape != cb.shape[:-1]:
        raise ValueError(f"Scales must have one code per block of {block} codes along axis "
                         f"{axis} ({cb.shape[-2]} blocks), not shape {np.asarray(scales).shape}")
    x = e8m0_decode(sc)[..., None]
    vals = x * mx_element_decode(el.name, cb)
    moved = cb.shape[:-2] + (cb.shape[-2] * block,)
    return _unblocks(vals, moved, axis)


# -- dot products ----------------------------------------------------------------------------

def _operand(x: tuple[npt.ArrayLike, npt.ArrayLike] | list[npt.ArrayLike],
             name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise TypeError(f"Operand {name} must be a (scales, codes) pair, not {type(x).__name__}")
    s = np.asarray(x[0])
    c = np.asarray(x[1])
    for what, arr in (("scales", s), ("codes", c)):
        if arr.dtype.kind not in "iu":
            raise TypeError(f"Operand {name} {what} must be integer codes, not {arr.dtype}")
    if c.ndim == 0 or s.ndim == 0:
        raise ValueError(f"Operand {name} must have at least one axis")
    return s.astype(np.int64), c.astype(np.int64)


def mx_dot(a: tuple[npt.ArrayLike, npt.ArrayLike] | list[npt.ArrayLike],
           b: tuple[npt.ArrayLike, npt.ArrayLike] | list[npt.ArrayLike], elem: str | FloatFormat,
           b_elem: str | FloatFormat | None = None, *, rounding: str | npt.ArrayLike = "rne",
           block: int | np.integer = 32) -> tuple[np.ndarray, np.ndarray]:
    """MX dot products over the last axis (§6.1/§6.2), to the bit (module docstring).

    Parameters
    ----------
    a, b : (scales, codes)
        E8M0 codes of shape ``(..., n)`` and element codes of shape ``(..., n * block)``, as
        :func:`mx_quantize` returns them with ``axis=-1``. Leading axes broadcast.
    elem, b_elem : str
        Element formats of ``a`` and ``b`` (``b_elem`` defaults to ``elem``).
    rounding : str or int array
        ``rne rtz rdn rup rna``, or RISC-V ``frm`` codes (broadcast to the leading shape; 5..7
        behave as rne) for a per-dot-product (dynamic) mode.

    Returns
    -------
    (bits, flags)
        FP32 encodings (uint64) and flags (uint8: 1 inexact, 2 underflow, 4 overflow,
        8 invalid), one per dot product.
    """
    ea = check_mx_element(elem)
    eb = ea if b_elem is None else check_mx_element(b_elem, "B element format")
    block = check_mx_block(block)
    sa, ca = _operand(a, "a")
    sb, cb = _operand(b, "b")
    for nm, s, c in (("a", sa, ca), ("b", sb, cb)):
        if c.shape[-1] != s.shape[-1] * block:
            raise ValueError(f"Operand {nm} has {s.shape[-1]} scales for {c.shape[-1]} "
                             f"elements; each block of {block} elements needs one scale")
    if ca.shape[-1] != cb.shape[-1]:
        raise ValueError(f"Operands must have the same length, not {ca.shape[-1]} and "
                         f"{cb.shape[-1]}")
    n = sa.shape[-1]
    lead = np.broadcast_shapes(sa.shape[:-1], ca.shape[:-1], sb.shape[:-1], cb.shape[:-1])
    rm = np.broadcast_to(rounding_codes(rounding, lead), lead).ravel()
    N = int(np.prod(lead, dtype=np.int64))
    sa = np.broadcast_to(sa, lead + (n,)).reshape(N, n)
    sb = np.broadcast_to(sb, lead + (n,)).reshape(N, n)
    ca = np.broadcast_to(ca, lead + (n * block,)).reshape(N, n, block)
    cb = np.broadcast_to(cb, lead + (n * block,)).reshape(N, n, block)

    # Exact block sums in fixed point (units of 2**lsb), and each block's special class.
    width, lsb = mx_block_sum_bits(ea.name, eb.name, block)
    sga, ua, na, sna, ia = _unpack_elements(ea, ca)
    sgb, ub, nb, snb, ib = _unpack_elements(eb, cb)
    za, zb = (ua == 0) & ~na & ~ia, (ub == 0) & ~nb & ~ib
    inf_x_zero = (ia & zb) | (ib & za)
    p_nan = na | nb | inf_x_zero
    p_inf = (ia | ib) & ~p_nan
    p_neg = sga ^ sgb
    finite = ~(na | nb | ia | ib)
    if width <= 62:
        prod = np.where(finite, ua * ub, 0)
        ssum = np.where(p_neg, -prod, prod).sum(axis=-1)
    else:                                      # E5M2 x E5M2: Python integers
        prod = np.where(finite, ua.astype(object) * ub.astype(object), 0)
        ssum = np.where(p_neg, -prod, prod).sum(axis=-1)
    pos_inf = (p_inf & ~p_neg).any(axis=-1)
    neg_inf = (p_inf & p_neg).any(axis=-1)
    scale_nan = (sa == E8M0_NAN) | (sb == E8M0_NAN)
    t_nan = scale_nan | p_nan.any(axis=-1) | (pos_inf & neg_inf)
    t_invalid = (sna | snb | inf_x_zero).any(axis=-1) | (pos_inf & neg_inf)
    t_inf = (pos_inf | neg_inf) & ~t_nan
    t_exp = (sa - E8M0_BIAS) + (sb - E8M0_BIAS) + lsb

    acc = np.zeros(N, dtype=_U64)              # +0
    flags = np.zeros(N, dtype=np.uint8)
    for j in range(n):
        acc_raw, _ = unpack(_FP32, acc)
        nan = t_nan[:, j] | acc_raw.nan | (t_inf[:, j] & acc_raw.inf &
                                            (neg_inf[:, j] != acc_raw.sign))
        invalid = t_invalid[:, j] | (t_inf[:, j] & acc_raw.inf & (neg_inf[:, j] != acc_raw.sign))
        inf = (t_inf[:, j] | acc_raw.inf) & ~nan
        inf_sign = np.where(t_inf[:, j], neg_inf[:, j], acc_raw.sign)
        sign, exp, sig, sticky = _exact_add(acc_raw, ssum[:, j], t_exp[:, j], rm)
        raw = Raw(np.where(inf, inf_sign, sign), exp, sig, sticky=sticky, nan=nan, inf=inf,
                  invalid=invalid)
        acc, f = round_raw(_FP32, raw, rm)
        flags |= f
    return acc.reshape(lead), flags.reshape(lead)


def _exact_add(acc: Raw, ssum: np.ndarray, t_exp: np.ndarray, rm: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``acc + ssum * 2**t_exp`` exactly, reduced to a 62-bit significand and a sticky bit.

    ``acc`` is an unpacked FP32 Raw (its specials are handled by the caller: their ``sig`` is
    0). Returns ``(sign, exp, sig, sticky)`` arrays; an exact zero gets the IEEE sign (zeros
    of one sign keep it, else ``+0``, ``-0`` in rdn); the zero block sum counts as ``+0``.
    """
    N = acc.sig.shape[0]
    sign = np.zeros(N, dtype=bool)
    exp = np.zeros(N, dtype=np.int64)
    sig = np.zeros(N, dtype=_U64)
    sticky = np.zeros(N, dtype=bool)
    for k in range(N):
        av = int(acc.sig[k])
        if acc.sign[k]:
            av = -av
        ae = int(acc.exp[k])
        tv = int(ssum[k])
        te = int(t_exp[k])
        if av == 0:
            base = te
        elif tv == 0:
            base = ae
        else:
            base = min(ae, te)
        total = (av << (ae - base) if av else 0) + (tv << (te - base) if tv else 0)
        if total == 0:
            t_neg = tv < 0
            sign[k] = bool(acc.sign[k]) if bool(acc.sign[k]) == t_neg else rm[k] == 2
            exp[k] = base
            continue
        mag = -total if total < 0 else total
        cut = max(mag.bit_length() - 62, 0)
        sign[k] = total < 0
        exp[k] = base + cut
        sig[k] = mag >> cut
        sticky[k] = (mag & ((1 << cut) - 1)) != 0
    return sign, exp, sig, sticky


def mx_matmul(a: tuple[npt.ArrayLike, npt.ArrayLike] | list[npt.ArrayLike],
              b: tuple[npt.ArrayLike, npt.ArrayLike] | list[npt.ArrayLike],
              elem: str | FloatFormat, b_elem: str | FloatFormat | None = None, *,
              rounding: str | npt.ArrayLike = "rne",
              block: int | np.integer = 32) -> tuple[np.ndarray, np.ndarray]:
    """``A @ B`` of MX operands, blocks along ``K``: each output is :func:`mx_dot` of a row of
    ``A`` and a column of ``B``.

    ``a`` is ``(scales (M, K/32), codes (M, K))`` (``mx_quantize(A, elem, axis=1)``); ``b`` is
    ``(scales (K/32, N), codes (K, N))`` (``mx_quantize(B, b_elem, axis=0)``). Returns FP32
    ``(bits, flags)`` of shape ``(M, N)``.
    """
    sa, ca = _operand(a, "a")
    sb, cb = _operand(b, "b")
    if ca.ndim != 2 or sa.ndim != 2 or cb.ndim != 2 or sb.ndim != 2:
        raise ValueError("mx_matmul takes 2-D scales and codes for both operands")
    if ca.shape[1] != cb.shape[0]:
        raise ValueError(f"Inner dimensions must agree, not {ca.shape[1]} and {cb.shape[0]}")
    a3 = (sa[:, None, :], ca[:, None, :])
    b3 = (sb.T[None, :, :], cb.T[None, :, :])
    return mx_dot(a3, b3, elem, b_elem, rounding=rounding, block=block)


# -- array operand words -----------------------------------------------------------------------

def mx_pad(scales: npt.ArrayLike, codes: npt.ArrayLike, axis: int,
           block: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Pad an MX operand along ``axis`` (its K axis) to whole blocks: zero element codes
    (the value 0 in every element format) appended to the last block, whose scale is kept.
    ``scales`` has ``ceil(K / block)`` entries along ``axis``; ``codes`` has ``K``.

    Padding with zero elements changes no dot product: a zero product adds nothing to the
    block's exact sum (the hardware tiler pads this way, :mod:`hwgen.arrays.systolic`).
    """
    s = np.asarray(scales).astype(np.int64)
    c = np.asarray(codes).astype(np.int64)
    if s.ndim != c.ndim or not -c.ndim <= axis < c.ndim:
        raise ValueError(f"Scales and codes must have the same number of axes and axis "
                         f"{axis} must be one of them, not {s.shape} and {c.shape}")
    k = c.shape[axis]
    nb = -(-k // block)
    if s.shape[axis] != nb:
        raise ValueError(f"{k} elements along axis {axis} need {nb} scales (blocks of "
                         f"{block}), not {s.shape[axis]}")
    pad = [(0, 0)] * c.ndim
    pad[axis] = (0, nb * block - k)
    return s, np.pad(c, pad)


def mx_pack_words(scales: npt.ArrayLike, codes: npt.ArrayLike, elem: str | FloatFormat,
                  axis: int, block: int = 32) -> np.ndarray:
    """MX operand → the words an ``mx:`` PE array takes: element code in the low bits, the
    block's E8M0 code above it (``code | scale << width``, ``width`` the element's bits).

    ``codes`` has ``K`` elements along ``axis`` (padded here to whole blocks, :func:`mx_pad`)
    and ``scales`` one per block; every word of a block carries the block's scale. Returns
    int64 words with ``ceil(K / block) * block`` entries along ``axis``.
    """
    el = check_mx_element(elem)
    block = check_mx_block(block)
    s, c = mx_pad(scales, codes, axis, block)
    if (s < 0).any() or (s > 0xFF).any():
        raise ValueError("Scales must be E8M0 codes 0..255")
    if (c < 0).any() or (c >> el.width).any():
        raise ValueError(f"Element codes of {el.name} must be 0..{(1 << el.width) - 1}")
    return c | (np.repeat(s, block, axis=axis) << el.width)


def mx_quantize_words(values: npt.ArrayLike, elem: str | FloatFormat, axis: int,
                      scale_rule: str = "floor") -> np.ndarray:
    """Float values → MX operand words: padded with zeros along ``axis`` to whole blocks of
    32, quantized per block along it (:func:`mx_quantize`, ``scale_rule``, round to nearest
    even) and packed (:func:`mx_pack_words`)."""
    v = np.asarray(values, dtype=np.float64)
    pad = [(0, 0)] * v.ndim
    pad[axis] = (0, -v.shape[axis] % 32)
    scales, codes = mx_quantize(np.pad(v, pad), elem, axis=axis, scale_rule=scale_rule)
    return mx_pack_words(scales, codes, elem, axis)


def mx_unpack_words(words: npt.ArrayLike, elem: str | FloatFormat, axis: int,
                    block: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Array operand words → ``(scales, codes)`` (:func:`mx_pack_words`'s inverse).

    The scale of a block is the one its **last** word carries (the word an ``mx:`` PE
    closes the block with); a host sends the same scale with every word of a block. The
    length along ``axis`` must be a whole number of blocks.
    """
    el = check_mx_element(elem)
    block = check_mx_block(block)
    w = np.moveaxis(np.asarray(words).astype(np.int64), axis, -1)
    if w.shape[-1] % block:
        raise ValueError(f"MX operands come in whole blocks of {block} along K, not "
                         f"{w.shape[-1]} elements (pad them: mx_pack_words)")
    codes = w & ((1 << el.width) - 1)
    scales = (w[..., block - 1::block] >> el.width) & 0xFF
    return np.moveaxis(scales, -1, axis), np.moveaxis(codes, -1, axis)
