"""Processing-element (PE) specifications: what one PE of a systolic array computes.

A specification, not a golden model: :mod:`hwgen.golden.matmul` (what the answer is) and
:mod:`hwgen.arrays` (the hardware) both read it, so it sits below both, next to
:mod:`hwgen.formats`.

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
``F:window[L..M][:OUT]`` windowed fixed-point accumulator (FloPoCo's FPLargeAcc idea, for
                       formats whose exact register would be hundreds of bits wide): a signed
                       integer counting units of ``2**L`` that holds ``-2**M .. 2**M - 2**L``
                       (``M - L + 1`` bits; default ``L..M`` = ``-32..16``, any window of
                       4..60 bits). Each product's magnitude is truncated to a multiple of
                       ``2**L`` (its bits below ``L`` are dropped, toward zero) and capped at
                       ``2**M - 2**L``; the signed sum saturates at each step (in natural k
                       order) to the register's range. NaN/Inf as for exact PEs; rounded once
                       into OUT (default ``fp32``) on read-out (:mod:`hwgen.golden.window`).
                       Canonical form ``bf16:window-32..16:fp32``.
``bsWxA``              bit-serial: signed W-bit weights processed one bit-plane per clock, MSB
                       first, × signed A-bit activations (W, A = 2..16, e.g. ``bs8x8``), with a
                       run-time precision ``bits`` (1..W) per tile: the GEMM with each weight
                       truncated to its top ``bits`` bits, scale kept
                       (:func:`hwgen.golden.bsmac.truncate`), in a (W+A+16)-bit wrapping
                       accumulator. ``bits = W`` gives the exact integer GEMM.
``dpH``                dual-precision (H even, 4..16; e.g. ``dp8``): each activation and weight
                       is an H-bit word, with a run-time ``low`` flag per tile: high mode,
                       one signed H×H product; low mode, the word holds two signed (H/2)-bit
                       values (element 0 in the low half) and the PE adds both products
                       (:func:`hwgen.golden.dpmac.dualprec_contrib`, independent operands):
                       two MACs per PE per clock. (2H+16)-bit wrapping accumulator.
                       ``dpH:split`` computes the same with four (H/2+1)-bit sub-multipliers
                       instead of one packed (3H/2+2)-bit multiplier per PE (fewer LUTs when
                       multipliers are built from logic; see ``DualPrecisionMac``).
``ternary[A]``         ternary weights (2-bit codes of :mod:`hwgen.golden.tmac`) × A-bit
                       signed activations (default 8), (A+18)-bit accumulator.
``mx:E[:EB]``          OCP MX v1.0 blocks (:mod:`hwgen.golden.mx`): activations of element
                       format E, weights of EB (default E), each of ``e4m3 e5m2 e3m2 e2m3
                       e2m1 int8``, 32-element blocks along K sharing an E8M0 scale. Each
                       output is :func:`hwgen.golden.mx.mx_dot` of its row and column: the
                       block's products summed exactly, scaled, added to an FP32 running sum
                       with one rounding (to nearest even) per block. An operand word is the
                       element code with the block's E8M0 code above it
                       (:func:`hwgen.golden.mx.mx_pack_words`). Output-stationary arrays only.
=====================  ==========================================================================

Float PEs round to nearest even.

The grammar in one line is :data:`PE_GRAMMAR` (the CLI's ``--pe`` help and every error
message quote it).
"""

import re
from dataclasses import dataclass
from typing import cast

from .formats import FloatFormat, IntFormat, parse_format

__all__ = ["PESpec", "parse_pe", "PE_GRAMMAR", "DATAFLOWS", "EXACT_MAX_TERMS",
           "MX_PE_ELEMENTS", "MX_PE_BLOCK",
           "exact_acc_bits", "bits_width", "WINDOW_DEFAULT", "WINDOW_BITS"]

