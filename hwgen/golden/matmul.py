"""Golden model of the systolic array (:class:`hwgen.arrays.systolic.SystolicArray`): GEMM with
the hardware's processing-element (PE) arithmetic, accumulation order and tiling.

PE specification strings are parsed by :func:`hwgen.pespec.parse_pe` (the grammar is
documented there). Float PEs round to nearest even.

Matrices
--------
``A`` (M×K) holds activations, ``B`` (K×N) weights: plain integers for integer PEs (ternary:
weight codes), encodings (unsigned integers) for float PEs. :func:`matmul` returns M×N integers
(int64; uint64 for a 64-bit unsigned accumulator) or encodings of the result format.

Accumulation order (what makes a rounded PE bit-exact)
------------------------------------------------------
Every output ``C[m, n]`` is accumulated in natural order ``k = 0, 1, ..., K'-1`` starting from
``+0``, whatever the dataflow and array size, where ``K'`` is ``K`` padded with zeros to the
tiling's K (:class:`hwgen.golden.tiling.Tiling`: a multiple of ``rows`` for weight-stationary,
``K`` itself for output-stationary):

* output-stationary: PE (i, j) adds its K products one per step, in k order;
* weight-stationary: down column j, PE i adds product k = kt·rows + i to the partial sum coming
  from PE i-1; the partial sums of K-tile kt enter the top of the array as the ``psum`` of K-tile
  kt+1 (fed back by the host, bit for bit, in the accumulator format), so the chain continues
  in k order across tiles.

The padding terms are ``+0 × +0``; adding them to a round-to-nearest-even sum never changes it
(the running sum is never ``-0``: it starts at ``+0`` and ``+0 + -0 = +0``), so the result is
also the sequential FloatMac result over the unpadded K (:func:`hwgen.golden.fmac.mac`). For
integer and exact PEs the result is the exact product (modulo the accumulator width).

MX PEs
------
``mx:E[:EB]`` PEs (output-stationary) take ``A`` and ``B`` as operand words
(:func:`hwgen.golden.mx.mx_pack_words`: element code, the block's E8M0 code above it; K a whole
number of 32-element blocks), as ``(scales, codes)`` pairs as :func:`hwgen.golden.mx.mx_matmul`
takes them (padded to whole blocks here), or as float matrices quantized per block
(:func:`mx_operands`). Each output is :func:`~hwgen.golden.mx.mx_dot` of its
row and column, rounding to nearest even: FP32 encodings.

Bit-serial precision
--------------------
Bit-serial PEs take ``bits`` (planes accumulated, MSB first) per tile of the tiling, in tile
order (:attr:`hwgen.golden.tiling.Tiling.tiles`); the field is clamped as the hardware does
(0 reads as 1, values above W as W; :func:`hwgen.golden.bsmac.clamp_bits`). Each weight
tile is truncated with its own ``bits`` and the (exact, wrapping) integer GEMM is taken: a
weight-stationary tile is one R×C block of B; an output-stationary tile is one R×C block of
the output, computed with its whole K×C column block of B truncated (so one weight may be
truncated differently for different output tiles). Both dataflows.

Dual-precision PEs take ``low`` (0 high, 1 low mode) per tile the same way
(:func:`tile_modes`); ``A`` and ``B`` hold H-bit words (bit patterns or signed integers), and
:func:`dualprec_pack` packs two (H/2)-bit matrices for low mode. Both dataflows.

numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from ..formats import FloatFormat, IntFormat
from ..pespec import DATAFLOWS, PESpec, bits_width, parse_pe
from .imac import wrap_int
from .fmac import mac
from .ops import add, fma, mul

if TYPE_CHECKING:
    from .tiling import Tile, Tiling

__all__ = ["matmul", "mac_step", "mx_operands", "tile_bits", "tile_modes", "dualprec_pack",
           "random_operands"]


def _check(A: npt.ArrayLike, B: npt.ArrayLike, pe: PESpec | str, dataflow: str, rows: int,
           cols: int) -> tuple[np.ndarray, np.ndarray, PESpec]:
    pe = parse_pe(pe)
    if dataflow not in DATAFLOWS:
        raise ValueError(f"Dataflow must be one of {', '.join(DATAFLOWS)}, not {dataflow!r}")
    for what, v in (("Rows", rows), ("Columns", cols)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{what} must be a positive integer, not {v!r}")
    A = np.asarray(A)
    B = np.asarray(B)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"Matrices must be M×K and K×N, not {A.shape} and {B.shape}")
    return A, B, pe


def _int_values(pe: PESpec, B: np.ndarray) -> np.ndarray:
    if pe.kind == "ternary":
        from .tmac import ternary_decode
        return ternary_decode(np.asarray(B) & 3)
    return B


def tile_bits(pe: PESpec | str, tiling: Tiling, bits: npt.ArrayLike | None = None) -> list[int]:
    """The ``bits`` field of every tile of ``tiling`` (a list of ints, tile order) for a
    bit-serial PE: ``bits`` is None (full precision W), one int for every tile, or one int
    per tile. Each must fit the field (0..2**bits_width-1).

    Raises
    ------
    ValueError
        ``pe`` is not bit-serial, the count is wrong, or a value does not fit the field.
    """
    pe = parse_pe(pe)
    if pe.kind != "bitserial":
        raise ValueError(f"Run-time bits apply to bit-serial PEs (bsWxA) only, not {pe.spec!r}")
    n = len(tiling.tiles)
    if bits is None:
        bits = cast(IntFormat, pe.w_fmt).bits
    vals: list[Any] = [bits] * n if np.ndim(bits) == 0 else list(np.asarray(bits).ravel())
    if len(vals) != n:
        raise ValueError(f"Bits must be one integer or one per tile ({n}), not {len(vals)}")
    hi = (1 << bits_width(pe)) - 1
    for v in vals:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= v <= hi:
            raise ValueError(f"Bits must be integers in 0..{hi} for {pe.spec}, not {v!r}")
    return [int(v) for v in vals]


def _tile_slices(t: Tiling, tile: Tile) -> tuple[slice, slice, slice]:
    """``(ms, ks, ns)``: the rows of A, the K range and the columns of B that ``tile`` of
    tiling ``t`` computes with (padded matrices)."""
    R, C = t.rows, t.cols
    if t.dataflow == "ws":
        return (np.s_[:], np.s_[tile.inner * R:(tile.inner + 1) * R],
                np.s_[tile.outer * C:(tile.outer + 1) * C])
    return (np.s_[tile.outer * R:(tile.outer + 1) * R], np.s_[:],
            np.s_[tile.inner * C:(tile.inner + 1) * C])


def _bitserial_gemm(pe: PESpec, t: Tiling, Ap: np.ndarray, Bp: np.ndarray,
                    bits: npt.ArrayLike | None) -> np.ndarray:
    """Sum of the tiles' products, each tile's weights truncated to its ``bits`` top bits
    (a weight-stationary tile is one weight block; an output-stationary tile, an output
    block, uses a whole column block of the weights)."""
    from .bsmac import truncate
    out = np.zeros((t.m_padded, t.n_padded), dtype=np.int64)
    for tile, b in zip(t.tiles, tile_bits(pe, t, bits)):
        ms, ks, ns = _tile_slices(t, tile)
        out[ms, ns] += Ap[ms, ks] @ truncate(Bp[ks, ns], cast(IntFormat, pe.w_fmt).bits, b)
    return out


def tile_modes(pe: PESpec | str, tiling: Tiling, low: npt.ArrayLike | None = None) -> list[int]:
    """The ``low`` flag of every tile of ``tiling`` (a list of 0/1, tile order) for a
    dual-precision PE: None (all high), one 0/1 for every tile, or one per tile."""
    pe = parse_pe(pe)
    if pe.kind != "dualprec":
        raise ValueError(f"Run-time low mode applies to dual-precision PEs (dpH) only, not "
                         f"{pe.spec!r}")
    n = len(tiling.tiles)
    # (numpy's stub of np.ndim leaves out None, which it takes: np.ndim(None) == 0)
    vals: list[Any] = [low or 0] * n if np.ndim(low) == 0 else list(  # type: ignore[arg-type]
        np.asarray(low).ravel())
    if len(vals) != n:
        raise ValueError(f"Low flags must be one or one per tile ({n}), not {len(vals)}")
    for v in vals:
        if v not in (0, 1, False, True):
            raise ValueError(f"Low flags must be 0 or 1, not {v!r}")
    return [int(v) for v in vals]


def dualprec_pack(A: npt.ArrayLike, B: npt.ArrayLike,
                  pe: PESpec | str) -> tuple[np.ndarray, np.ndarray]:
    """Low-mode operands for a dual-precision PE: the M×2K and 2K×N matrices of signed
    (H/2)-bit values ``A``, ``B`` (2K even: pad with a zero column/row) packed into the M×K and
    K×N word matrices whose low-mode GEMM is ``A @ B``: element 2k in the low half of word k."""
    from .dpmac import pack_halves
    pe = parse_pe(pe)
    if pe.kind != "dualprec":
        raise ValueError(f"Packing applies to dual-precision PEs (dpH) only, not {pe.spec!r}")
    A, B = np.asarray(A, dtype=np.int64), np.asarray(B, dtype=np.int64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0] or A.shape[1] % 2:
        raise ValueError(f"Matrices must be M×2K and 2K×N, not {A.shape} and {B.shape}")
    h = cast(IntFormat, pe.w_fmt).bits
    return (pack_halves(A[:, 0::2], A[:, 1::2], h).astype(np.int64),
            pack_halves(B[0::2, :], B[1::2, :], h).astype(np.int64))


def _dualprec_gemm(pe: PESpec, t: Tiling, Ap: np.ndarray, Bp: np.ndarray,
                   low: npt.ArrayLike | None) -> np.ndarray:
    """Sum of the dual-precision contributions, tile by tile with each tile's mode."""
    from .dpmac import dualprec_contrib
    h = cast(IntFormat, pe.w_fmt).bits
    out = np.zeros((t.m_padded, t.n_padded), dtype=np.int64)
    for tile, lo in zip(t.tiles, tile_modes(pe, t, low)):
        ms, ks, ns = _tile_slices(t, tile)
        a, w = Ap[ms, ks], Bp[ks, ns]
        out[ms, ns] += dualprec_contrib(h, lo, 0, w[None, :, :], 0, a[:, :, None]).sum(axis=1)
    return out


