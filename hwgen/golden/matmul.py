"""Golden model of the systolic array (:class:`hwgen.arrays.systolic.SystolicArray`): GEMM with
the hardware's processing-element (PE) arithmetic, accumulation order and tiling.

PE specification strings
------------------------
A PE is named by a short string (:func:`parse_pe`); ``F``, ``ACC`` and ``OUT`` are any float
format name of :func:`hwgen.formats.parse_format` (``e4m3``, ``bf16``, ``fp16``, ``e5m2_fn``...):

=====================  ==========================================================================
``intN`` / ``uintN``   N-bit × N-bit integers (N = 2..32, uint 1..32), accumulated exactly in a
                       (2N+16)-bit register that wraps modulo 2**(2N+16) (``int8`` → int32).
``F:ACC:rounded``      product rounded into ACC, then the sum rounded into ACC (Hill et al.: the
                       running sum lives in the narrow format).
``F:ACC:fused``        one fused multiply-add per step, rounded into ACC.
``F:exact[:OUT]``      Kulisch fixed-point accumulator, exact for up to ``max_terms`` (4096)
                       products, rounded once into OUT (default ``fp32``) on read-out.
``bsWxA``              bit-serial: signed W-bit weights processed one bit-plane per clock, MSB
                       first, × signed A-bit activations (W, A = 2..16, e.g. ``bs8x8``), with a
                       run-time precision ``bits`` (1..W) per tile: the GEMM with each weight
                       truncated to its top ``bits`` bits, scale kept
                       (:func:`hwgen.golden.bitserial.truncate`), in a (W+A+16)-bit wrapping
                       accumulator. ``bits = W`` gives the exact integer GEMM.
``dpH``                dual-precision (H even, 4..16; e.g. ``dp8``): each activation and weight
                       is an H-bit word, with a run-time ``low`` flag per tile: high mode,
                       one signed H×H product; low mode, the word holds two signed (H/2)-bit
                       values (element 0 in the low half) and the PE adds both products
                       (:func:`hwgen.golden.dualprec.dualprec_contrib`, independent operands):
                       two MACs per PE per clock. (2H+16)-bit wrapping accumulator.
                       ``dpH:split`` computes the same with four (H/2+1)-bit sub-multipliers
                       instead of one packed (3H/2+2)-bit multiplier per PE (fewer LUTs when
                       multipliers are built from logic; see ``DualPrecisionMac``).
``ternary[A]``         ternary weights (2-bit codes of :mod:`hwgen.golden.ternary`) × A-bit
                       signed activations (default 8), (A+18)-bit accumulator.
=====================  ==========================================================================

Float PEs round to nearest even.

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
also the sequential FloatMac result over the unpadded K (:func:`hwgen.golden.mac.mac`). For
integer and exact PEs the result is the exact product (modulo the accumulator width).

Bit-serial precision
--------------------
Bit-serial PEs take ``bits`` (planes accumulated, MSB first) per tile of the tiling, in tile
order (:attr:`hwgen.golden.tiling.Tiling.tiles`); the field is clamped as the hardware does
(0 reads as 1, values above W as W; :func:`hwgen.golden.bitserial.clamp_bits`). Each weight
tile is truncated with its own ``bits`` and the (exact, wrapping) integer GEMM is taken: a
weight-stationary tile is one R×C block of B; an output-stationary tile is one R×C block of
the output, computed with its whole K×C column block of B truncated (so one weight may be
truncated differently for different output tiles). Both dataflows.

Dual-precision PEs take ``low`` (0 high, 1 low mode) per tile the same way
(:func:`tile_modes`); ``A`` and ``B`` hold H-bit words (bit patterns or signed integers), and
:func:`dualprec_pack` packs two (H/2)-bit matrices for low mode. Both dataflows.

numpy only.
"""

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..formats import FloatFormat, IntFormat, parse_format
from .intmac import wrap_int
from .mac import exact_acc_bits, mac
from .ops import add, fma, mul

__all__ = ["PESpec", "parse_pe", "matmul", "mac_step", "PE_GRAMMAR", "DATAFLOWS",
           "EXACT_MAX_TERMS", "tile_bits", "tile_modes", "dualprec_pack"]

DATAFLOWS = ("ws", "os")
EXACT_MAX_TERMS = 4096