DATAFLOWS = ("ws", "os")
EXACT_MAX_TERMS = 4096
#: ``F:window`` without ``L..M``: units of 2**-32, magnitudes below 2**16.
WINDOW_DEFAULT = (-32, 16)
#: Widths ``M - L`` a window may have (the register is one bit wider).
WINDOW_BITS = (4, 60)

PE_GRAMMAR = ("intN | uintN | F:ACC:rounded | F:ACC:fused | F:exact[:OUT] | "
              "F:window[L..M][:OUT] | bsWxA | "
              "dpH[:split] | "
              "ternary[A] | mx:E[:EB] (F, ACC, OUT float format names such as e4m3, fp16, "
              "bf16, fp32; E, EB MX element formats e4m3 e5m2 e3m2 e2m3 e2m1 int8)")


@dataclass(frozen=True)
class PESpec:
    """What one processing element computes (parsed from a spec string by :func:`parse_pe`).

    Attributes
    ----------
    spec : str
        Canonical spec string (``int8``, ``e4m3:fp16:rounded``, ``e4m3:exact:fp32``).
    kind : str
        ``"int"``, ``"float"``, ``"bitserial"``, ``"dualprec"``, ``"ternary"`` or ``"mx"``.
    a_fmt, w_fmt : IntFormat or FloatFormat
        Activation (A) and weight (B) operand formats; a ternary weight is a 2-bit code
        (``w_fmt`` is ``uint2``); dual-precision operands are H-bit words (``uintH``); MX
        operands are the element formats (``int8`` for MXINT8 elements).
    accumulate : str
        ``"wrap"`` (integer kinds), ``"rounded"``, ``"fused"``, ``"exact"``, ``"window"``
        or ``"mx"`` (per block: exact sum, scaled, one FP32 rounding).
    acc_fmt : IntFormat or FloatFormat or None
        Format of the running sum (``None`` for exact: a Kulisch integer of ``acc_bits``).
    out_fmt : IntFormat or FloatFormat
        Format of the results.
    acc_bits : int
        Width of the running sum (integer register, float encoding or Kulisch register).
    max_terms : int or None
        Exact PEs: products the Kulisch register holds without wrapping.
    window : (int, int) or None
        Windowed PEs: ``(L, M)``, the register's LSB and magnitude-limit exponents.
    """
    spec: str
    kind: str
    a_fmt: IntFormat | FloatFormat
    w_fmt: IntFormat | FloatFormat
    accumulate: str
    acc_fmt: IntFormat | FloatFormat | None
    out_fmt: IntFormat | FloatFormat
    acc_bits: int
    max_terms: int | None = None
    window: tuple[int, int] | None = None

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def fixed_point(self) -> bool:
        """Exact and windowed PEs: the running sum is a signed fixed-point register of
        ``acc_bits`` (with NaN/+Inf/-Inf flags), rounded once at the read-out."""
        return self.accumulate in ("exact", "window")

    @property
    def fixed_lsb(self) -> int | None:
        """Fixed-point PEs: the register counts units of ``2**fixed_lsb``."""
        if self.accumulate == "window":
            return cast("tuple[int, int]", self.window)[0]
        return self.exact_lsb

    @property
    def exact_lsb(self) -> int | None:
        """Exact PEs: the Kulisch register counts units of ``2**exact_lsb``."""
        if self.accumulate != "exact":
            return None
        return exact_acc_bits(cast(FloatFormat, self.a_fmt), cast(int, self.max_terms),
                              cast(FloatFormat, self.w_fmt))[1]

    def __str__(self) -> str:
        return self.spec


def _bad(spec: object, why: str = "") -> ValueError:
    return ValueError(f"Invalid PE spec {spec!r}{': ' + why if why else ''}; expected "
                      f"{PE_GRAMMAR}")