def matmul(A: npt.ArrayLike, B: npt.ArrayLike, pe: PESpec | str, dataflow: str = "ws",
           rows: int = 4, cols: int = 4, bits: npt.ArrayLike | None = None,
           low: npt.ArrayLike | None = None) -> np.ndarray:
    """``A @ B`` exactly as a ``rows`` × ``cols`` :class:`SystolicArray` with PE ``pe`` and
    ``dataflow`` computes it through the host tiler (:mod:`hwgen.golden.tiling`).

    See the module docstring for the accumulation order. Returns an M×N array of integers
    (integer PEs) or of result-format encodings (float PEs). ``bits`` (bit-serial PEs only):
    planes per tile, see :func:`tile_bits`. ``low`` (dual-precision PEs
    only): mode per tile, see :func:`tile_modes`.
    """
    from .tiling import Tiling
    pe = parse_pe(pe)
    if pe.kind == "mx":
        return _mx_matmul(A, B, pe, dataflow, rows, cols, bits, low)
    A, B, pe = _check(A, B, pe, dataflow, rows, cols)
    M, K = A.shape
    N = B.shape[1]
    if pe.kind == "bitserial":
        t = Tiling(M, K, N, rows, cols, dataflow)
        Ap, Bp = t.pad(A.astype(np.int64), B.astype(np.int64))
        return t.crop(wrap_int(_bitserial_gemm(pe, t, Ap, Bp, bits), pe.acc_bits, True))
    if bits is not None:
        raise ValueError(f"Run-time bits apply to bit-serial PEs (bsWxA) only, not {pe.spec!r}")
    if pe.kind == "dualprec":
        t = Tiling(M, K, N, rows, cols, dataflow)
        Ap, Bp = t.pad(A.astype(np.int64), B.astype(np.int64))
        return t.crop(wrap_int(_dualprec_gemm(pe, t, Ap, Bp, low), pe.acc_bits, True))
    if low is not None:
        raise ValueError(f"Run-time low mode applies to dual-precision PEs (dpH) only, not "
                         f"{pe.spec!r}")
    if pe.kind != "float":
        a = A.astype(np.int64)
        b = _int_values(pe, B).astype(np.int64)
        # int64 matmul wraps modulo 2**64, and the accumulator width divides 64 bits' modulus.
        return wrap_int(a @ b, pe.acc_bits, cast(IntFormat, pe.acc_fmt).signed)
    kp = Tiling(M, K, N, rows, cols, dataflow).k_padded
    a = np.zeros((M, kp), dtype=np.uint64)
    b = np.zeros((kp, N), dtype=np.uint64)
    a[:, :K] = A.astype(np.uint64)
    b[:K, :] = B.astype(np.uint64)
    a3 = np.broadcast_to(a[:, None, :], (M, N, kp))
    b3 = np.broadcast_to(b.T[None, :, :], (M, N, kp))
    if pe.accumulate == "window":
        # The saturating sum depends on the order: both dataflows add in natural k order
        # (WS: down each column, K-tile after K-tile through psum; OS: in each PE).
        from .window import window_mac
        return window_mac(a3, b3, pe)[0]
    if pe.accumulate == "exact":
        # Integer addition modulo 2**acc_bits is associative: the column order of the
        # weight-stationary array and the per-PE order of the output-stationary one give the
        # one exact sum, rounded once.
        bits, _ = mac(a3, b3, mul_fmt=cast(FloatFormat, pe.a_fmt), accumulate="exact",
                      out_fmt=cast(FloatFormat, pe.out_fmt), max_terms=pe.max_terms)
        return bits
    acc = np.zeros((M, N), dtype=np.uint64)          # +0
    for k in range(kp):
        acc = mac_step(pe, acc, a3[..., k], b3[..., k])
    return acc