PE_GRAMMAR = ("intN | uintN | F:ACC:rounded | F:ACC:fused | F:exact[:OUT] | bsWxA | "
              "dpH[:split] | "
              "ternary[A] (F, ACC, OUT float format names such as e4m3, fp16, bf16, fp32)")


@dataclass(frozen=True)
class PESpec:
    """What one processing element computes (parsed from a spec string by :func:`parse_pe`).

    Attributes
    ----------
    spec : str
        Canonical spec string (``int8``, ``e4m3:fp16:rounded``, ``e4m3:exact:fp32``).
    kind : str
        ``"int"``, ``"float"``, ``"bitserial"``, ``"dualprec"`` or ``"ternary"``.
    a_fmt, w_fmt : IntFormat or FloatFormat
        Activation (A) and weight (B) operand formats; a ternary weight is a 2-bit code
        (``w_fmt`` is ``uint2``); dual-precision operands are H-bit words (``uintH``).
    accumulate : str
        ``"wrap"`` (integer kinds), ``"rounded"``, ``"fused"`` or ``"exact"``.
    acc_fmt : IntFormat or FloatFormat or None
        Format of the running sum (``None`` for exact: a Kulisch integer of ``acc_bits``).
    out_fmt : IntFormat or FloatFormat
        Format of the results.
    acc_bits : int
        Width of the running sum (integer register, float encoding or Kulisch register).
    max_terms : int or None
        Exact PEs: products the Kulisch register holds without wrapping.
    """
    spec: str
    kind: str
    a_fmt: object
    w_fmt: object
    accumulate: str
    acc_fmt: Optional[object]
    out_fmt: object
    acc_bits: int
    max_terms: Optional[int] = None

    @property
    def is_float(self):
        return self.kind == "float"

    @property
    def exact_lsb(self):
        """Exact PEs: the Kulisch register counts units of ``2**exact_lsb``."""
        if self.accumulate != "exact":
            return None
        return exact_acc_bits(self.a_fmt, self.max_terms, self.w_fmt)[1]

    def __str__(self):
        return self.spec


def _bad(spec, why=""):
    return ValueError(f"Invalid PE spec {spec!r}{': ' + why if why else ''}; expected "
                      f"{PE_GRAMMAR}")


def _float(spec, name):
    try:
        f = parse_format(name)
    except (TypeError, ValueError):
        raise _bad(spec, f"unknown format {name!r}") from None
    if not isinstance(f, FloatFormat):
        raise _bad(spec, f"{name!r} is not a float format")
    return f


def parse_pe(spec):
    """Parse a PE spec string (see the module docstring) into a :class:`PESpec`.

    A :class:`PESpec` is returned as is.

    Raises
    ------
    TypeError
        ``spec`` is not a string.
    ValueError
        The string does not follow the grammar; the message names it and gives the grammar.
    """
    if isinstance(spec, PESpec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"PE spec must be a string, not {spec!r}")
    s = spec.strip().lower()
    m = re.fullmatch(r"(u?)int(\d+)", s)
    if m:
        signed, n = not m.group(1), int(m.group(2))
        if not (2 if signed else 1) <= n <= 32:
            raise _bad(spec, f"integer width must be {2 if signed else 1}..32")
        fmt = IntFormat(n, signed)
        acc = IntFormat(2 * n + 16, signed)
        return PESpec(fmt.name, "int", fmt, fmt, "wrap", acc, acc, acc.bits)
    m = re.fullmatch(r"bs(\d+)x(\d+)", s)
    if m:
        wb, ab = int(m.group(1)), int(m.group(2))
        if not (2 <= wb <= 16 and 2 <= ab <= 16):
            raise _bad(spec, "bit-serial widths must be 2..16")
        acc = IntFormat(wb + ab + 16)
        return PESpec(f"bs{wb}x{ab}", "bitserial", IntFormat(ab), IntFormat(wb), "wrap", acc,
                      acc, acc.bits)
    m = re.fullmatch(r"dp(\d+)(:packed|:split)?", s)
    if m:
        h = int(m.group(1))
        if not (4 <= h <= 16 and h % 2 == 0):
            raise _bad(spec, "dual-precision width must be even, 4..16")
        word = IntFormat(h, False)
        acc = IntFormat(2 * h + 16)
        tag = ":split" if m.group(2) == ":split" else ""
        return PESpec(f"dp{h}{tag}", "dualprec", word, word, "wrap", acc, acc, acc.bits)
    m = re.fullmatch(r"ternary(\d*)", s)
    if m:
        ab = int(m.group(1) or 8)
        if not 2 <= ab <= 32:
            raise _bad(spec, "ternary activation width must be 2..32")
        acc = IntFormat(ab + 18)
        return PESpec(f"ternary{ab}" if m.group(1) else "ternary", "ternary", IntFormat(ab),
                      IntFormat(2, False), "wrap", acc, acc, acc.bits)
    parts = s.split(":")
    if len(parts) == 3 and parts[2] in ("rounded", "fused"):
        f, acc = _float(spec, parts[0]), _float(spec, parts[1])
        return PESpec(f"{f.name}:{acc.name}:{parts[2]}", "float", f, f, parts[2], acc, acc,
                      acc.width)
    if len(parts) in (2, 3) and parts[1] == "exact":
        f = _float(spec, parts[0])
        out = _float(spec, parts[2]) if len(parts) == 3 else parse_format("fp32")
        width, _ = exact_acc_bits(f, EXACT_MAX_TERMS)
        return PESpec(f"{f.name}:exact:{out.name}", "float", f, f, "exact", None, out, width,
                      EXACT_MAX_TERMS)
    raise _bad(spec)