def _float(spec: object, name: str) -> FloatFormat:
    try:
        f = parse_format(name)
    except (TypeError, ValueError):
        raise _bad(spec, f"unknown format {name!r}") from None
    if not isinstance(f, FloatFormat):
        raise _bad(spec, f"{name!r} is not a float format")
    return f


def parse_pe(spec: PESpec | str) -> PESpec:
    """Parse a PE spec string (see the module docstring) into a :class:`PESpec`.

    A :class:`PESpec` is returned as is.

    Raises
    ------
    TypeError
        ``spec`` is not a string.
    ValueError
        The string does not follow the grammar; the message names it and gives the grammar.
    """
    acc: IntFormat | FloatFormat
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
    if parts[0] == "mx":
        return _parse_mx(spec, parts[1:])
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
    m = re.fullmatch(r"window(?:(-?\d+)\.\.(-?\d+))?", parts[1]) if len(parts) > 1 else None
    if len(parts) in (2, 3) and m:
        f = _float(spec, parts[0])
        out = _float(spec, parts[2]) if len(parts) == 3 else parse_format("fp32")
        lsb, msb = (int(m.group(1)), int(m.group(2))) if m.group(1) else WINDOW_DEFAULT
        lo, hi = WINDOW_BITS
        if not lo <= msb - lsb <= hi:
            raise _bad(spec, f"a window L..M needs L < M and M - L between {lo} and {hi}, "
                             f"not {lsb}..{msb}")
        return PESpec(f"{f.name}:window{lsb}..{msb}:{out.name}", "float", f, f, "window", None,
                      out, msb - lsb + 1, None, (lsb, msb))
    raise _bad(spec)


#: Element formats of ``mx:`` PEs and of the MX golden model (:data:`hwgen.golden.mx.MX_ELEMENTS`
#: is this tuple).
MX_PE_ELEMENTS = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8")
#: Elements per MX block (OCP MX v1.0: 32).
MX_PE_BLOCK = 32


def _parse_mx(spec: object, names: list[str]) -> PESpec:
    if not 1 <= len(names) <= 2 or any(n not in MX_PE_ELEMENTS for n in names):
        bad = [n for n in names if n not in MX_PE_ELEMENTS]
        why = (f"MX element format {bad[0]!r} is not one of {', '.join(MX_PE_ELEMENTS)}"
               if bad and len(names) <= 2 else "mx takes one or two element formats")
        raise _bad(spec, why)
    a = parse_format(names[0])
    w = parse_format(names[-1])
    fp32 = parse_format("fp32")
    canon = f"mx:{names[0]}" if names[0] == names[-1] else f"mx:{names[0]}:{names[1]}"
    return PESpec(canon, "mx", a, w, "mx", fp32, fp32, 32)


def exact_acc_bits(mul_fmt: FloatFormat | str, max_terms: int,
                   b_fmt: FloatFormat | str | None = None) -> tuple[int, int]:
    """Width of the Kulisch accumulator that holds any sum of ``max_terms`` products exactly.

    Returns ``(width, lsb_exp)``: the accumulator counts units of ``2**lsb_exp``.
    """
    fa = cast(FloatFormat, parse_format(mul_fmt))
    fb = fa if b_fmt is None else cast(FloatFormat, parse_format(b_fmt))
    if not isinstance(max_terms, int) or isinstance(max_terms, bool) or max_terms < 1:
        raise ValueError(f"Maximum number of terms must be a positive integer, not {max_terms!r}")
    lsb = (fa.emin - fa.man_bits) + (fb.emin - fb.man_bits)
    top = (fa.emax + 1) + (fb.emax + 1)       # every product is below 2**top
    growth = (max_terms - 1).bit_length()     # ceil(log2(max_terms))
    return (top - lsb) + growth + 1, lsb


def bits_width(pe: PESpec | str) -> int:
    """Width of the run-time ``bits`` field of a bit-serial PE (``W.bit_length()``)."""
    return cast(IntFormat, parse_pe(pe).w_fmt).bits.bit_length()