def mx_operands(A: Any, B: Any, pe: PESpec | str, *,
                scale_rule: str = "floor") -> tuple[np.ndarray, np.ndarray]:
    """The operand words (:func:`hwgen.golden.mx.mx_pack_words`) of an ``mx:`` PE array, from
    ``A`` (M×K) and ``B`` (K×N) given as

    * float matrices (any float dtype): padded with zeros to whole blocks along K and
      quantized per block along K (:func:`hwgen.golden.mx.mx_quantize`, ``scale_rule``,
      round to nearest even; ``A`` along its rows, ``B`` along its columns);
    * ``(scales, codes)`` pairs (scales (M, ceil(K/32)) and (ceil(K/32), N)), padded to whole
      blocks with zero elements;
    * integer matrices: operand words already (K a whole number of blocks).
    """
    from .mx import mx_pack_words, mx_quantize_words
    pe = parse_pe(pe)
    out = []
    for name, x, axis, fmt in (("A", A, 1, pe.a_fmt), ("B", B, 0, pe.w_fmt)):
        if isinstance(x, (tuple, list)) and len(x) == 2 and np.ndim(x[0]) == 2:
            out.append(mx_pack_words(x[0], x[1], fmt.name, axis))
            continue
        w = np.asarray(x)
        if w.ndim == 2 and w.dtype.kind == "f":
            out.append(mx_quantize_words(w, fmt.name, axis, scale_rule))
            continue
        if w.ndim != 2 or w.dtype.kind not in "iu":
            raise ValueError(f"MX operand {name} must be a 2-D float matrix, a (scales, codes) "
                             f"pair or a matrix of operand words, not {w.dtype} of shape "
                             f"{w.shape}")
        out.append(w.astype(np.int64))
    return out[0], out[1]