def _check(A, B, pe, dataflow, rows, cols):
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


def _int_values(pe, B):
    if pe.kind == "ternary":
        from .ternary import ternary_decode
        return ternary_decode(np.asarray(B) & 3)
    return B


def bits_width(pe):
    """Width of the run-time ``bits`` field of a bit-serial PE (``W.bit_length()``)."""
    return parse_pe(pe).w_fmt.bits.bit_length()


def tile_bits(pe, tiling, bits=None):
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
        bits = pe.w_fmt.bits
    vals = [bits] * n if np.ndim(bits) == 0 else list(np.asarray(bits).ravel())
    if len(vals) != n:
        raise ValueError(f"Bits must be one integer or one per tile ({n}), not {len(vals)}")
    hi = (1 << bits_width(pe)) - 1
    for v in vals:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= v <= hi:
            raise ValueError(f"Bits must be integers in 0..{hi} for {pe.spec}, not {v!r}")
    return [int(v) for v in vals]


def _tile_slices(t, tile):
    """``(ms, ks, ns)``: the rows of A, the K range and the columns of B that ``tile`` of
    tiling ``t`` computes with (padded matrices)."""
    R, C = t.rows, t.cols
    if t.dataflow == "ws":
        return (np.s_[:], np.s_[tile.inner * R:(tile.inner + 1) * R],
                np.s_[tile.outer * C:(tile.outer + 1) * C])
    return (np.s_[tile.outer * R:(tile.outer + 1) * R], np.s_[:],
            np.s_[tile.inner * C:(tile.inner + 1) * C])


def _bitserial_gemm(pe, t, Ap, Bp, bits):
    """Sum of the tiles' products, each tile's weights truncated to its ``bits`` top bits
    (a weight-stationary tile is one weight block; an output-stationary tile, an output
    block, uses a whole column block of the weights)."""
    from .bitserial import truncate
    out = np.zeros((t.m_padded, t.n_padded), dtype=np.int64)
    for tile, b in zip(t.tiles, tile_bits(pe, t, bits)):
        ms, ks, ns = _tile_slices(t, tile)
        out[ms, ns] += Ap[ms, ks] @ truncate(Bp[ks, ns], pe.w_fmt.bits, b)
    return out


def tile_modes(pe, tiling, low=None):
    """The ``low`` flag of every tile of ``tiling`` (a list of 0/1, tile order) for a
    dual-precision PE: None (all high), one 0/1 for every tile, or one per tile."""
    pe = parse_pe(pe)
    if pe.kind != "dualprec":
        raise ValueError(f"Run-time low mode applies to dual-precision PEs (dpH) only, not "
                         f"{pe.spec!r}")
    n = len(tiling.tiles)
    vals = [low or 0] * n if np.ndim(low) == 0 else list(np.asarray(low).ravel())
    if len(vals) != n:
        raise ValueError(f"Low flags must be one or one per tile ({n}), not {len(vals)}")
    for v in vals:
        if v not in (0, 1, False, True):
            raise ValueError(f"Low flags must be 0 or 1, not {v!r}")
    return [int(v) for v in vals]