def _mx_matmul(A: Any, B: Any, pe: PESpec, dataflow: str, rows: int, cols: int,
               bits: Any, low: Any) -> np.ndarray:
    from .mx import mx_matmul, mx_unpack_words
    if dataflow != "os":
        raise ValueError(f"PE {pe.spec!r} runs in output-stationary arrays only, not "
                         f"{dataflow!r}")
    if bits is not None or low is not None:
        raise ValueError(f"Run-time bits and low mode do not apply to {pe.spec!r}")
    a, b = mx_operands(A, B, pe)
    a, b, pe = _check(a, b, pe, dataflow, rows, cols)
    sa, ca = mx_unpack_words(a, pe.a_fmt.name, 1)
    sb, cb = mx_unpack_words(b, pe.w_fmt.name, 0)
    y, _ = mx_matmul((sa, ca), (sb, cb), pe.a_fmt.name, pe.w_fmt.name)
    return y


def mac_step(pe: PESpec | str, acc: npt.ArrayLike, a: npt.ArrayLike,
             b: npt.ArrayLike) -> np.ndarray:
    """One PE step of a rounded or fused float PE: ``acc ⊕ (a ⊗ b)`` (encodings)."""
    pe = parse_pe(pe)
    if pe.accumulate == "rounded":
        p, _ = mul(cast(FloatFormat, pe.a_fmt), a, b, "rne",
                   out_fmt=cast(FloatFormat, pe.acc_fmt), b_fmt=cast(FloatFormat, pe.w_fmt))
        s, _ = add(cast(FloatFormat, pe.acc_fmt), acc, p, "rne")
        return s
    if pe.accumulate == "fused":
        s, _ = fma(cast(FloatFormat, pe.a_fmt), a, b, acc, "rne",
                   b_fmt=cast(FloatFormat, pe.w_fmt), c_fmt=cast(FloatFormat, pe.acc_fmt),
                   out_fmt=cast(FloatFormat, pe.acc_fmt))
        return s
    raise ValueError(f"PE {pe.spec!r} has no float step (accumulate={pe.accumulate!r})")


def random_operands(rng: np.random.Generator, pe: PESpec, M: int, K: int,
                    N: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ``A`` (M x K) and ``B`` (K x N) for PE ``pe``: integers over the full range
    (ternary weights: random codes) or float encodings of N(0, 1) values. MX PEs: operand
    words of N(0, 1) values times a random power of two per row of A and column of B
    (2**-20 .. 2**20), quantized per block (:func:`hwgen.golden.mx.mx_quantize`), K
    rounded up to whole blocks of 32."""
    if pe.kind == "mx":
        from .mx import mx_quantize_words
        kp = -(-K // 32) * 32
        a = rng.normal(0, 1, (M, kp)) * np.exp2(rng.integers(-20, 21, (M, 1)))
        b = rng.normal(0, 1, (kp, N)) * np.exp2(rng.integers(-20, 21, (1, N)))
        return (mx_quantize_words(a, pe.a_fmt.name, 1),
                mx_quantize_words(b, pe.w_fmt.name, 0))
    if pe.kind == "float":
        from .rounding import encode
        return (encode(cast(FloatFormat, pe.a_fmt), rng.normal(0, 1, (M, K))),
                encode(cast(FloatFormat, pe.w_fmt), rng.normal(0, 1, (K, N))))
    b_lo, b_hi = (0, 4) if pe.kind == "ternary" else \
        (cast(IntFormat, pe.w_fmt).min_value, cast(IntFormat, pe.w_fmt).max_value + 1)
    return (rng.integers(cast(IntFormat, pe.a_fmt).min_value,
                         cast(IntFormat, pe.a_fmt).max_value + 1, (M, K)),
            rng.integers(b_lo, b_hi, (K, N)))