def dualprec_pack(A, B, pe):
    """Low-mode operands for a dual-precision PE: the M×2K and 2K×N matrices of signed
    (H/2)-bit values ``A``, ``B`` (2K even: pad with a zero column/row) packed into the M×K and
    K×N word matrices whose low-mode GEMM is ``A @ B``: element 2k in the low half of word k."""
    from .dualprec import pack_halves
    pe = parse_pe(pe)
    if pe.kind != "dualprec":
        raise ValueError(f"Packing applies to dual-precision PEs (dpH) only, not {pe.spec!r}")
    A, B = np.asarray(A, dtype=np.int64), np.asarray(B, dtype=np.int64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0] or A.shape[1] % 2:
        raise ValueError(f"Matrices must be M×2K and 2K×N, not {A.shape} and {B.shape}")
    h = pe.w_fmt.bits
    return (pack_halves(A[:, 0::2], A[:, 1::2], h).astype(np.int64),
            pack_halves(B[0::2, :], B[1::2, :], h).astype(np.int64))


def _dualprec_gemm(pe, t, Ap, Bp, low):
    """Sum of the dual-precision contributions, tile by tile with each tile's mode."""
    from .dualprec import dualprec_contrib
    h = pe.w_fmt.bits
    out = np.zeros((t.m_padded, t.n_padded), dtype=np.int64)
    for tile, lo in zip(t.tiles, tile_modes(pe, t, low)):
        ms, ks, ns = _tile_slices(t, tile)
        a, w = Ap[ms, ks], Bp[ks, ns]
        out[ms, ns] += dualprec_contrib(h, lo, 0, w[None, :, :], 0, a[:, :, None]).sum(axis=1)
    return out


def matmul(A, B, pe, dataflow="ws", rows=4, cols=4, bits=None, low=None):
    """``A @ B`` exactly as a ``rows`` × ``cols`` :class:`SystolicArray` with PE ``pe`` and
    ``dataflow`` computes it through the host tiler (:mod:`hwgen.golden.tiling`).

    See the module docstring for the accumulation order. Returns an M×N array of integers
    (integer PEs) or of result-format encodings (float PEs). ``bits`` (bit-serial PEs only):
    planes per tile, see :func:`tile_bits`. ``low`` (dual-precision PEs
    only): mode per tile, see :func:`tile_modes`.
    """
    from .tiling import Tiling
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
        return wrap_int(a @ b, pe.acc_bits, pe.acc_fmt.signed)
    kp = Tiling(M, K, N, rows, cols, dataflow).k_padded
    a = np.zeros((M, kp), dtype=np.uint64)
    b = np.zeros((kp, N), dtype=np.uint64)
    a[:, :K] = A.astype(np.uint64)
    b[:K, :] = B.astype(np.uint64)
    a3 = np.broadcast_to(a[:, None, :], (M, N, kp))
    b3 = np.broadcast_to(b.T[None, :, :], (M, N, kp))
    if pe.accumulate == "exact":
        # Integer addition modulo 2**acc_bits is associative: the column order of the
        # weight-stationary array and the per-PE order of the output-stationary one give the
        # one exact sum, rounded once.
        bits, _ = mac(a3, b3, mul_fmt=pe.a_fmt, accumulate="exact", out_fmt=pe.out_fmt,
                      max_terms=pe.max_terms)
        return bits
    acc = np.zeros((M, N), dtype=np.uint64)          # +0
    for k in range(kp):
        acc = mac_step(pe, acc, a3[..., k], b3[..., k])
    return acc


def mac_step(pe, acc, a, b):
    """One PE step of a rounded or fused float PE: ``acc ⊕ (a ⊗ b)`` (encodings)."""
    pe = parse_pe(pe)
    if pe.accumulate == "rounded":
        p, _ = mul(pe.a_fmt, a, b, "rne", out_fmt=pe.acc_fmt, b_fmt=pe.w_fmt)
        s, _ = add(pe.acc_fmt, acc, p, "rne")
        return s
    if pe.accumulate == "fused":
        s, _ = fma(pe.a_fmt, a, b, acc, "rne", b_fmt=pe.w_fmt, c_fmt=pe.acc_fmt,
                   out_fmt=pe.acc_fmt)
        return s
    raise ValueError(f"PE {pe.spec!r} has no float step (accumulate={pe.accumulate!r})")
